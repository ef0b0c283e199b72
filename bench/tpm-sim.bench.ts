// The software TPM (sim:) next to swtpm, the real peer, measured in the same run over the same
// client: operations per second of what a simulated fleet does most (power-on, EK/SRK derivation,
// AK creation, quotes), single-threaded. swtpm runs as a child process over an inherited socketpair.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { Tpm } from '../src/tpm/client.ts';
import { TPM_ALG, TPM_RH } from '../src/tpm/constants.ts';
import { createSimulator } from '../src/tpm/sim/index.ts';
import { srkTemplate } from '../src/tpm/templates.ts';
import { rawStreamTransport, SwtpmControl } from '../src/tpm/transport/swtpm.ts';
import { findTool } from '../test/helpers/peers.ts';
import { fmt, opsPerSecond } from './measure.ts';

const ALL_PCRS = [{ hash: TPM_ALG.SHA256, pcrs: Array.from({ length: 24 }, (_, i) => i) }];

interface Figures {
  createPrimaryEcc: number;
  createPrimaryRsa: number;
  createAkEcc: number;
  quoteEcdsa: number;
  quoteRsassa: number;
}

async function measure(tpm: Tpm): Promise<Figures> {
  const nonce = new Uint8Array(32);
  const createPrimaryEcc = await opsPerSecond(async () => (await tpm.createPrimary(TPM_RH.OWNER, srkTemplate('ecc'))).flush());
  const createPrimaryRsa = await opsPerSecond(async () => (await tpm.createPrimary(TPM_RH.OWNER, srkTemplate('rsa'))).flush());
  const srk = await tpm.createSRK('ecc');
  const createAkEcc = await opsPerSecond(() => tpm.createAK(srk, 'ecc').then((ak) => ak.key.flush()));
  const ecdsa = await tpm.createAK(srk, 'ecc');
  const quoteEcdsa = await opsPerSecond(() => tpm.quote(ecdsa.key.ref, nonce, ALL_PCRS));
  await ecdsa.key.flush();
  const rsa = await tpm.createAK(srk, 'rsa', 'rsassa');
  const quoteRsassa = await opsPerSecond(() => tpm.quote(rsa.key.ref, nonce, ALL_PCRS));
  await rsa.key.flush();
  await srk.flush();
  return { createPrimaryEcc, createPrimaryRsa, createAkEcc, quoteEcdsa, quoteRsassa };
}

async function withSwtpm<T>(fn: (tpm: Tpm) => Promise<T>): Promise<T | undefined> {
  if (!findTool('swtpm')) return undefined;
  const dir = await mkdtemp(join(tmpdir(), 'vouch-bench-swtpm-'));
  const child = spawn(
    'swtpm',
    ['socket', '--tpm2', '--tpmstate', `dir=${dir}`, '--flags', 'not-need-init,startup-clear', '--server', 'type=tcp,fd=3', '--ctrl', 'type=unixio,clientfd=4'],
    {
      stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'],
    },
  );
  const control = new SwtpmControl(child.stdio[4] as Duplex);
  const tpm = new Tpm(rawStreamTransport(child.stdio[3] as Duplex, 'swtpm (bench)', () => control.close()));
  try {
    return await fn(tpm);
  } finally {
    await tpm.close().catch(() => undefined);
    child.kill();
    await rm(dir, { recursive: true, force: true });
  }
}

export async function run(): Promise<void> {
  const boot = await opsPerSecond(async () => (await createSimulator({})).close());
  // A fresh TPM's first RSA primary: the deterministic prime search from the seed (later ones are cached).
  const rsaDerivation = await opsPerSecond(async () => {
    const fresh = new Tpm(await createSimulator({}));
    await (await fresh.createSRK('rsa')).flush();
    await fresh.close();
  }, 3);
  const sim = new Tpm(await createSimulator({ seed: 'bench' }));
  const simFigures = await measure(sim);
  await sim.close();
  const peer = await withSwtpm(measure);
  console.log(`sim: power-on (fresh seeds, Startup) ${fmt(boot)} /s`);
  // swtpm searches primes for every RSA CreatePrimary; the sim only for a primary it has not derived before.
  const swtpmRsa = peer?.createPrimaryRsa;
  console.log(
    `first RSA-2048 primary of a fresh TPM (prime search from the seed): sim ${fmt(rsaDerivation)} /s${swtpmRsa ? `, swtpm CreatePrimary RSA-2048 ${fmt(swtpmRsa)} /s, ratio ${fmt(rsaDerivation / swtpmRsa, 2)}x` : ''}`,
  );
  const rows: [string, keyof Figures][] = [
    ['CreatePrimary ECC P-256 SRK (+flush)', 'createPrimaryEcc'],
    ['CreatePrimary RSA-2048 SRK (+flush; sim: cached derivation)', 'createPrimaryRsa'],
    ['Create + Load ECC AK (+flush)', 'createAkEcc'],
    ['Quote ECDSA P-256, 24 PCRs', 'quoteEcdsa'],
    ['Quote RSASSA-2048, 24 PCRs', 'quoteRsassa'],
  ];
  for (const [label, key] of rows) {
    const s = simFigures[key];
    const p = peer?.[key];
    console.log(`${label}: sim ${fmt(s)} /s${p ? `, swtpm ${fmt(p)} /s, ratio ${fmt(s / p, 2)}x` : ', swtpm not installed'}`);
  }
}
