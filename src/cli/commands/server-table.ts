import type { Command } from '../command.ts';

// The commands of the attestation server and its operators. They need the server's modules (the
// store's database drivers, the HSM's native addon), so they live in this table of their own, which
// ./index.ts adds for bin/vouch.js and the single executable leaves out. Types only are imported
// here; each implementation loads when its command runs.

const demo = () => import('./demo.ts');
const serve = () => import('./serve.ts');

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
];
