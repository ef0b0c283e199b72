import type { Command } from '../command.ts';

// The command table: what help and argument parsing need, and nothing else. Each command's
// implementation stays in its area's file (exported as `handlers`) and is imported only when that
// command runs, so `vouch --help` loads none of them and `vouch eventlog replay` loads the event
// log parser but not the TPM, composefs or prediction code. This file imports types only.
//
// These are the commands that need no server-side module: the single executable
// (scripts/build-executable.ts, entry src/cli/executable.ts) bundles this table and everything it
// loads, so a command that needs the server's modules (a database driver, an HSM's native addon)
// belongs in a table of its own that ./index.ts adds for bin/vouch.js.

const agent = () => import('./agent.ts');
const composefs = () => import('./composefs.ts');
const composefsImage = () => import('./composefs-image.ts');
const eventlog = () => import('./eventlog.ts');
const predict = () => import('./predict.ts');
const secureboot = () => import('./secureboot.ts');
const tpm = () => import('./tpm.ts');
const verify = () => import('./verify.ts');
const verifyEkcert = () => import('./verify-ekcert.ts');

const tpmOption = { tpm: { type: 'string' } } as const;

/** What every `vouch agent` command that talks to the server takes. */
const agentOptions = {
  server: { type: 'string' },
  'server-ca': { type: 'string' },
  tpm: { type: 'string' },
  eventlog: { type: 'string' },
  state: { type: 'string' },
  attempts: { type: 'string' },
  'backoff-base-ms': { type: 'string' },
  'backoff-cap-ms': { type: 'string' },
} as const;
const agentUsage =
  '[--server URL] [--server-ca PEM] [--tpm URI (device:/dev/tpmrm0)] [--eventlog FILE] [--state DIR (/var/lib/vouch/agent)] [--attempts N] [--backoff-base-ms MS] [--backoff-cap-ms MS]';
const retryOptions = {
  attempts: agentOptions.attempts,
  'backoff-base-ms': agentOptions['backoff-base-ms'],
  'backoff-cap-ms': agentOptions['backoff-cap-ms'],
} as const;

