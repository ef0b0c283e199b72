import type { Command } from '../command.ts';

// The commands of the attestation server and its operators. They need the server's modules (the
// store's database drivers, the HSM's native addon), so they live in this table of their own, which
// ./index.ts adds for bin/vouch.js and the single executable leaves out. Types only are imported
// here; each implementation loads when its command runs.

const demo = () => import('./demo.ts');
const serve = () => import('./serve.ts');
const admin = () => import('./admin.ts');
const audit = () => import('./audit.ts');
const policy = () => import('./policy.ts');

const connection = { server: { type: 'string' }, token: { type: 'string' } } as const;
const paging = { limit: { type: 'string' }, cursor: { type: 'string' } } as const;
const CONNECTION_USAGE = '[--server URL] [--token TOKEN]';

/** One `vouch admin …` row: a single admin API call (./admin.ts). */
function adminCommand(words: string, summary: string, usage: string, options: Command['options'] = {}, positionals = false): Command {
  const name = `admin ${words}`;
  return {
    path: name.split(' '),
    summary,
    usage: `${usage} ${CONNECTION_USAGE}`.trim(),
    options: { ...connection, ...options },
    positionals,
    load: () => admin().then((m) => m.handlers[name]!),
  };
}

export const serverCommands: readonly Command[] = [
  {
    path: ['demo'],
    summary: 'Run vouch serve and a simulated fleet against it over HTTP: releases v1/v2 imported, nodes enrolled, booted, attested, keys released',
    usage: '[--exit] [--fleet N (default 6)] [--seed S] [--data-dir DIR] [--stub linuxx64.efi.stub]',
    options: { exit: { type: 'boolean' }, fleet: { type: 'string' }, seed: { type: 'string' }, 'data-dir': { type: 'string' }, stub: { type: 'string' } },
    load: () => demo().then((m) => m.handlers['demo']),
  },
  {
    path: ['serve'],
    summary: 'Run the attestation server and key broker (enrollment, attestation, secrets release, admin API)',
    usage:
      '[--data-dir DIR | --database postgres://…] [--listen 127.0.0.1:8443] [--tls-cert PEM --tls-key PEM] [--master-key file:PATH|env:NAME|pkcs11:URI]... [--config FILE]',
    options: {
      'data-dir': { type: 'string' },
      database: { type: 'string' },
      listen: { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'master-key': { type: 'string', multiple: true },
      config: { type: 'string' },
    },
    load: () => serve().then((m) => m.handlers.serve),
  },
  adminCommand('nodes list', 'List nodes', '[--status S] [--search PREFIX] [--sort name|last-attestation|created] [--limit N] [--cursor C]', {
    status: { type: 'string' },
    search: { type: 'string' },
    sort: { type: 'string' },
    ...paging,
  }),
  adminCommand('nodes show', 'A node with its timeline and latest results', 'ID', {}, true),
  adminCommand('nodes approve', 'Approve a queued enrollment', 'ID [--reason TEXT]', { reason: { type: 'string' } }, true),
  adminCommand('nodes deny', 'Deny a queued enrollment', 'ID [--reason TEXT]', { reason: { type: 'string' } }, true),
  adminCommand('nodes revoke', 'Revoke a node: appraised, but released nothing', 'ID [--reason TEXT]', { reason: { type: 'string' } }, true),
  adminCommand('nodes unrevoke', 'Unrevoke a node', 'ID [--reason TEXT]', { reason: { type: 'string' } }, true),
  adminCommand('approvals', 'Enrollments waiting for approval', '[--limit N] [--cursor C]', paging),
  adminCommand('results list', 'Attestation results, newest first', '[--node ID] [--limit N] [--cursor C]', { node: { type: 'string' }, ...paging }),
  adminCommand('results show', 'A result with its verdict and EAR', 'ID', {}, true),
  adminCommand('results export', 'Write a result as a recorded attestation (for vouch policy test)', 'ID --out FILE', { out: { type: 'string' } }, true),
  adminCommand('policies list', 'Policy versions', '[--limit N] [--cursor C]', paging),
  adminCommand(
    'policies set',
    'Save a policy version (YAML or JSON)',
    'FILE [--description TEXT] [--activate]',
    { description: { type: 'string' }, activate: { type: 'boolean' } },
    true,
  ),
  adminCommand('policies activate', 'Make a policy version the active one', 'VERSION', {}, true),
  adminCommand(
    'policies dry-run',
    'Appraise recorded attestations again under a policy, storing nothing',
    '(FILE | --version N) [--node ID] [--limit N]',
    { version: { type: 'string' }, node: { type: 'string' }, limit: { type: 'string' } },
    true,
  ),
  adminCommand('reference-sets list', 'Releases and their newest reference set', '[--limit N] [--cursor C]', paging),
  adminCommand(
    'reference-sets import',
    'Import a release from `vouch predict --json` output',
    'NAME PREDICTION.json [--composefs DIGEST] [--activate]',
    { composefs: { type: 'string' }, activate: { type: 'boolean' } },
    true,
  ),
  adminCommand('reference-sets activate', 'Accept a version of a release (A/B: others stay accepted)', 'NAME VERSION', {}, true),
  adminCommand('reference-sets deactivate', 'Stop accepting a release', 'NAME', {}, true),
  adminCommand('audit list', 'The audit log, newest first', '[--subject ID] [--limit N] [--cursor C]', { subject: { type: 'string' }, ...paging }),
  adminCommand('tokens list', 'Admin tokens', '[--limit N] [--cursor C]', paging),
  adminCommand(
    'tokens create',
    'Create an admin token (printed once)',
    'NAME --role viewer|operator|admin [--expires-in SECONDS]',
    { role: { type: 'string' }, 'expires-in': { type: 'string' } },
    true,
  ),
  adminCommand('tokens revoke', 'Revoke an admin token', 'ID', {}, true),
  adminCommand('webhooks list', 'Webhooks', '[--limit N] [--cursor C]', paging),
  adminCommand(
    'webhooks create',
    'Subscribe a URL to node status changes (prints its signing key once)',
    'URL --events node.revoked,node.stale,…',
    { events: { type: 'string' } },
    true,
  ),
  adminCommand('secrets rotate', 'Rewrap every data key under the current master key', ''),
  adminCommand('secrets backup', 'Write an encrypted backup of every secret (passphrase from VOUCH_BACKUP_PASSPHRASE)', '--out FILE', {
    out: { type: 'string' },
  }),
  adminCommand('secrets restore', 'Restore an encrypted backup, all or nothing (passphrase from VOUCH_BACKUP_PASSPHRASE)', 'FILE', {}, true),
  adminCommand('secrets import-disk-key', "Import a node's existing LUKS key", 'ID KEYFILE', {}, true),
  {
    path: ['audit', 'verify'],
    summary: 'Check the audit log hash chain for edited, deleted or reordered entries (exit 3 if any)',
    usage: `[--data-dir DIR | --database postgres://… | ${CONNECTION_USAGE}] [--anchor SEQ:HASH]`,
    options: { ...connection, 'data-dir': { type: 'string' }, database: { type: 'string' }, anchor: { type: 'string' } },
    load: () => audit().then((m) => m.handlers['audit verify']),
  },
  {
    path: ['policy', 'test'],
    summary: 'Dry-run a policy offline against recorded attestations (exit 3 if any is not affirming)',
    usage: 'POLICY --evidence DIR',
    positionals: true,
    options: { evidence: { type: 'string' } },
    load: () => policy().then((m) => m.handlers['policy test']),
  },
];
