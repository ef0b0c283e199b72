// tpm2_quote's quotes (RSASSA, RSAPSS, ECDSA AKs) on a real swtpm with sha1, sha256 and sha384
// banks are accepted by `vouch verify quote`, and every single flipped bit of message, signature,
// PCR values or nonce is rejected with a reason; PSS quotes are also checked with openssl
// (tpm2_checkquote 5.4 rejects valid PSS quotes). The other direction (vouch tpm quote accepted
// by tpm2_checkquote) is test/tpm/cli.test.ts.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fromHex, toHex } from '../../src/bytes/index.ts';
import { decode } from '../../src/tpm/schema/index.ts';
import { TPMT_SIGNATURE } from '../../src/tpm/structures.ts';
import { checkQuote, pcrValuesFromSerializedFile, type QuoteToVerify } from '../../src/verifier/index.ts';
import { pcrBanks, type PcrValues } from '../../src/hash/index.ts';
import { peer } from '../helpers/peers.ts';
import { run, startSwtpm } from '../helpers/swtpm.ts';
import { tempDir, vouch, vouchProcess } from './cli-helpers.ts';

const NONCE = '5e1ec7ed0ddba11c0ffee0000000000000000000000000000000000000000042';
const PCR_LIST = 'sha1:0,7+sha256:0,1,7,16+sha384:7';
const AK_ATTRIBUTES = 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|restricted|sign';
const AKS = [
  { scheme: 'rsassa', alg: 'rsa2048:rsassa-sha256:null' },
  // tpm2_quote picks RSASSA for RSA keys unless told, which a PSS-restricted AK refuses (TPM_RC_SCHEME).
  { scheme: 'rsapss', alg: 'rsa2048:rsapss-sha256:null', quoteArgs: ['--scheme', 'rsapss'] },
  { scheme: 'ecdsa', alg: 'ecc256:ecdsa-sha256:null' },
] as const satisfies readonly { scheme: string; alg: string; quoteArgs?: readonly string[] }[];

async function tool(env: NodeJS.ProcessEnv, cmd: string, args: readonly string[]): Promise<string> {
  const r = await run(cmd, args, env);
  assert.equal(r.code, 0, `${cmd} ${args.join(' ')} failed: ${r.output}`);
  return r.stdout;
}

/** Every single-bit flip of `bytes`, one at a time. */
function* bitFlips(bytes: Uint8Array): Generator<Uint8Array> {
  for (let i = 0; i < bytes.length * 8; i++) {
    const copy = bytes.slice();
    copy[i >> 3]! ^= 1 << (i & 7);
    yield copy;
  }
}

function flippedPcrs(pcrs: PcrValues): Generator<PcrValues> {
  return (function* () {
    for (const bank of pcrBanks(pcrs)) {
      for (const [pcr, value] of Object.entries(pcrs[bank]!)) {
        for (const flipped of bitFlips(fromHex(value))) yield { ...pcrs, [bank]: { ...pcrs[bank], [pcr]: toHex(flipped) } };
      }
    }
  })();
}

/** Asserts the quote verifies and that every flipped bit of each input is rejected with the expected code. */
function assertTamperEvident(quote: QuoteToVerify): void {
  const good = checkQuote(quote);
  assert.ok(good.verified, `genuine quote rejected: ${good.verified ? '' : `${good.code}: ${good.reason}`}`);
  const rejected = (q: QuoteToVerify, codes: readonly string[], what: string): void => {
    const v = checkQuote(q);
    assert.ok(!v.verified, `${what}: accepted`);
    assert.ok(codes.includes(v.code), `${what}: ${v.code} (${v.reason})`);
    assert.ok(v.reason.length > 20);
  };
  for (const m of bitFlips(quote.untrustedAttest)) rejected({ ...quote, untrustedAttest: m }, ['ERR_QUOTE_SIGNATURE'], 'flipped message bit');
  // A flip in the TPMT_SIGNATURE header may make it unparseable or name another scheme/hash: still a rejection.
  for (const s of bitFlips(quote.untrustedSignature))
    rejected({ ...quote, untrustedSignature: s }, ['ERR_QUOTE_SIGNATURE', 'ERR_QUOTE_MALFORMED'], 'flipped signature bit');
  for (const p of flippedPcrs(quote.pcrs)) rejected({ ...quote, pcrs: p }, ['ERR_QUOTE_PCR_DIGEST_MISMATCH'], 'flipped PCR value bit');
  for (const n of bitFlips(quote.expectedExtraData)) rejected({ ...quote, expectedExtraData: n }, ['ERR_QUOTE_NONCE_MISMATCH'], 'flipped nonce bit');
}

