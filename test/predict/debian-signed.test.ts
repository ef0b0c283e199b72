// Debian's real signed boot chain (Microsoft-signed shim, Debian-signed GRUB and kernel) under
// OVMF's Microsoft keys: the predicted PCR 4 equals the one computed independently from the
// Authenticode digests each binary's own signature carries (read with `openssl asn1parse`), and
// the PCR 7 authority events carry the same certificates a real Debian 10 boot logged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseEventLog } from '../../src/eventlog/index.ts';
import { parseBootProfile, predict, profileArtifacts } from '../../src/predict/index.ts';
import { fileURLToPath } from 'node:url';
import { packageFile, peer, underCi } from '../helpers/peers.ts';
import { bootlabKernel } from '../helpers/bootlab.ts';

const SHIM = '/usr/lib/shim/shimx64.efi.signed';
const GRUB = '/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed';
const MS_VARS = '/usr/share/OVMF/OVMF_VARS_4M.ms.fd';
const root = fileURLToPath(new URL('../..', import.meta.url));

/** The boot lab's cached Debian kernel (signed by Debian), when it can be had. */
function debianKernel(): string | undefined {
  try {
    return bootlabKernel(root);
  } catch {
    return undefined;
  }
}

/** The PKCS#7 of a signed PE, located by hand from the PE headers (not with Vouch's parser). */
function embeddedSignature(pe: Buffer): Buffer {
  const peOffset = pe.readUInt32LE(0x3c);
  const magic = pe.readUInt16LE(peOffset + 24);
  const directories = peOffset + 24 + (magic === 0x20b ? 112 : 96);
  const offset = pe.readUInt32LE(directories + 4 * 8);
  const length = pe.readUInt32LE(offset);
  return pe.subarray(offset + 8, offset + length);
}

/** The image digest the signer signed: the first 32-byte OCTET STRING (SpcIndirectDataContent). */
async function signedSha256(openssl: string, dir: string, file: string): Promise<string> {
  const der = join(dir, `${file.replace(/\W/g, '_')}.p7`);
  await writeFile(der, embeddedSignature(await readFile(file)));
  const dump = execFileSync(openssl, ['asn1parse', '-inform', 'DER', '-in', der], { encoding: 'utf8' });
  const m = /l=\s*32 prim: OCTET STRING\s+\[HEX DUMP\]:([0-9A-F]{64})/.exec(dump);
  assert.ok(m, `no SHA-256 image digest in the signature of ${file}`);
  return m[1]!.toLowerCase();
}

function extend(pcr: Uint8Array, digest: Uint8Array): Buffer {
  return createHash('sha256').update(pcr).update(digest).digest();
}

test("Debian shim → GRUB → kernel: predicted PCR 4 equals the chain of the binaries' signed Authenticode digests; PCR 7 authorities are the real ones", async (t) => {
  const openssl = peer(t, 'openssl');
  if (!openssl) return;
  if (!packageFile(t, SHIM, 'shim-signed') || !packageFile(t, GRUB, 'grub-efi-amd64-signed') || !packageFile(t, MS_VARS, 'ovmf')) return;
  const KERNEL = debianKernel();
  if (!KERNEL) {
    const missing = 'no Debian kernel: scripts/bootlab-assets.sh could not fetch one';
    if (underCi()) throw new Error(missing);
    t.diagnostic(`${missing}; PCR 4 is checked over shim and GRUB only`);
  }
  const dir = await mkdtemp(join(tmpdir(), 'vouch-predict-debian-'));
  t.after(() => rm(dir, { recursive: true, force: true }));

  const profile = parseBootProfile({
    banks: ['sha1', 'sha256'],
    firmware: { variableStore: MS_VARS },
    chain: [
      // As Debian 10's shim (the real log below) did: its certificate logged as "Shim" (shim >= 15.3:
      // MokListRT) and no SbatLevel (shim >= 15.4).
      { kind: 'shim', image: SHIM, vendorCertAuthority: 'Shim', sbatLevel: { absent: true } },
      { kind: 'grub', image: GRUB, commands: [] },
      ...(KERNEL ? [{ kind: 'linux', image: KERNEL, cmdline: 'root=/dev/vda1 ro' }] : []),
    ],
  });
  const artifacts = new Map(await Promise.all(profileArtifacts(profile).map(async (f) => [f, new Uint8Array(await readFile(f))] as const)));
  const p = predict(profile, artifacts);

  // PCR 4, independently: "Calling EFI Application from Boot Option", separator, then each image's
  // Authenticode digest as its signer recorded it (the kernel twice: shim verifies and measures
  // it, then Debian's GRUB starts it with LoadImage and firmware measures it again).
  let pcr4: Buffer = Buffer.alloc(32);
  pcr4 = extend(pcr4, createHash('sha256').update('Calling EFI Application from Boot Option').digest());
  pcr4 = extend(pcr4, createHash('sha256').update(Buffer.alloc(4)).digest());
  for (const image of [SHIM, GRUB, ...(KERNEL ? [KERNEL, KERNEL] : [])]) pcr4 = extend(pcr4, Buffer.from(await signedSha256(openssl, dir, image), 'hex'));
  assert.equal(p.banks.sha256?.['4'], pcr4.toString('hex'));

  // PCR 7 authorities as a real Debian 10 boot on GCE logged them: shim authorized by the
  // Microsoft UEFI CA 2011 db certificate, GRUB (and the kernel: same CA, logged once) by the
  // Debian Secure Boot CA built into shim, as "Shim".
  const realLog = parseEventLog(new Uint8Array(await readFile('test/vectors/eventlogs/debian-10.bin')));
  const realAuthorities = realLog.events.filter((e) => e.typeName === 'EV_EFI_VARIABLE_AUTHORITY');
  const predicted = p.events.filter((e) => e.type === 'EV_EFI_VARIABLE_AUTHORITY');
  assert.deepEqual(
    predicted.map((e) => e.description.split(':')[0]),
    ['db', 'Shim'],
  );
  // "Shim": the same UEFI_VARIABLE_DATA structure (Debian 10's shim is one of the old builds
  // whose authority event carries trailing bytes after it and a digest that is not its hash).
  const realShim = realAuthorities.find((e) => Buffer.from(e.data).includes(Buffer.from('Shim', 'utf16le')))!;
  const predictedShim = Buffer.from(predicted[1]!.data!, 'hex');
  assert.ok(Buffer.from(realShim.data).subarray(0, predictedShim.length).equals(predictedShim), 'Shim authority differs from the real log');
  // "db": the same certificate (the owner GUID is whoever enrolled it: Google there, OVMF here).
  const realDbCert = Buffer.from(realAuthorities[0]!.data).subarray(16 + 8 + 8 + 4 + 16);
  const predictedDbCert = Buffer.from(predicted[0]!.data!, 'hex').subarray(16 + 8 + 8 + 4 + 16);
  assert.ok(realDbCert.equals(predictedDbCert), 'db authority certificate differs from the real log');
});
