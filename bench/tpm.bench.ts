// Quote verification throughput on one core (the verifier is synchronous and pure), next to
// `openssl speed` RSA-2048 / ECDSA P-256 verify/s on the same machine in the same run: the
// signature check is the floor of any quote verifier, so the ratio shows what parsing, hashing
// the PCR values and the other checks cost on top. Also software MakeCredential/s (enrollment).
//
// Rates are per second of this thread's CPU time, as `openssl speed` counts them (user time by
// default): on a shared, loaded machine wall-clock rates would measure the other processes.
import { spawnSync } from 'node:child_process';
import { createHash, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { TPM_ALG, TPM_GENERATED_VALUE, TPM_ST } from '../src/tpm/constants.ts';
import { makeCredential, objectName, signTpm, tpmPublicFromKey, type SigningScheme } from '../src/tpm/crypto/index.ts';
import { toPcrSelection } from '../src/tpm/pcr-selection.ts';
import { encode, wrap } from '../src/tpm/schema/index.ts';
import { TPMS_ATTEST, TPMT_PUBLIC, TPMT_SIGNATURE, type TPMT_PUBLIC as Public } from '../src/tpm/structures.ts';
import { akTemplate, ekTemplate } from '../src/tpm/templates.ts';
import { verifyQuote, type QuoteToVerify } from '../src/verifier/index.ts';
import { fmt } from './measure.ts';
import { toHex } from '../src/bytes/index.ts';

/** This thread's CPU time in seconds (user + system). */
function cpuSeconds(): number {
  const { user, system } = process.threadCpuUsage();
  return (user + system) / 1e6;
}

/** Runs fn for at least `seconds` of this thread's CPU time; returns operations per CPU second. */
function opsPerCpuSecond(fn: () => unknown, seconds = 1): number {
  for (let i = 0; i < 3; i++) fn();
  const start = cpuSeconds();
  let n = 0;
  let used = 0;
  while (used < seconds) {
    fn();
    n++;
    used = cpuSeconds() - start;
  }
  return n / used;
}

/** A quote over all 24 sha256 PCRs, as the attestation flow asks for (docs/design.md). */
function quoteFixture(key: { publicKey: KeyObject; privateKey: KeyObject }, template: Public, scheme: SigningScheme): QuoteToVerify {
  const pcrs = [...Array(24).keys()];
  const values = pcrs.map((i) => new Uint8Array(32).fill(i));
  const nonce = new Uint8Array(32).fill(0xab);
  const pcrDigest = new Uint8Array(createHash('sha256').update(Buffer.concat(values)).digest());
  const attest = encode(TPMS_ATTEST, {
    magic: TPM_GENERATED_VALUE,
    type: TPM_ST.ATTEST_QUOTE,
    qualifiedSigner: new Uint8Array(34),
    extraData: nonce,
    clockInfo: { clock: 1n, resetCount: 0, restartCount: 0, safe: true },
    firmwareVersion: 0n,
    attested: { pcrSelect: toPcrSelection([{ hash: TPM_ALG.SHA256, pcrs }]), pcrDigest },
  });
  return {
    ak: tpmPublicFromKey(key.publicKey, template),
    untrustedAttest: attest,
    untrustedSignature: encode(TPMT_SIGNATURE, signTpm(key.privateKey, scheme, { message: attest })),
    pcrs: { sha256: Object.fromEntries(values.map((v, i) => [String(i), toHex(v)])) },
    expectedExtraData: nonce,
    expectedSelection: [{ hash: TPM_ALG.SHA256, pcrs }],
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

export function run(): void {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const rsaQuote = quoteFixture(rsa, akTemplate('rsa', 'rsassa'), { sigAlg: TPM_ALG.RSASSA, hashAlg: TPM_ALG.SHA256 });
  const ecQuote = quoteFixture(ec, akTemplate('ecc'), { sigAlg: TPM_ALG.ECDSA, hashAlg: TPM_ALG.SHA256 });
  const ours = {
    rsa2048: opsPerCpuSecond(() => verifyQuote(rsaQuote)),
    ecdsap256: opsPerCpuSecond(() => verifyQuote(ecQuote)),
  };
  // node:crypto's verify of the same bytes alone: what is left is Vouch's own work.
  const rsaSignature = signTpm(rsa.privateKey, { sigAlg: TPM_ALG.RSASSA, hashAlg: TPM_ALG.SHA256 }, { message: rsaQuote.untrustedAttest }).signature as {
    sig: Uint8Array;
  };
  const ecSignatureDer = new Uint8Array(sign('sha256', ecQuote.untrustedAttest, ec.privateKey));
  const bare = {
    rsa2048: opsPerCpuSecond(() => verify('sha256', rsaQuote.untrustedAttest, rsa.publicKey, rsaSignature.sig)),
    ecdsap256: opsPerCpuSecond(() => verify('sha256', ecQuote.untrustedAttest, ec.publicKey, ecSignatureDer)),
  };
  const openssl = opensslVerifyRates();
  console.log('quote verification per CPU second of one core (24 sha256 PCRs; parse, signature, magic/type, nonce, pcrDigest):');
  for (const [label, key] of [
    ['RSA-2048 RSASSA-SHA256', 'rsa2048'],
    ['ECDSA P-256 SHA-256', 'ecdsap256'],
  ] as const) {
    const limit = openssl[key];
    const ratio = limit ? ` = ${fmt((100 * ours[key]) / limit, 0)}% of openssl speed ${key} verify ${fmt(limit, 0)}/s` : ' (openssl not installed)';
    console.log(
      `  ${label.padEnd(24)} ${fmt(ours[key], 0).padStart(9)} quotes/s${ratio}; node:crypto verify alone ${fmt(bare[key], 0)}/s (${fmt((100 * ours[key]) / bare[key], 0)}%)`,
    );
  }

  const akName = objectName(wrap(TPMT_PUBLIC, rsaQuote.ak as Public));
  const credential = new Uint8Array(32).fill(1);
  console.log('software MakeCredential (enrollment), one core:');
  for (const [label, alg] of [
    ['RSA-2048 EK', 'rsa'],
    ['ECC P-256 EK', 'ecc'],
  ] as const) {
    const keys = alg === 'rsa' ? rsa : ec;
    const ek = tpmPublicFromKey(keys.publicKey, ekTemplate(alg));
    console.log(
      `  ${label.padEnd(24)} ${fmt(
        opsPerCpuSecond(() => makeCredential(ek, credential, akName)),
        0,
      ).padStart(9)} credentials/s`,
    );
  }
}
