// secureboot: Authenticode hashing throughput on a large PE (a 256 MiB UKI: systemd's stub plus a
// random .initrd, and the Debian kernel when the boot lab has fetched it) next to `sha256sum` of
// the same file in the same run; then whole-image verification next to `sbverify`.
// Page cache is warm, files are read by both sides, so figures compare hashing plus reading.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { appendSections, authenticodeHash, encodeSignatureDatabase, parseSignatureDatabase, signImage, verifyImage } from '../src/secureboot/index.ts';
import { findTool } from '../test/helpers/peers.ts';
import { fmt, timeCommand, timeOnce } from './measure.ts';

const stubPath = '/usr/lib/systemd/boot/efi/linuxx64.efi.stub';
const kernelPath = '/var/cache/vouch-bootlab/vmlinuz';
const initrdSize = 256 << 20;

async function best(repeat: number, fn: () => unknown): Promise<number> {
  let t = Infinity;
  for (let i = 0; i < repeat; i++) t = Math.min(t, await timeOnce(fn));
  return t;
}

async function compareWithSha256sum(label: string, file: string): Promise<void> {
  const size = readFileSync(file).length;
  const mib = size / (1 << 20);
  const sha256sum = findTool('sha256sum');
  const peer = sha256sum ? timeCommand(sha256sum, [file], 3) : undefined;
  const readAndHash = await best(3, async () => authenticodeHash(new Uint8Array(await readFile(file))));
  const bytes = new Uint8Array(await readFile(file));
  const hashOnly = await best(3, () => authenticodeHash(bytes));
  console.log(`Authenticode sha256 of ${label} (${fmt(mib, 1)} MiB, best of 3, warm cache):`);
  if (peer) console.log(`  sha256sum (whole file)        ${fmt(peer, 3)} s  ${fmt(mib / peer, 0)} MiB/s`);
  else console.log('  sha256sum: not installed');
  console.log(
    `  vouch, read + hash            ${fmt(readAndHash, 3)} s  ${fmt(mib / readAndHash, 0)} MiB/s${peer ? `  ${fmt(peer / readAndHash, 2)}x sha256sum` : ''}`,
  );
  console.log(`  vouch, hash (file in memory)  ${fmt(hashOnly, 3)} s  ${fmt(mib / hashOnly, 0)} MiB/s${peer ? `  ${fmt(peer / hashOnly, 2)}x sha256sum` : ''}`);
}

export async function run(): Promise<void> {
  if (!existsSync(stubPath)) {
    console.log(`${stubPath} missing (apt-get install systemd-boot-efi): skipped`);
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), 'vouch-bench-secureboot-'));
  try {
    const uki = appendSections(new Uint8Array(readFileSync(stubPath)), [
      { name: '.osrel', data: new TextEncoder().encode('ID=bench\n') },
      { name: '.initrd', data: new Uint8Array(randomBytes(initrdSize)) },
    ]);
    const ukiPath = join(dir, 'uki.efi');
    await writeFile(ukiPath, uki);
    await compareWithSha256sum('a 256 MiB UKI', ukiPath);
    if (existsSync(kernelPath)) await compareWithSha256sum('the Debian signed kernel', kernelPath);

    const openssl = findTool('openssl');
    const sbverify = findTool('sbverify');
    if (!openssl || !sbverify) return;
    const key = join(dir, 'db.key');
    const cert = join(dir, 'db.crt');
    spawnSync(openssl, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-subj', '/CN=bench', '-days', '30'], {
      stdio: 'ignore',
    });
    const signed = signImage(uki, { certificate: readFileSync(cert, 'utf8'), privateKey: readFileSync(key, 'utf8') });
    const signedPath = join(dir, 'uki.signed.efi');
    await writeFile(signedPath, signed);
    const db = parseSignatureDatabase(
      encodeSignatureDatabase([
        {
          type: 'x509',
          signatures: [
            { owner: '00000000-0000-0000-0000-000000000000', data: new Uint8Array(spawnSync(openssl, ['x509', '-in', cert, '-outform', 'DER']).stdout) },
          ],
        },
      ]),
    );
    const peer = timeCommand(sbverify, ['--cert', cert, signedPath], 3);
    const ours = await best(3, async () => {
      if (!verifyImage(new Uint8Array(await readFile(signedPath)), { db }).verified) throw new Error('bench image does not verify');
    });
    console.log('Secure Boot verification of the signed 256 MiB UKI (read + hash + PKCS#7 + chain, best of 3):');
    if (peer) console.log(`  sbverify                      ${fmt(peer, 3)} s`);
    console.log(`  vouch verifyImage             ${fmt(ours, 3)} s${peer ? `  ${fmt(peer / ours, 2)}x sbverify` : ''}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
