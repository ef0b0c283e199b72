// secureboot: Authenticode hashing throughput on a large PE (a 256 MiB UKI: systemd's stub plus a
// random .initrd, and the Debian kernel when the boot lab has fetched it) next to `sha256sum` of
// the same file in the same run; then whole-image verification next to `sbverify`; then a hostile
// image (96 sections over one 32 MiB region, issue 7) refused by the hash bound, next to sbverify.
// Page cache is warm, files are read by both sides, so figures compare hashing plus reading.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isVouchError } from '../src/errors/index.ts';
import { appendSections, authenticodeHash, encodeSignatureDatabase, parseSignatureDatabase, signImage, verifyImage } from '../src/secureboot/index.ts';
import { findTool } from '../test/helpers/peers.ts';
import { overlappingSectionsPe } from '../test/secureboot/fixtures.ts';
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

/** Wall seconds and peak RSS (MiB) of a command, through GNU time; undefined when either is missing or the command fails. */
function timeAndPeak(cmd: string, args: readonly string[]): { seconds: number; peakMiB: number } | undefined {
  if (!existsSync('/usr/bin/time')) return undefined;
  const r = spawnSync('/usr/bin/time', ['-f', '%e %M', cmd, ...args], { encoding: 'utf8' });
  const m = /([0-9.]+) ([0-9]+)\s*$/.exec(r.stderr);
  return r.status === 0 && m ? { seconds: Number(m[1]), peakMiB: Number(m[2]) / 1024 } : undefined;
}

/** The hostile image's one raw region: 96 section headers over it make firmware-style hashing cover 3 GiB. */
const overlapRegion = 32 << 20;

/**
 * The hostile layout of issue 7: firmware-style hashing would cover 96 × the region. Vouch refuses it
 * from the section table (ERR_SECUREBOOT_PE_HASH_TOO_LARGE) before hashing; sbverify checks the
 * sbsign signature of the same file (it warns that the hashed areas exceed the image and goes on).
 */
async function hostileOverlap(dir: string, key: string, cert: string, sbsign: string, sbverify: string): Promise<void> {
  const image = join(dir, 'overlap.efi');
  await writeFile(image, overlappingSectionsPe(96, overlapRegion));
  const signed = join(dir, 'overlap.signed.efi');
  spawnSync(sbsign, ['--key', key, '--cert', cert, '--output', signed, image], { stdio: 'ignore' });
  const peer = timeAndPeak(sbverify, ['--cert', cert, signed]);
  const refuse = async (): Promise<void> => {
    try {
      const bytes = await readFile(signed);
      verifyImage(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length), { db: [] });
    } catch (e) {
      if (isVouchError(e) && e.code === 'ERR_SECUREBOOT_PE_HASH_TOO_LARGE') return;
      throw e;
    }
    throw new Error('the hostile image was not refused');
  };
  const ours = await best(3, refuse);
  // Peak RSS in a fresh process started by GNU time: a child forked from this one would inherit
  // this process's high-water mark (Linux keeps ru_maxrss across execve).
  const oursPeak = timeAndPeak(process.execPath, [
    '--input-type=module',
    '-e',
    `const { verifyImage } = await import(${JSON.stringify(new URL('../src/secureboot/index.ts', import.meta.url).href)});
     const bytes = (await import('node:fs')).readFileSync(${JSON.stringify(signed)});
     try { verifyImage(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length), { db: [] }); } catch {}`,
  ]);
  console.log(`Hostile PE: 96 sections over one ${overlapRegion >> 20} MiB region (hashing would cover ${(96 * overlapRegion) / 2 ** 30} GiB), best of 3:`);
  if (peer) console.log(`  sbverify (verifies it)        ${fmt(peer.seconds, 3)} s  peak RSS ${fmt(peer.peakMiB, 0)} MiB`);
  console.log(
    `  vouch verifyImage (refuses)   ${fmt(ours, 3)} s  peak RSS ${oursPeak ? fmt(oursPeak.peakMiB, 0) : '?'} MiB (Node and the file included)${peer ? `  ${fmt(peer.seconds / ours, 0)}x sbverify` : ''}`,
  );
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
    const sbsign = findTool('sbsign');
    if (sbsign) await hostileOverlap(dir, key, cert, sbsign, sbverify);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
