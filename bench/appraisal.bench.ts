// In-process appraisal per core: quote verification + event-log parse and replay of the quoted
// bank + digest checks + claims + every quoted PCR against its rule + the default CEL policy, on a
// real 34 KB firmware log (RHEL 8 on GCE) extended into a software TPM and quoted over all 24
// sha256 PCRs, with RSA-2048 and ECC P-256 AKs. Next to it, in the same run, the same job done by
// the real tools a script would use (tpm2_checkquote + tpm2_eventlog, one process each).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseEventLog, replay } from '../src/eventlog/index.ts';
import { HashAlgorithm, isHashAlgorithmName, type PcrValues } from '../src/hash/index.ts';
import { compilePolicy, DEFAULT_POLICY } from '../src/policy/index.ts';
import { encodePcrsSerialized, pcrValuesInOrder, publicKeyPem, toPcrSelection, Tpm, TPM_ALG, type KeyAlg } from '../src/tpm/index.ts';
import { appraise, verifyQuote, type AppraisalInputs, type AttestationEvidence } from '../src/verifier/index.ts';
import { findTool } from '../test/helpers/peers.ts';
import { fmt, opsPerSecond } from './measure.ts';

const LOG = join(import.meta.dirname, '../test/vectors/eventlogs/rhel8-uefi.bin');
const SELECTION = [{ hash: TPM_ALG.SHA256, pcrs: Array.from({ length: 24 }, (_, i) => i) }];
const NONCE = new Uint8Array(32).fill(0x5a);

export interface Fixture {
  readonly evidence: AttestationEvidence;
  readonly inputs: AppraisalInputs;
  readonly files: { readonly ak: string; readonly msg: string; readonly sig: string; readonly pcrs: string; readonly log: string };
}

/** A software TPM that booted the real log: its events extended in order, then a quote. */
export async function fixture(alg: KeyAlg, dir: string): Promise<Fixture> {
  const eventLog = new Uint8Array(readFileSync(LOG));
  const log = parseEventLog(eventLog);
  await using tpm = await Tpm.open(`sim:seed=appraisal-bench-${alg}`);
  for (const event of log.events) {
    if (event.typeName === 'EV_NO_ACTION') continue;
    const digests = Object.entries(event.digests).flatMap(([bank, digest]) =>
      isHashAlgorithmName(bank) && (bank === 'sha1' || bank === 'sha256') ? [{ hashAlg: HashAlgorithm[bank].id, digest }] : [],
    );
    await tpm.pcrExtend(event.pcr, digests);
  }
  const srk = await tpm.createSRK('ecc');
  const ak = (await tpm.createAK(srk, alg)).key;
  await srk.flush();
  const quote = await tpm.quote(ak.ref, NONCE, SELECTION);
  const pcrs: PcrValues = await tpm.pcrRead(SELECTION);
  // The reference set is this boot's replayed values: the appraisal takes its affirming path.
  const replayed = replay(log, { banks: ['sha256'] }).banks.sha256!;
  const values = Object.fromEntries(SELECTION[0]!.pcrs.map((pcr) => [String(pcr), pcrs.sha256![String(pcr)]!]));
  for (const p of replayed.pcrs) values[String(p.pcr)] = p.value;
  const files = { ak: join(dir, `${alg}.pem`), msg: join(dir, `${alg}.msg`), sig: join(dir, `${alg}.sig`), pcrs: join(dir, `${alg}.pcrs`), log: LOG };
  writeFileSync(files.ak, publicKeyPem(ak.public.value));
  writeFileSync(files.msg, quote.quoted.bytes);
  writeFileSync(files.sig, quote.signatureBytes);
  writeFileSync(files.pcrs, encodePcrsSerialized(toPcrSelection(SELECTION), pcrValuesInOrder(pcrs, SELECTION)));
  await ak.flush();
  return {
    evidence: { untrustedAttest: quote.quoted.bytes, untrustedSignature: quote.signatureBytes, untrustedPcrs: pcrs, untrustedEventLog: eventLog },
    inputs: {
      boundAk: ak.public.value,
      qualifyingData: NONCE,
      selection: SELECTION,
      references: { values: { sets: [{ version: 'rhel8', pcrs: { sha256: values }, events: [], assumptions: [] }] }, composefsDigests: {} },
      policy: compilePolicy({ rules: DEFAULT_POLICY.rules.filter((r) => r.name !== 'released-root-image') }).check,
      now: new Date(),
    },
    files,
  };
}

