// `vouch secureboot verify|db show` and `vouch pe hash|show|sign`, run in-process with injected streams.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { toHex } from '../../src/bytes/index.ts';
import { authenticodeHash, encodeSignatureDatabase, parsePe, shimVendorCertificates } from '../../src/secureboot/index.ts';
import { vouch } from '../eventlog/helpers.ts';
import type { JsonError, JsonResult } from '../helpers/cli.ts';
import { peer } from '../helpers/peers.ts';
import { bytesOf, readReal, realBinaries, run, syntheticPe, tempDir } from './fixtures.ts';

test('pe hash: sha256 by default, --alg sha1, JSON form', async (t) => {
  const bytes = readReal(t, realBinaries.grub);
  if (!bytes) return;
  const plain = await vouch(['pe', 'hash', realBinaries.grub]);
  assert.equal(plain.code, 0);
  assert.equal(plain.stdout, `${toHex(authenticodeHash(bytes))}  ${realBinaries.grub}\n`);
  const json = JSON.parse((await vouch(['pe', 'hash', realBinaries.grub, '--alg', 'sha1', '--json'])).stdout) as unknown;
  assert.deepEqual(json, {
    result: { file: realBinaries.grub, algorithm: 'sha1', digest: toHex(authenticodeHash(bytes, 'sha1')), format: 'PE32+', findings: [] },
    error: null,
  });
  assert.equal((await vouch(['pe', 'hash', realBinaries.grub, '--alg', 'md5'])).code, 1);
  const inherited = await vouch(['pe', 'hash', realBinaries.grub, '--alg', 'toString']);
  assert.equal(inherited.code, 1);
  assert.match(inherited.stderr, /ERR_CLI_USAGE: --alg: one of/);
});

test('pe hash: a certificate table that does not end the file is reported next to the hash', async (t) => {
  const image = syntheticPe('PE32', [{ name: '.text', data: bytesOf('x', 100) }]);
  const file = new Uint8Array(image.length + 32);
  file.set(image);
  const v = new DataView(file.buffer);
  const directory = parsePe(image).certificateDirectoryOffset!;
  v.setUint32(directory, image.length, true);
  v.setUint32(directory + 4, 16, true);
  const path = join(tempDir(t), 'odd.efi');
  writeFileSync(path, file);
  const out = await vouch(['pe', 'hash', path]);
  assert.equal(out.code, 0);
  assert.equal(out.stdout, `${toHex(authenticodeHash(file))}  ${path}\n  finding: certificate-table-not-at-end\n`);
  const json = JSON.parse((await vouch(['pe', 'hash', path, '--json'])).stdout) as JsonResult<{ format: string; findings: string[] }>;
  assert.deepEqual([json.result.format, json.result.findings], ['PE32', ['certificate-table-not-at-end']]);
  const notPe = await vouch(['pe', 'hash', 'package.json']);
  assert.equal(notPe.code, 1);
  assert.match(notPe.stderr, /ERR_SECUREBOOT_PE_MALFORMED: PE DOS header: missing "MZ" signature/);
});

