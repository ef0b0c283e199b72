// The `vouch tpm` CLI and the socket transports against a real swtpm on TCP ports:
// - extend, pcrread, info, ak create and quote; quotes accepted by tpm2_checkquote (RSASSA, ECDSA;
//   sha1, sha256 and sha384 banks) and, for RSAPSS (tpm2_checkquote 5.4 rejects valid PSS quotes),
//   by openssl; a different nonce or a changed PCR value is rejected;
// - the swtpm: (raw, with control-channel power-on) and mssim: (MS-simulator framing) transports.
// Credential activation and EK certificates against tpm2-tools are in crosscheck-*.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { Tpm } from '../../src/tpm/client.ts';
import { TPM_ALG } from '../../src/tpm/constants.ts';
import { EventType, encodeEventLog } from '../../src/eventlog/index.ts';
import { peer } from '../helpers/peers.ts';
import { run, startSwtpm } from '../helpers/swtpm.ts';
import { tempDir, vouch } from './cli-helpers.ts';

test('vouch tpm quote → tpm2_checkquote (RSASSA, ECDSA) and openssl (RSAPSS), sha1/sha256/sha384 banks; tampering is rejected', async (t) => {
  if (!peer(t, 'tpm2_checkquote') || !peer(t, 'openssl')) return;
  const swtpm = await startSwtpm(t, { tcp: true });
  if (!swtpm?.uri) return;
  const dir = await tempDir(t);
  const ext = await vouch(['tpm', 'extend', '--tpm', swtpm.uri, '--pcr', '16', '--data', 'measured thing']);
  assert.equal(ext.code, 0, ext.stderr);
  const read = await vouch(['tpm', 'pcrread', '--tpm', swtpm.uri, '--pcrs', 'sha256:15,16', '--json']);
  assert.equal(read.code, 0, read.stderr);
  const pcrs = (JSON.parse(read.stdout) as { result: { sha256: Record<string, string> } }).result.sha256;
  assert.equal(pcrs['15'], '00'.repeat(32));
  assert.equal(pcrs['16'], createHash('sha256').update(Buffer.alloc(32)).update(createHash('sha256').update('measured thing').digest()).digest('hex'));
  const info = await vouch(['tpm', 'info', '--tpm', swtpm.uri, '--json']);
  assert.equal(info.code, 0, info.stderr);
  assert.ok((JSON.parse(info.stdout) as { result: { pcrBanks: string[] } }).result.pcrBanks.includes('sha384'));

  for (const [alg, scheme] of [
    ['rsa', 'rsassa'],
    ['ecc', 'ecdsa'],
    ['rsa', 'rsapss'],
  ] as const) {
    const akDir = join(dir, `ak-${scheme}`);
    const made = await vouch(['tpm', 'ak', 'create', '--tpm', swtpm.uri, '--out', akDir, '--alg', alg, '--scheme', scheme]);
    assert.equal(made.code, 0, made.stderr);
    for (const bank of ['sha1', 'sha256', 'sha384']) {
      const nonce = randomBytes(20).toString('hex');
      const qDir = join(dir, `q-${scheme}-${bank}`);
      const q = await vouch(['tpm', 'quote', '--tpm', swtpm.uri, '--ak', akDir, '--nonce', nonce, '--pcrs', `${bank}:0,1,2,3,4,5,6,7,16`, '--out', qDir]);
      assert.equal(q.code, 0, q.stderr);
      const files = ['-m', join(qDir, 'quote.msg'), '-s', join(qDir, 'quote.sig'), '-f', join(qDir, 'quote.pcrs'), '-g', 'sha256'];
      if (scheme === 'rsapss') {
        // TPMT_SIGNATURE: sigAlg u16, hash u16, TPM2B sig (u16 size) → raw PSS signature at offset 6.
        const sig = await readFile(join(qDir, 'quote.sig'));
        await writeFile(join(qDir, 'raw.sig'), sig.subarray(6));
        const args = (msg: string) => [
          'dgst',
          '-sha256',
          '-verify',
          join(akDir, 'ak.pub.pem'),
          '-sigopt',
          'rsa_padding_mode:pss',
          '-sigopt',
          'rsa_pss_saltlen:auto',
          '-signature',
          join(qDir, 'raw.sig'),
          msg,
        ];
        assert.equal((await run('openssl', args(join(qDir, 'quote.msg')))).code, 0, 'openssl accepts the PSS quote');
        const msg = await readFile(join(qDir, 'quote.msg'));
        msg[msg.length - 1]! ^= 1;
        await writeFile(join(qDir, 'tampered.msg'), msg);
        assert.notEqual((await run('openssl', args(join(qDir, 'tampered.msg')))).code, 0, 'openssl rejects a flipped bit');
        continue;
      }
      const ok = await run('tpm2_checkquote', ['-u', join(akDir, 'ak.pub.pem'), ...files, '-q', nonce]);
      assert.equal(ok.code, 0, `tpm2_checkquote ${scheme} ${bank}: ${ok.output}`);
      const wrongNonce = await run('tpm2_checkquote', ['-u', join(akDir, 'ak.pub.pem'), ...files, '-q', nonce.replace(/^../, 'ff')]);
      assert.notEqual(wrongNonce.code, 0, 'a different nonce is rejected');
      const pcrs = await readFile(join(qDir, 'quote.pcrs'));
      pcrs[132 + 4 + 4 + 2]! ^= 1; // first byte of PCR 0's value (after the selection list, block count, digest count, size)
      await writeFile(join(qDir, 'tampered.pcrs'), pcrs);
      const badPcrs = await run('tpm2_checkquote', [
        '-u',
        join(akDir, 'ak.pub.pem'),
        '-m',
        join(qDir, 'quote.msg'),
        '-s',
        join(qDir, 'quote.sig'),
        '-f',
        join(qDir, 'tampered.pcrs'),
        '-g',
        'sha256',
        '-q',
        nonce,
      ]);
      assert.notEqual(badPcrs.code, 0, 'a changed PCR value is rejected');
    }
  }
});