/** The log with another platformClass in its Spec ID event (right after the 32-byte SHA-1-format header and the 16-byte signature). */
function withPlatformClass(log: Uint8Array, platformClass: number): Uint8Array {
  const copy = log.slice();
  new DataView(copy.buffer).setUint32(48, platformClass, true);
  return copy;
}

/** tpm2_checkquote then tpm2_eventlog, as a script appraising with the reference tools would. */
function toolsPerSecond(f: Fixture, rounds: number): number | undefined {
  if (!findTool('tpm2_checkquote') || !findTool('tpm2_eventlog')) return undefined;
  const nonce = Buffer.from(NONCE).toString('hex');
  const start = process.hrtime.bigint();
  for (let i = 0; i < rounds; i++) {
    const check = spawnSync('tpm2_checkquote', ['-u', f.files.ak, '-m', f.files.msg, '-s', f.files.sig, '-f', f.files.pcrs, '-g', 'sha256', '-q', nonce], {
      stdio: 'ignore',
    });
    const log = spawnSync('tpm2_eventlog', [f.files.log], { stdio: 'ignore' });
    if (check.status !== 0 || log.status !== 0) return undefined;
  }
  return rounds / (Number(process.hrtime.bigint() - start) / 1e9);
}

export async function run(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'vouch-appraisal-bench-'));
  try {
    for (const alg of ['rsa', 'ecc'] as const) {
      const f = await fixture(alg, dir);
      const verdict = appraise(f.evidence, f.inputs);
      if (verdict.status !== 'affirming') throw new Error(`the bench fixture is not affirming: ${JSON.stringify(verdict.reasons)}`);
      // Re-attestation: the node's log is the one it sent last time (its boot did not change).
      const again = await opsPerSecond(() => appraise(f.evidence, f.inputs), 3);
      // First sight: every log is new to the verifier (a boot storm of distinct machines). The
      // variants differ only in the Spec ID event's platformClass, which no PCR or claim depends on.
      const variants = Array.from({ length: 256 }, (_, i) => ({
        ...f.evidence,
        untrustedEventLog: withPlatformClass(f.evidence.untrustedEventLog, 0x1000 + i),
      }));
      let next = 0;
      const first = await opsPerSecond(() => appraise(variants[next++ % variants.length]!, f.inputs), 3);
      const quoteOnly = await opsPerSecond(
        () =>
          verifyQuote({
            ak: f.inputs.boundAk!,
            untrustedAttest: f.evidence.untrustedAttest,
            untrustedSignature: f.evidence.untrustedSignature,
            pcrs: f.evidence.untrustedPcrs,
            expectedExtraData: NONCE,
            expectedSelection: SELECTION,
          }),
        2,
      );
      const logOnly = await opsPerSecond(() => replay(parseEventLog(f.evidence.untrustedEventLog), { banks: ['sha256'] }), 2);
      const tools = toolsPerSecond(f, 20);
      const name = alg === 'rsa' ? 'RSA-2048' : 'ECC P-256';
      console.log(
        `appraisal, real 34 KB log, 24 PCRs, default policy, ${name} AK: ${fmt(again, 0)}/s per core re-attesting, ` +
          `${fmt(first, 0)}/s per core for logs never seen before ` +
          `(quote alone ${fmt(quoteOnly, 0)}/s, log parse + replay alone ${fmt(logOnly, 0)}/s)` +
          (tools === undefined ? '' : `; tpm2_checkquote + tpm2_eventlog ${fmt(tools, 1)}/s (${fmt(first / tools, 0)}× on first sight)`),
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