/** The raw signature inside a TPMT_SIGNATURE (what openssl verifies). */
function rawRsaSignature(tpmtSignature: Uint8Array): Uint8Array {
  return (decode(TPMT_SIGNATURE, tpmtSignature).signature as { sig: Uint8Array }).sig;
}

async function opensslVerifiesPss(t: TestContext, dir: string, pem: string, msg: string, tpmtSignature: Uint8Array): Promise<void> {
  if (!peer(t, 'openssl')) return;
  const sigPath = join(dir, 'pss.raw');
  await writeFile(sigPath, rawRsaSignature(tpmtSignature));
  const args = ['dgst', '-sha256', '-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:auto', '-verify', pem, '-signature', sigPath, msg];
  const r = await run('openssl', args);
  assert.equal(r.code, 0, `openssl rejects the PSS quote: ${r.output}`);
}

test('tpm2_quote quotes are verified by Vouch; every flipped bit is rejected with a reason', async (t) => {
  if (!peer(t, 'tpm2_quote')) return;
  const swtpm = await startSwtpm(t, { tcp: true, manufactured: true });
  if (!swtpm?.env) return;
  const env = swtpm.env;
  const dir = await tempDir(t);
  await tool(env, 'tpm2_pcrextend', ['7:sha1=' + 'ab'.repeat(20) + ',sha256=' + 'cd'.repeat(32) + ',sha384=' + 'ef'.repeat(48)]);
  await tool(env, 'tpm2_pcrextend', ['16:sha256=' + '01'.repeat(32)]);
  await tool(env, 'tpm2_createprimary', ['-C', 'o', '-g', 'sha256', '-G', 'rsa', '-c', join(dir, 'primary.ctx')]);
  await tool(env, 'tpm2_flushcontext', ['-t']);

  for (const ak of AKS) {
    await t.test(`${ak.scheme} AK`, async (t) => {
      const d = (f: string): string => join(dir, `${ak.scheme}.${f}`);
      // swtpm has no resource manager: a transient left by an earlier failure would exhaust its 3 object slots.
      t.after(() => run('tpm2_flushcontext', ['-t'], env));
      await tool(env, 'tpm2_create', ['-C', join(dir, 'primary.ctx'), '-G', ak.alg, '-a', AK_ATTRIBUTES, '-u', d('ak.pub'), '-r', d('ak.priv')]);
      await tool(env, 'tpm2_flushcontext', ['-t']);
      await tool(env, 'tpm2_load', ['-C', join(dir, 'primary.ctx'), '-u', d('ak.pub'), '-r', d('ak.priv'), '-c', d('ak.ctx')]);
      await tool(env, 'tpm2_flushcontext', ['-t']);
      await tool(env, 'tpm2_readpublic', ['-c', d('ak.ctx'), '-f', 'pem', '-o', d('ak.pem')]);
      await tool(env, 'tpm2_readpublic', ['-c', d('ak.ctx'), '-f', 'der', '-o', d('ak.der')]);
      await tool(env, 'tpm2_quote', [
        '-c',
        d('ak.ctx'),
        '-l',
        PCR_LIST,
        '-q',
        NONCE,
        '-m',
        d('quote.msg'),
        '-s',
        d('quote.sig'),
        '-o',
        d('quote.pcrs'),
        '-g',
        'sha256',
        ...('quoteArgs' in ak ? ak.quoteArgs : []),
      ]);
      await tool(env, 'tpm2_pcrread', [PCR_LIST, '-o', d('values.raw')]);
      await tool(env, 'tpm2_flushcontext', ['-t']);

      const common = ['--msg', d('quote.msg'), '--sig', d('quote.sig'), '--nonce', NONCE];
      const viaBinary = await vouchProcess(['verify', 'quote', '--ak', d('ak.pem'), '--pcrs', d('quote.pcrs'), ...common]);
      assert.equal(viaBinary.code, 0, viaBinary.stdout + viaBinary.stderr);
      assert.match(viaBinary.stdout, /^VERIFIED: quote signed with (rsassa|rsapss|ecdsa)\/sha256/);
      // --ak as an AK directory: its ak.pub (TPM2B_PUBLIC), so the AK's attributes and scheme are enforced too.
      await mkdir(d('akdir'));
      await copyFile(d('ak.pub'), join(d('akdir'), 'ak.pub'));
      const withTpmPublic = await vouch(['verify', 'quote', '--ak', d('akdir'), '--pcrs', d('quote.pcrs'), ...common]);
      assert.equal(withTpmPublic.code, 0, withTpmPublic.stdout + withTpmPublic.stderr);
      const der = await vouch(['verify', 'quote', '--ak', d('ak.der'), '--pcrs', d('quote.pcrs'), ...common]);
      assert.equal(der.code, 0, `--ak as DER SubjectPublicKeyInfo (tpm2_readpublic -f der): ${der.stdout}${der.stderr}`);
      const raw = await vouch(['verify', 'quote', '--ak', d('ak.pem'), '--pcrs', d('values.raw'), '--pcr-list', PCR_LIST, ...common, '--json']);
      assert.equal(raw.code, 0, raw.stdout + raw.stderr);
      const doc = JSON.parse(raw.stdout) as { result: { verified: boolean; selection: string } };
      assert.equal(doc.result.verified, true);
      assert.equal(doc.result.selection, 'sha1:0,7+sha256:0,1,7,16+sha384:7');

      const wrongNonce = await vouch([
        'verify',
        'quote',
        '--ak',
        d('ak.pem'),
        '--pcrs',
        d('quote.pcrs'),
        '--msg',
        d('quote.msg'),
        '--sig',
        d('quote.sig'),
        '--nonce',
        '00' + NONCE.slice(2),
      ]);
      assert.equal(wrongNonce.code, 3);
      assert.match(wrongNonce.stdout, /NOT VERIFIED: ERR_QUOTE_NONCE_MISMATCH/);
      const reordered = await vouch([
        'verify',
        'quote',
        '--ak',
        d('ak.pem'),
        '--pcrs',
        d('values.raw'),
        '--pcr-list',
        'sha256:0,1,7,16+sha1:0,7+sha384:7',
        ...common,
      ]);
      assert.equal(reordered.code, 3, 'values read in another order do not match the quote');

      const pem = await readFile(d('ak.pem'), 'utf8');
      const file = pcrValuesFromSerializedFile(new Uint8Array(await readFile(d('quote.pcrs'))));
      assertTamperEvident({
        ak: { barePublicKey: pem },
        untrustedAttest: new Uint8Array(await readFile(d('quote.msg'))),
        untrustedSignature: new Uint8Array(await readFile(d('quote.sig'))),
        pcrs: file.values,
        expectedExtraData: fromHex(NONCE),
        expectedSelection: file.selection,
        allowedSignatureHashes: ['sha1', 'sha256', 'sha384'],
      });
      if (ak.scheme === 'rsapss') await opensslVerifiesPss(t, dir, d('ak.pem'), d('quote.msg'), new Uint8Array(await readFile(d('quote.sig'))));
    });
  }
});