test('vouch tpm CLI errors: missing AK directory, bad PCR list, bad URI', async (t) => {
  const dir = await tempDir(t);
  const noAk = await vouch(['tpm', 'quote', '--tpm', 'swtpm:port=1', '--ak', join(dir, 'nothing'), '--nonce', '00', '--out', join(dir, 'q')]);
  assert.equal(noAk.code, 1);
  assert.match(noAk.stderr, /ERR_CLI_IO/);
  const badList = await vouch(['tpm', 'pcrread', '--tpm', 'swtpm:port=1', '--pcrs', 'md5:1']);
  assert.equal(badList.code, 1);
  assert.match(badList.stderr, /ERR_CLI_USAGE/);
  const badUri = await vouch(['tpm', 'info', '--tpm', 'carrier-pigeon:1', '--json']);
  assert.equal(badUri.code, 1);
  assert.equal((JSON.parse(badUri.stdout) as { error: { code: string } }).error.code, 'ERR_TPM_URI');
});

test('vouch tpm / vouch verify on a persisted software TPM: relative paths from the cwd, every error path a code and a clean --json document', async (t) => {
  const dir = await tempDir(t);
  const tpm = ['--tpm', `sim:${join(dir, 'state')}`];
  type Doc = { result: Record<string, unknown> | null; error: { code: string; message: string } | null };
  const json = (r: { stdout: string }): Doc => JSON.parse(r.stdout) as Doc;
  // --out, --ak and the files to verify are relative to the command's working directory.
  assert.equal((await vouch(['tpm', 'ak', 'create', ...tpm, '--out', 'ak', '--alg', 'ecc'], { cwd: dir })).code, 0);
  const q = await vouch(['tpm', 'quote', ...tpm, '--ak', 'ak', '--nonce', 'abcd', '--pcrs', 'sha256:0,1,2+sha1:3', '--out', 'q', '--json'], { cwd: dir });
  assert.equal(q.code, 0, q.stdout);
  assert.deepEqual(json(q).result?.pcrs, ['sha256:0,1,2', 'sha1:3']);
  const files = ['--msg', 'q/quote.msg', '--sig', 'q/quote.sig', '--pcrs', 'q/quote.pcrs'];
  const ok = await vouch(['verify', 'quote', '--ak', 'ak/ak.pub.pem', ...files, '--nonce', 'abcd'], { cwd: dir });
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.match(ok.stdout, /^VERIFIED: .* PCRs sha256:0,1,2\+sha1:3 match/);
  assert.match(ok.stdout, /warning: the AK is a bare public key/, 'a PEM AK carries no TPM attributes: said so');
  const checked = await vouch(['verify', 'quote', '--ak', 'ak', ...files, '--nonce', 'abcd'], { cwd: dir });
  assert.equal(checked.code, 0);
  assert.doesNotMatch(checked.stdout, /warning/);

  // A bare TPMT_PUBLIC (the TPM2B_PUBLIC without its size) is an AK too.
  await writeFile(join(dir, 'ak.tpmt'), (await readFile(join(dir, 'ak', 'ak.pub'))).subarray(2));
  assert.equal((await vouch(['verify', 'quote', '--ak', 'ak.tpmt', ...files, '--nonce', 'abcd'], { cwd: dir })).code, 0);

  // --pcr-list with a serialized file: the file's own selection must be the list.
  assert.equal((await vouch(['verify', 'quote', '--ak', 'ak', ...files, '--pcr-list', 'sha1:3+sha256:0-2', '--nonce', 'abcd'], { cwd: dir })).code, 0);
  const otherList = await vouch(['verify', 'quote', '--ak', 'ak', ...files, '--pcr-list', 'sha256:0,1', '--nonce', 'abcd'], { cwd: dir });
  assert.equal(otherList.code, 3);
  assert.match(otherList.stdout, /ERR_QUOTE_SELECTION_MISMATCH: the PCR file holds sha256:0,1,2\+sha1:3, --pcr-list says sha256:0,1/);

  // --eventlog replays a log against exactly the quoted PCRs: nothing extended them on this TPM.
  await writeFile(join(dir, 'empty.log'), encodeEventLog({ banks: ['sha1', 'sha256'], events: [] }));
  const replays = await vouch(['verify', 'quote', '--ak', 'ak', ...files, '--nonce', 'abcd', '--eventlog', 'empty.log'], { cwd: dir });
  assert.equal(replays.code, 0, replays.stdout);
  assert.match(replays.stdout, /event log replays to every quoted PCR/);
  const extendsPcr1 = encodeEventLog({
    banks: ['sha1', 'sha256'],
    events: [{ pcr: 1, type: EventType.EV_EFI_ACTION, data: new TextEncoder().encode('x'), digests: { sha1: new Uint8Array(20), sha256: new Uint8Array(32) } }],
  });
  await writeFile(join(dir, 'pcr1.log'), extendsPcr1);
  const differs = await vouch(['verify', 'quote', '--ak', 'ak', ...files, '--nonce', 'abcd', '--eventlog', 'pcr1.log', '--json'], { cwd: dir });
  assert.equal(differs.code, 3);
  const replay = (json(differs).result as { eventLog: { matches: boolean; mismatches: { bank: string; pcr: number }[] } }).eventLog;
  assert.equal(replay.matches, false);
  assert.deepEqual(
    replay.mismatches.map((m) => `${m.bank}:${m.pcr}`),
    ['sha256:1'],
    'the sha1 bank quotes only PCR 3',
  );

  // No nonce: explicit, and exclusive with --nonce; this quote has one, so it does not verify without.
  const noNonce = await vouch(['verify', 'quote', '--ak', 'ak', ...files, '--no-nonce'], { cwd: dir });
  assert.equal(noNonce.code, 3);
  assert.match(noNonce.stdout, /ERR_QUOTE_NONCE_MISMATCH/);
  assert.equal((await vouch(['verify', 'quote', '--ak', 'ak', ...files, '--no-nonce', '--nonce', 'abcd'], { cwd: dir })).code, 1);
  const missing = await vouch(['verify', 'quote', '--ak', 'ak', ...files], { cwd: dir });
  assert.match(missing.stderr, /missing --nonce HEX \(or --no-nonce/);

  // An AK directory whose ak.json is valid JSON but not a descriptor.
  await mkdir(join(dir, 'not-an-ak'));
  await writeFile(join(dir, 'not-an-ak', 'ak.json'), 'null');
  await copyFile(join(dir, 'ak', 'ak.pub'), join(dir, 'not-an-ak', 'ak.pub'));
  await copyFile(join(dir, 'ak', 'ak.priv'), join(dir, 'not-an-ak', 'ak.priv'));

  const cases: { args: string[]; exit: number; code: string; message: RegExp }[] = [
    { args: ['tpm', 'quote', ...tpm, '--ak', 'not-an-ak', '--nonce', 'ab', '--out', 'q2'], exit: 1, code: 'ERR_CLI_IO', message: /not a Vouch AK descriptor/ },
    { args: ['tpm', 'quote', ...tpm, '--ak', 'ak', '--nonce', 'zz', '--out', 'q2'], exit: 1, code: 'ERR_CLI_USAGE', message: /--nonce: not a hex string/ },
    { args: ['tpm', 'extend', ...tpm, '--pcr', '16', '--digest', 'sha256:abcd'], exit: 1, code: 'ERR_CLI_USAGE', message: /sha256 digest is 32 bytes, got 2/ },
    {
      args: ['tpm', 'extend', ...tpm, '--pcr', '16', '--digest', 'sha256:' + 'z'.repeat(64)],
      exit: 1,
      code: 'ERR_CLI_USAGE',
      message: /--digest: not a hex string/,
    },
    { args: ['tpm', 'extend', ...tpm, '--pcr', '24', '--data', 'x'], exit: 1, code: 'ERR_CLI_USAGE', message: /--pcr must be 0..23/ },
    { args: ['tpm', 'pcrread', ...tpm, '--pcrs', 'sha512:0'], exit: 1, code: 'ERR_TPM_NOT_FOUND', message: /bank not allocated/ },
    {
      args: ['tpm', 'ak', 'create', ...tpm, '--out', 'ak2', '--alg', 'ecc', '--scheme', 'rsapss'],
      exit: 1,
      code: 'ERR_CLI_USAGE',
      message: /does not fit --alg ecc/,
    },
    { args: ['tpm', 'quote', ...tpm, '--ak', 'q', '--nonce', 'ab', '--out', 'q2'], exit: 1, code: 'ERR_CLI_IO', message: /ak\.json/ },
    {
      args: ['tpm', 'quote', '--tpm', `sim:${join(dir, 'another-tpm')}`, '--ak', 'ak', '--nonce', 'ab', '--out', 'q2'],
      exit: 1,
      code: 'ERR_TPM_RC',
      message: /TPM_RC_INTEGRITY.*made by another TPM/,
    },
    {
      args: ['verify', 'quote', '--ak', 'q/quote.sig', ...files, '--nonce', 'abcd'],
      exit: 3,
      code: 'ERR_QUOTE_AK_INVALID',
      message: /is not a TPM2B_PUBLIC, TPMT_PUBLIC, PEM or DER public key/,
    },
    {
      args: ['verify', 'quote', '--ak', 'ak', ...files, '--pcr-list', 'md5:1', '--nonce', 'abcd'],
      exit: 1,
      code: 'ERR_CLI_USAGE',
      message: /--pcr-list: bad PCR list/,
    },
    { args: ['verify', 'quote', '--ak', 'ak', ...files, '--nonce', '0xzz'], exit: 1, code: 'ERR_CLI_USAGE', message: /--nonce: not a hex string/ },
    { args: ['verify', 'quote', '--ak', 'ak', ...files, '--nonce', 'abce'], exit: 3, code: 'ERR_QUOTE_NONCE_MISMATCH', message: /not the expected nonce abce/ },
    {
      args: ['verify', 'quote', '--ak', 'ak', ...files.slice(0, 4), '--pcrs', 'q/quote.msg', '--nonce', 'abcd'],
      exit: 3,
      code: 'ERR_QUOTE_PCR_FILE',
      message: /serialized format/,
    },
    {
      args: ['verify', 'quote', '--ak', 'ak', ...files.slice(0, 4), '--pcrs', 'missing', '--nonce', 'abcd'],
      exit: 1,
      code: 'ERR_CLI_IO',
      message: /missing: ENOENT/,
    },
  ];
  for (const c of cases) {
    const text = await vouch(c.args, { cwd: dir });
    assert.equal(text.code, c.exit, `${c.args.join(' ')}: ${text.stdout}${text.stderr}`);
    const line = c.exit === 3 ? text.stdout : text.stderr;
    assert.match(line, new RegExp(`^(vouch|NOT VERIFIED): ${c.code}: `), c.args.join(' '));
    assert.match(line, c.message);
    const doc = await vouch([...c.args, '--json'], { cwd: dir });
    assert.equal(doc.code, c.exit);
    assert.equal(doc.stderr, '', 'nothing but the document with --json');
    const parsed = json(doc);
    // Verdicts ("not verified") are results; everything else is an error.
    const code = c.exit === 3 ? parsed.result?.code : parsed.error?.code;
    assert.equal(code, c.code, c.args.join(' '));
  }

  // No --tpm and no $VOUCH_TPM on a machine without /dev/tpmrm0: the message says how to pick a TPM.
  if (!existsSync('/dev/tpmrm0')) {
    const noTpm = await vouch(['tpm', 'info', '--json'], { cwd: dir, env: { PATH: process.env.PATH ?? '' } });
    assert.equal(noTpm.code, 1);
    assert.equal(json(noTpm).error?.code, 'ERR_TPM_TRANSPORT');
    assert.match(json(noTpm).error?.message ?? '', /give --tpm/);
  } else {
    t.diagnostic('this machine has /dev/tpmrm0: the message for a missing TPM is not checked here');
  }
});

test('transports: swtpm: with control-channel power-on, and mssim: framing, against swtpm TCP ports', async (t) => {
  const swtpm = await startSwtpm(t, { tcp: true });
  if (!swtpm?.uri) return;
  const port = Number(/port=(\d+)/.exec(swtpm.uri)![1]);
  for (const uri of [`swtpm:host=127.0.0.1,port=${port},poweron`, `mssim:host=127.0.0.1,port=${port}`]) {
    const tpm = await Tpm.open(uri);
    try {
      await tpm.startup();
      assert.equal((await tpm.getRandom(16)).length, 16, uri);
      assert.ok((await tpm.pcrBanks()).includes(TPM_ALG.SHA256));
    } finally {
      await tpm.close();
    }
  }
  await assert.rejects(Tpm.open(`swtpm:host=127.0.0.1,port=${port + 2}`), { code: 'ERR_TPM_TRANSPORT' });
});
