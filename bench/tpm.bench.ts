// Quote verification throughput on one core (the verifier is synchronous and pure), next to
// `openssl speed` RSA-2048 / ECDSA P-256 verify/s on the same machine in the same run: the
// signature check is the floor of any quote verifier, so the ratio shows what parsing, hashing
// the PCR values and the other checks cost on top. Also software MakeCredential/s (enrollment).
import { spawnSync } from 'node:child_process';
import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { TPM_ALG, TPM_GENERATED_VALUE, TPM_ST } from '../src/tpm/constants.ts';
import { makeCredential, objectName, signTpm, tpmPublicFromKey, type SigningScheme } from '../src/tpm/crypto/index.ts';
import { toPcrSelection } from '../src/tpm/pcr-selection.ts';
import { encode, wrap } from '../src/tpm/schema/index.ts';
import { TPMS_ATTEST, TPMT_PUBLIC, TPMT_SIGNATURE, type TPMT_PUBLIC as Public } from '../src/tpm/structures.ts';
import { akTemplate, ekTemplate } from '../src/tpm/templates.ts';
import { verifyQuote, type PcrBankValues, type QuoteToVerify } from '../src/verifier/index.ts';
import { fmt, opsPerSecond } from './measure.ts';

/** A quote over all 24 sha256 PCRs, as the attestation flow asks for (DESIGN.md). */
function quoteFixture(key: { publicKey: KeyObject; privateKey: KeyObject }, template: Public, scheme: SigningScheme): QuoteToVerify {
  const pcrs = [...Array(24).keys()];
  const bank: PcrBankValues = { hash: TPM_ALG.SHA256, values: new Map(pcrs.map((i) => [i, new Uint8Array(32).fill(i)])) };
  const nonce = new Uint8Array(32).fill(0xab);
  const pcrDigest = new Uint8Array(createHash('sha256').update(Buffer.concat(pcrs.map((i) => bank.values.get(i)!))).digest());
  const attest = encode(TPMS_ATTEST, {
    magic: TPM_GENERATED_VALUE,
    type: TPM_ST.ATTEST_QUOTE,
    qualifiedSigner: new Uint8Array(34),
    extraData: nonce,
    clockInfo: { clock: 1n, resetCount: 0, restartCount: 0, safe: true },
    firmwareVersion: 0n,
    attested: { pcrSelect: toPcrSelection([{ hash: TPM_ALG.SHA256, pcrs }]), pcrDigest },
  } as TPMS_ATTEST);
  return {
    ak: tpmPublicFromKey(key.publicKey, template),
    untrustedAttest: attest,
    untrustedSignature: encode(TPMT_SIGNATURE, signTpm(key.privateKey, scheme, { message: attest })),
    pcrs: [bank],
    expectedExtraData: nonce,
  };
}

/** verify/s of `openssl speed -seconds 1 rsa2048 ecdsap256`, or undefined when openssl is missing. */
function opensslVerifyRates(): { rsa2048?: number; ecdsap256?: number } {
  const r = spawnSync('openssl', ['speed', '-seconds', '1', 'rsa2048', 'ecdsap256'], { encoding: 'utf8' });
  if (r.status !== 0) return {};
  const rsa = /^rsa 2048 bits\s+\S+\s+\S+\s+\S+\s+(\S+)/m.exec(r.stdout);
  const ec = /256 bits ecdsa \(nistp256\)\s+\S+\s+\S+\s+\S+\s+(\S+)/m.exec(r.stdout);
  return { ...(rsa ? { rsa2048: Number(rsa[1]) } : {}), ...(ec ? { ecdsap256: Number(ec[1]) } : {}) };
}

export async function run(): Promise<void> {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const rsaQuote = quoteFixture(rsa, akTemplate('rsa', 'rsassa'), { sigAlg: TPM_ALG.RSASSA, hashAlg: TPM_ALG.SHA256 });
  const ecQuote = quoteFixture(ec, akTemplate('ecc'), { sigAlg: TPM_ALG.ECDSA, hashAlg: TPM_ALG.SHA256 });
  const ours = {
    rsa2048: await opsPerSecond(() => verifyQuote(rsaQuote)),
    ecdsap256: await opsPerSecond(() => verifyQuote(ecQuote)),
  };
  const openssl = opensslVerifyRates();
  console.log('quote verification, one core (24 sha256 PCRs; parse, signature, magic/type, nonce, pcrDigest):');
  for (const [label, key] of [['RSA-2048 RSASSA-SHA256', 'rsa2048'], ['ECDSA P-256 SHA-256', 'ecdsap256']] as const) {
    const limit = openssl[key];
    const ratio = limit ? ` = ${fmt((100 * ours[key]) / limit, 0)}% of openssl speed ${key} verify ${fmt(limit, 0)}/s` : ' (openssl not installed)';
    console.log(`  ${label.padEnd(24)} ${fmt(ours[key], 0).padStart(9)} quotes/s${ratio}`);
  }

  const akName = objectName(wrap(TPMT_PUBLIC, rsaQuote.ak as Public));
  const credential = new Uint8Array(32).fill(1);
  console.log('software MakeCredential (enrollment), one core:');
  for (const [label, alg] of [['RSA-2048 EK', 'rsa'], ['ECC P-256 EK', 'ecc']] as const) {
    const keys = alg === 'rsa' ? rsa : ec;
    const ek = tpmPublicFromKey(keys.publicKey, ekTemplate(alg));
    console.log(`  ${label.padEnd(24)} ${fmt(await opsPerSecond(() => makeCredential(ek, credential, akName)), 0).padStart(9)} credentials/s`);
  }
}