export const standaloneCommands: readonly Command[] = [
  {
    path: ['agent', 'enroll'],
    summary: 'Enroll this node with a Vouch server: AK under the SRK, EK (with its NV certificate), credential activation; state kept in --state',
    usage: `--server URL [--hostname NAME] ${agentUsage}`,
    options: { ...agentOptions, hostname: { type: 'string' } },
    load: () => agent().then((m) => m.handlers['agent enroll']),
  },
  {
    path: ['agent', 'attest'],
    summary: 'Attest this node once: quote bound to the challenge and an in-memory key, event log, the verdict (exit 3 refused, 7 revoked)',
    usage: agentUsage,
    options: agentOptions,
    load: () => agent().then((m) => m.handlers['agent attest']),
  },
  {
    path: ['agent', 'unlock'],
    summary:
      'Attest, then open a LUKS2 volume with the released key (cryptsetup, key on stdin); --test checks it; --format-if-blank formats a blank volume first',
    usage: `--luks DEVICE_OR_IMAGE (--name NAME | --test) [--format-if-blank] ${agentUsage}`,
    options: { ...agentOptions, luks: { type: 'string' }, name: { type: 'string' }, test: { type: 'boolean' }, 'format-if-blank': { type: 'boolean' } },
    load: () => agent().then((m) => m.handlers['agent unlock']),
  },
  {
    path: ['agent', 'status'],
    summary: "Show this node's state (node id, server, AK) and its last attestation result, verified with the server's keys when it answers",
    usage: `${agentUsage}   (--tpm and --eventlog are accepted and not used, so every agent command takes the same options)`,
    options: agentOptions,
    load: () => agent().then((m) => m.handlers['agent status']),
  },
  {
    path: ['agent', 'run'],
    summary: 'Attest on a schedule with jitter; back off after failures; say every refusal or revocation and keep to the schedule',
    usage: `[--interval SECONDS (300)] [--jitter FRACTION (0.1)] [--rounds N] ${agentUsage}`,
    options: { ...agentOptions, interval: { type: 'string' }, jitter: { type: 'string' }, rounds: { type: 'string' } },
    load: () => agent().then((m) => m.handlers['agent run']),
  },
  {
    path: ['agent', 'clevis-encrypt'],
    summary: 'The clevis pin "vouch" (clevis-encrypt-vouch): attest, then encrypt standard input to a JWE under a key derived from the released disk key',
    usage: `CONFIG [-y] < PLAINTEXT > JWE   (CONFIG: {"url": …, "ca"?: PEM or file, "tpm"?: URI, "state"?: DIR, "eventlog"?: FILE})`,
    positionals: true,
    options: { ...retryOptions, yes: { type: 'boolean', short: 'y' } },
    load: () => agent().then((m) => m.handlers['agent clevis-encrypt']),
  },
  {
    path: ['agent', 'clevis-decrypt'],
    summary: 'The clevis pin "vouch" (clevis-decrypt-vouch): attest as the JWE header says, then decrypt standard input',
    usage: '< JWE > PLAINTEXT',
    options: retryOptions,
    load: () => agent().then((m) => m.handlers['agent clevis-decrypt']),
  },
  {
    path: ['composefs', 'digest'],
    summary: 'Print the fs-verity digest of each file, as `fsverity digest` does',
    usage: 'FILE... [--hash sha256|sha512] [--block-size N] [--salt HEX] [--workers N]',
    positionals: true,
    options: { hash: { type: 'string' }, 'block-size': { type: 'string' }, salt: { type: 'string' }, workers: { type: 'string' } },
    load: () => composefs().then((m) => m.handlers['composefs digest']),
  },
  {
    path: ['composefs', 'store', 'add'],
    summary: 'Copy files into a composefs object store (objects/XX/<digest>), deduplicated',
    usage: '--store DIR FILE...',
    positionals: true,
    options: { store: { type: 'string' } },
    load: () => composefs().then((m) => m.handlers['composefs store add']),
  },
  {
    path: ['composefs', 'store', 'fsck'],
    summary: 'Recompute every object digest; list corrupt objects, strays and stale temp files (exit 3 if any)',
    usage: '--store DIR',
    options: { store: { type: 'string' } },
    load: () => composefs().then((m) => m.handlers['composefs store fsck']),
  },
  {
    path: ['composefs', 'store', 'gc'],
    summary: 'Delete objects no listed image or dump references (and temp files of dead writers)',
    usage: '--store DIR IMAGE_OR_DUMP...',
    positionals: true,
    options: { store: { type: 'string' } },
    load: () => composefs().then((m) => m.handlers['composefs store gc']),
  },
  {
    path: ['composefs', 'build'],
    summary: 'Build a composefs tree from a directory, an OCI image layout or tar layers; store the files, write the dump and image',
    usage:
      '(DIR | --oci LAYOUT [--ref NAME] | --tar LAYER...) --store DIR [--dump OUT] [--out IMAGE] [--skip-xattrs] [--user-xattrs] [--skip-devices] [--use-epoch] [--hardlinks]',
    positionals: true,
    options: {
      store: { type: 'string' },
      oci: { type: 'string' },
      ref: { type: 'string' },
      tar: { type: 'string', multiple: true },
      dump: { type: 'string' },
      out: { type: 'string' },
      'skip-xattrs': { type: 'boolean' },
      'user-xattrs': { type: 'boolean' },
      'skip-devices': { type: 'boolean' },
      'use-epoch': { type: 'boolean' },
      hardlinks: { type: 'boolean' },
    },
    load: () => composefs().then((m) => m.handlers['composefs build']),
  },
  {
    path: ['composefs', 'verify'],
    summary: 'Check every object an image (or dump) references against the store, and optionally a file tree against the image (exit 3 on any difference)',
    usage: 'IMAGE_OR_DUMP --store DIR [--root MOUNTPOINT_OR_TREE] [--ignore FIELD]...',
    positionals: true,
    options: { store: { type: 'string' }, root: { type: 'string' }, ignore: { type: 'string', multiple: true } },
    load: () => composefs().then((m) => m.handlers['composefs verify']),
  },
  {
    path: ['composefs', 'mkimage'],
    summary: 'Write the composefs EROFS image of a dump file or directory (byte-identical to mkcomposefs) and print its fs-verity digest',
    usage: 'DUMP|DIR --out IMAGE [--min-version N] [--max-version N] [--store DIR] [--hardlinks]',
    positionals: true,
    options: {
      out: { type: 'string' },
      'min-version': { type: 'string' },
      'max-version': { type: 'string' },
      store: { type: 'string' },
      hardlinks: { type: 'boolean' },
    },
    load: () => composefsImage().then((m) => m.handlers['composefs mkimage']),
  },
  {
    path: ['composefs', 'dump'],
    summary: 'Print a composefs EROFS image as a dump file (composefs-dump(5)); its fs-verity digest goes to stderr',
    usage: 'IMAGE',
    positionals: true,
    load: () => composefsImage().then((m) => m.handlers['composefs dump']),
  },
  {
    path: ['eventlog', 'show'],
    summary: 'Show every event of a TCG event log, decoded, with findings and digest checks',
    usage: 'FILE [--pcr N] [--json]',
    positionals: true,
    options: { pcr: { type: 'string' } },
    load: () => eventlog().then((m) => m.handlers['eventlog show']),
  },
  {
    path: ['eventlog', 'replay'],
    summary: 'Replay a TCG event log to PCR values per bank; with --expect, compare PCR by PCR (exit 3 on mismatch)',
    usage: 'FILE [--bank sha256] [--expect PCRS.json] [--json]',
    positionals: true,
    options: { bank: { type: 'string' }, expect: { type: 'string' } },
    load: () => eventlog().then((m) => m.handlers['eventlog replay']),
  },
  {
    path: ['uki', 'build'],
    summary: 'Build a unified kernel image from systemd-stub, a kernel, an initrd and a command line; sign it with --key/--cert',
    usage:
      '--linux FILE --out FILE [--initrd FILE] [--cmdline TEXT] [--osrel FILE] [--uname TEXT] [--stub FILE] [--pcrpkey PEM [--pcrsig FILE]] [--key PEM --cert PEM]',
    options: {
      stub: { type: 'string' },
      linux: { type: 'string' },
      initrd: { type: 'string' },
      cmdline: { type: 'string' },
      osrel: { type: 'string' },
      uname: { type: 'string' },
      out: { type: 'string' },
      key: { type: 'string' },
      cert: { type: 'string' },
      pcrpkey: { type: 'string' },
      pcrsig: { type: 'string' },
    },
    load: () => predict().then((m) => m.handlers['uki build']),
  },
  {
    path: ['predict'],
    summary: 'Predict PCR values and the event list of a boot from a boot profile (several profiles: A/B reference sets; --match-log: which one a log matches)',
    usage:
      'PROFILE... [--bank sha256] [--pcrs 4,7,11] [--log-out FILE] [--match-log FILE] [--sign-policy KEY [--pcrsig-out FILE] [--policy-pcrs 11] [--policy-counter N]]',
    positionals: true,
    options: {
      bank: { type: 'string' },
      pcrs: { type: 'string' },
      'log-out': { type: 'string' },
      'match-log': { type: 'string' },
      'sign-policy': { type: 'string' },
      'pcrsig-out': { type: 'string' },
      'policy-pcrs': { type: 'string' },
      'policy-counter': { type: 'string' },
    },
    load: () => predict().then((m) => m.handlers['predict']),
  },
  {
    path: ['secureboot', 'verify'],
    summary: 'Decide as UEFI firmware would whether db/dbx allow a PE image to run (exit 3 when not)',
    usage: 'BINARY --db FILE... [--dbx FILE...]   (FILE: .esl, efivarfs dump, .auth, or an X.509 .crt/.der)',
    positionals: true,
    options: { db: { type: 'string', multiple: true }, dbx: { type: 'string', multiple: true } },
    load: () => secureboot().then((m) => m.handlers['secureboot verify']),
  },
  {
    path: ['secureboot', 'db', 'show'],
    summary: 'List the entries of a signature database (PK/KEK/db/dbx/MokList: .esl, efivarfs, .auth)',
    usage: 'FILE',
    positionals: true,
    load: () => secureboot().then((m) => m.handlers['secureboot db show']),
  },
  {
    path: ['pe', 'hash'],
    summary: 'Print the Authenticode hash of a PE image as UEFI computes it (what PCR 4 and db/dbx use)',
    usage: 'BINARY [--alg sha256|sha1|sha384|sha512|sha224]',
    positionals: true,
    options: { alg: { type: 'string' } },
    load: () => secureboot().then((m) => m.handlers['pe hash']),
  },
  {
    path: ['pe', 'show'],
    summary: 'Show a PE image: headers, sections, signatures and signers, .sbat',
    usage: 'BINARY',
    positionals: true,
    load: () => secureboot().then((m) => m.handlers['pe show']),
  },
  {
    path: ['pe', 'sign'],
    summary: 'Sign a PE image with Authenticode (PKCS#7, as sbsign), replacing or adding a signature',
    usage: '--key KEY.pem --cert CERT.pem --output FILE BINARY [--append] [--alg sha256|sha384|sha512|sha1]',
    positionals: true,
    options: { key: { type: 'string' }, cert: { type: 'string' }, output: { type: 'string' }, append: { type: 'boolean' }, alg: { type: 'string' } },
    load: () => secureboot().then((m) => m.handlers['pe sign']),
  },
  {
    path: ['tpm', 'info'],
    summary: 'Show the TPM: manufacturer, firmware, PCR banks, algorithms',
    usage: '[--tpm URI]',
    options: tpmOption,
    load: () => tpm().then((m) => m.handlers['tpm info']),
  },
  {
    path: ['tpm', 'pcrread'],
    summary: 'Read PCR values (default: every allocated bank, PCRs 0-23)',
    usage: '[--tpm URI] [--pcrs sha256:0,1,2+sha1:all]',
    options: { ...tpmOption, pcrs: { type: 'string' } },
    load: () => tpm().then((m) => m.handlers['tpm pcrread']),
  },
  {
    path: ['tpm', 'extend'],
    summary: 'Extend a PCR: with the digest of --data in every allocated bank, or with explicit --digest ALG:HEX',
    usage: '[--tpm URI] --pcr N (--data TEXT | --digest sha256:HEX ...)',
    options: { ...tpmOption, pcr: { type: 'string' }, data: { type: 'string' }, digest: { type: 'string', multiple: true } },
    load: () => tpm().then((m) => m.handlers['tpm extend']),
  },
  {
    path: ['tpm', 'ak', 'create'],
    summary: 'Create an attestation key under the SRK; writes DIR/ak.pub.pem, ak.pub, ak.priv, ak.name, ak.json',
    usage: '[--tpm URI] --out DIR [--alg rsa|ecc] [--scheme rsassa|rsapss|ecdsa]',
    options: { ...tpmOption, out: { type: 'string' }, alg: { type: 'string' }, scheme: { type: 'string' } },
    load: () => tpm().then((m) => m.handlers['tpm ak create']),
  },
  {
    path: ['tpm', 'quote'],
    summary: 'Quote PCRs with an AK made by `vouch tpm ak create`; writes QDIR/quote.msg, quote.sig, quote.pcrs (tpm2_checkquote formats)',
    usage: '[--tpm URI] --ak DIR --nonce HEX [--pcrs sha256:0,1,...,7 (default sha256:all)] --out QDIR',
    options: { ...tpmOption, ak: { type: 'string' }, nonce: { type: 'string' }, pcrs: { type: 'string' }, out: { type: 'string' } },
    load: () => tpm().then((m) => m.handlers['tpm quote']),
  },
  {
    path: ['verify', 'quote'],
    summary: 'Verify a TPM quote (tpm2_quote or vouch tpm quote output) against an AK, a nonce and PCR values; optionally replay an event log against it',
    usage: [
      '--ak FILE|AKDIR --msg FILE --sig FILE --pcrs FILE (--nonce HEX | --no-nonce) [--pcr-list LIST] [--eventlog FILE] [--allow-sha1]',
      '',
      '  --ak        TPM2B_PUBLIC (tpm2_create -u, vouch tpm ak create), bare TPMT_PUBLIC, or PEM/DER',
      '              SubjectPublicKeyInfo (tpm2_readpublic -f pem|der: attributes then go unchecked); a',
      '              directory made by `vouch tpm ak create` means its ak.pub',
      '  --msg       TPMS_ATTEST (tpm2_quote -m)          --sig  TPMT_SIGNATURE (tpm2_quote -s, tss format)',
      '  --pcrs      tpm2-tools serialized PCR file (tpm2_quote -o), whose own selection must be the',
      "              quote's (and --pcr-list's when given); or raw digests (tpm2_pcrread -o) with --pcr-list",
      '  --pcr-list  PCR list in tpm2-tools syntax, e.g. sha256:0,1,2-7+sha1:all: what the quote must cover',
      '  --nonce     expected qualifying data (hex); --no-nonce for a quote made without (no freshness)',
      '  --eventlog  binary_bios_measurements to replay against the quoted PCRs (exit 3 if it does not)',
      '  --allow-sha1 accept a quote signed with SHA-1 (default: sha256, sha384, sha512)',
    ].join('\n'),
    options: {
      ak: { type: 'string' },
      msg: { type: 'string' },
      sig: { type: 'string' },
      pcrs: { type: 'string' },
      'pcr-list': { type: 'string' },
      nonce: { type: 'string' },
      'no-nonce': { type: 'boolean' },
      eventlog: { type: 'string' },
      'allow-sha1': { type: 'boolean' },
    },
    load: () => verify().then((m) => m.handlers['verify quote']),
  },
  {
    path: ['verify', 'ekcert'],
    summary: 'Validate an EK certificate (or, with --ak, a cloud AK certificate): chain to the roots, TCG profile, this exact key (exit 3 when not valid)',
    usage: 'CERT --root PEM... [--intermediate PEM...] [--ek TPM2B_PUBLIC|PEM | --ak TPM2B_PUBLIC|PEM] [--at ISO8601]',
    positionals: true,
    options: {
      root: { type: 'string', multiple: true },
      intermediate: { type: 'string', multiple: true },
      ek: { type: 'string' },
      ak: { type: 'string' },
      at: { type: 'string' },
    },
    load: () => verifyEkcert().then((m) => m.handlers['verify ekcert']),
  },
];