test('secureboot verify: exit 0 with the Debian CA (DER, or ESL), exit 3 with the reason otherwise, dbx by hash', async (t) => {
  const shim = readReal(t, realBinaries.shim);
  const grub = readReal(t, realBinaries.grub);
  if (!shim || !grub) return;
  const dir = tempDir(t);
  const ca = shimVendorCertificates(parsePe(shim))!.authorized;
  writeFileSync(join(dir, 'debian-ca.der'), ca);
  writeFileSync(join(dir, 'db.esl'), encodeSignatureDatabase([{ type: 'x509', signatures: [{ owner: '00000000-0000-0000-0000-00000000d3b1', data: ca }] }]));
  writeFileSync(
    join(dir, 'dbx.esl'),
    encodeSignatureDatabase([{ type: 'sha256', signatures: [{ owner: '00000000-0000-0000-0000-00000000d3b1', data: authenticodeHash(grub) }] }]),
  );
  const ok = await vouch(['secureboot', 'verify', realBinaries.grub, '--db', join(dir, 'debian-ca.der')]);
  assert.equal(ok.code, 0);
  assert.match(ok.stdout, /verified \(signed-by-db-certificate\).*Debian Secure Boot CA/);
  const viaEsl = JSON.parse((await vouch(['secureboot', 'verify', realBinaries.grub, '--db', join(dir, 'db.esl'), '--json'])).stdout) as JsonResult<{
    verified: boolean;
    authority: { subject: string; owner: string };
  }>;
  assert.equal(viaEsl.result.verified, true);
  assert.equal(viaEsl.result.authority.subject, 'CN=Debian Secure Boot CA');
  assert.equal(viaEsl.result.authority.owner, '00000000-0000-0000-0000-00000000d3b1');
  const revoked = await vouch(['secureboot', 'verify', realBinaries.grub, '--db', join(dir, 'db.esl'), '--dbx', join(dir, 'dbx.esl'), '--json']);
  assert.equal(revoked.code, 3);
  assert.equal((JSON.parse(revoked.stdout) as JsonResult<{ reason: string }>).result.reason, 'hash-in-dbx');
  const untrusted = await vouch(['secureboot', 'verify', realBinaries.shim, '--db', join(dir, 'db.esl')]);
  assert.equal(untrusted.code, 3);
  assert.match(untrusted.stdout, /NOT verified \(no-signature-chains-to-db\)/);
  const missing = await vouch(['secureboot', 'verify', realBinaries.grub, '--db', join(dir, 'nope.esl')]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^vouch: ERR_CLI_IO: /);
  assert.equal((await vouch(['secureboot', 'verify', realBinaries.grub])).code, 1);
  // A db file that is no database: the error names the file among the several --db/--dbx given.
  const notEsl = await vouch(['secureboot', 'verify', realBinaries.grub, '--db', join(dir, 'db.esl'), '--db', 'package.json', '--json']);
  assert.equal(notEsl.code, 1);
  const { error } = JSON.parse(notEsl.stdout) as JsonError;
  assert.equal(error.code, 'ERR_SECUREBOOT_ESL_MALFORMED');
  assert.match(error.message, /^package\.json: EFI_SIGNATURE_LIST at offset 0: /);
  assert.equal(error.details.path, 'package.json');
});

test('pe sign → sbverify accepts; pe show lists sections, signer and SBAT; db show lists entries', async (t) => {
  const openssl = peer(t, 'openssl');
  const sbverify = peer(t, 'sbverify');
  if (!openssl || !sbverify) return;
  const dir = tempDir(t);
  const key = join(dir, 'k.key');
  const cert = join(dir, 'k.crt');
  assert.equal(
    run(openssl, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-subj', '/CN=CLI signer', '-days', '30']).status,
    0,
  );
  const image = join(dir, 'in.efi');
  writeFileSync(
    image,
    syntheticPe('PE32+', [
      { name: '.text', data: bytesOf('t', 900) },
      { name: '.sbat', data: bytesOf('sbat,1,SBAT Version,sbat,1,https://x\nvouch,1\n') },
    ]),
  );
  const signed = join(dir, 'out.efi');
  const sign = await vouch(['pe', 'sign', '--key', key, '--cert', cert, '--output', signed, image]);
  assert.equal(sign.code, 0, sign.stderr);
  assert.equal(run(sbverify, ['--cert', cert, signed]).status, 0);
  const show = await vouch(['pe', 'show', signed]);
  assert.equal(show.code, 0);
  assert.match(show.stdout, /PE32\+, 2 sections/);
  assert.match(show.stdout, /signature #0: sha256 by CN=CLI signer/);
  assert.match(show.stdout, /sbat vouch,1/);
  const verify = await vouch(['secureboot', 'verify', signed, '--db', cert]);
  assert.equal(verify.code, 0, verify.stdout + verify.stderr);
  writeFileSync(
    join(dir, 'db'),
    Buffer.concat([
      Buffer.from([0x27, 0, 0, 0]),
      encodeSignatureDatabase([{ type: 'sha256', signatures: [{ owner: '00000000-0000-0000-0000-000000000001', data: new Uint8Array(32).fill(0xab) }] }]),
    ]),
  );
  const db = await vouch(['secureboot', 'db', 'show', join(dir, 'db')]);
  assert.equal(db.code, 0);
  assert.match(db.stdout, /efivarfs, 1 lists, 1 entries\nsha256 +00000000-0000-0000-0000-000000000001 +(ab){32}/);
  assert.ok(readFileSync(signed).length > 0);
});
