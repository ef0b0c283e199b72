// Quotes from the software TPM are real TPM quotes: `vouch tpm ak create` (in this process) and
// `vouch tpm quote` (bin/vouch.js, another process) on `sim:/path`, sharing the persisted state as
// they would a real TPM, are accepted by
// tpm2_checkquote (RSASSA, ECDSA; tpm2_checkquote 5.4 rejects valid RSAPSS) and by Vouch's own
// verifier (all three schemes, sha1/sha256/sha384 banks), which rejects a changed nonce, PCR value
// or signature with a reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fromHex } from '../../src/bytes/index.ts';
import { checkQuote, pcrValuesFromSerializedFile, type QuoteToVerify } from '../../src/verifier/index.ts';
import { peer } from '../helpers/peers.ts';
import { run } from '../helpers/swtpm.ts';
import { tempDir, vouch, vouchProcess } from './cli-helpers.ts';

const NONCE = '0ddba11c0ffee5e1ec7ed0000000000000000000000000000000000000000017';
const PCRS = 'sha1:0,1,2,3+sha256:0,1,2,3,4,5,6,7,16+sha384:16,23';

for (const [alg, scheme] of [
  ['ecc', 'ecdsa'],
  ['rsa', 'rsassa'],
  ['rsa', 'rsapss'],
] as const) {
  test(`sim quote with a ${scheme} AK: tpm2_checkquote and Vouch's verifier accept it, tampering is rejected`, async (t) => {
    const dir = await tempDir(t, 'vouch-sim-crosscheck-');
    const uri = `sim:${join(dir, 'tpm-state.json')}`;
    const akDir = join(dir, 'ak');
    const qDir = join(dir, 'quote');
    const created = await vouch(['tpm', 'ak', 'create', '--tpm', uri, '--out', akDir, '--alg', alg, '--scheme', scheme]);
    assert.equal(created.code, 0, created.stderr);
    await vouch(['tpm', 'extend', '--tpm', uri, '--pcr', '16', '--data', 'sim crosscheck']);
    const quoted = await vouchProcess(['tpm', 'quote', '--tpm', uri, '--ak', akDir, '--nonce', NONCE, '--pcrs', PCRS, '--out', qDir]);
    assert.equal(quoted.code, 0, quoted.stderr);
    const [msg, sig, pcrFile, pem] = await Promise.all(
      ['quote.msg', 'quote.sig', 'quote.pcrs'].map((f) => readFile(join(qDir, f))).concat(readFile(join(akDir, 'ak.pub.pem'))),
    );
    const { values: pcrs, selection } = pcrValuesFromSerializedFile(new Uint8Array(pcrFile!));
    const quote: QuoteToVerify = {
      ak: { barePublicKey: pem!.toString() },
      untrustedAttest: new Uint8Array(msg!),
      untrustedSignature: new Uint8Array(sig!),
      pcrs,
      expectedExtraData: fromHex(NONCE),
      expectedSelection: selection,
    };
    const verdict = checkQuote(quote);
    assert.ok(verdict.verified, verdict.verified ? '' : verdict.reason);
    const badNonce = fromHex(NONCE);
    badNonce[0]! ^= 1;
    const nonceVerdict = checkQuote({ ...quote, expectedExtraData: badNonce });
    assert.ok(!nonceVerdict.verified && nonceVerdict.code === 'ERR_QUOTE_NONCE_MISMATCH');
    const pcr16 = pcrs.sha256!['16']!;
    const badPcrs = { ...pcrs, sha256: { ...pcrs.sha256, '16': (pcr16[0] === '0' ? '1' : '0') + pcr16.slice(1) } };
    assert.ok(!checkQuote({ ...quote, pcrs: badPcrs }).verified);
    const badSig = new Uint8Array(sig!);
    badSig[badSig.length - 1]! ^= 1;
    const sigVerdict = checkQuote({ ...quote, untrustedSignature: badSig });
    assert.ok(!sigVerdict.verified && sigVerdict.code === 'ERR_QUOTE_SIGNATURE');

    if (scheme === 'rsapss' || !peer(t, 'tpm2_checkquote')) return;
    const args = [
      '-u',
      join(akDir, 'ak.pub.pem'),
      '-m',
      join(qDir, 'quote.msg'),
      '-s',
      join(qDir, 'quote.sig'),
      '-f',
      join(qDir, 'quote.pcrs'),
      '-g',
      'sha256',
      '-q',
      NONCE,
    ];
    const ok = await run('tpm2_checkquote', args);
    assert.equal(ok.code, 0, `tpm2_checkquote rejected the sim's quote: ${ok.output}`);
    const wrongNonce = await run('tpm2_checkquote', [...args.slice(0, -1), NONCE.replace(/7$/, '8')]);
    assert.notEqual(wrongNonce.code, 0, 'tpm2_checkquote notices a different nonce');
  });
}
