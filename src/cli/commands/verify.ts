import { createPublicKey } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { CommandContext, CommandHandler } from '../command.ts';
import { UsageError, optionalString, requireString } from '../command.ts';
import { ExitCode } from '../exit-codes.ts';
import { toHex } from '../../bytes/index.ts';
import { isVouchError } from '../../errors/index.ts';
import { compareWithQuote, parseEventLog, replay, type PcrComparisonEntry } from '../../eventlog/index.ts';
import { pcrBanks, type HashAlgorithmName, type PcrValues } from '../../hash/index.ts';
import type { PcrSelection } from '../../tpm/index.ts';
import { algLabel } from '../../tpm/constants.ts';
import { decode } from '../../tpm/schema/index.ts';
import { TPM2B_PUBLIC, TPMT_PUBLIC } from '../../tpm/structures.ts';
import {
  DEFAULT_QUOTE_SIGNATURE_HASHES,
  checkQuote,
  describeSelection,
  pcrValuesFromRawFile,
  pcrValuesFromSerializedFile,
  sameSelection,
  VerifierError,
  type AttestationKey,
  type QuoteVerdict,
  type VerifiedQuote,
} from '../../verifier/index.ts';
import { CliInput, readInputFile } from '../files.ts';
import { hexOption, pcrListOption } from './tpm.ts';

/** --ak DIR (written by vouch tpm ak create) means its TPM2B_PUBLIC, DIR/ak.pub. */
async function akFile(ctx: CommandContext, path: string): Promise<string> {
  const isDir = await stat(resolve(ctx.io.cwd, path)).then(
    (s) => s.isDirectory(),
    () => false,
  );
  return isDir ? join(path, 'ak.pub') : path;
}

/**
 * --ak: a TPM2B_PUBLIC (tpm2_create -u, vouch tpm ak create) or a bare TPMT_PUBLIC, whose
 * attributes and scheme are then enforced; or a PEM / DER SubjectPublicKeyInfo (tpm2_readpublic
 * -f pem|der), which carries no TPM attributes — accepted, with a warning in the result. A file that
 * is none of these is an AK that cannot vouch for the quote.
 */
function attestationKey(bytes: Uint8Array, path: string): AttestationKey {
  const text = Buffer.from(bytes).toString('latin1');
  if (text.includes('-----BEGIN')) return { barePublicKey: text };
  // A DER SEQUENCE starts with 0x30; a TPM2B_PUBLIC with its 16-bit size, under 0x3000 for any key.
  if (bytes[0] === 0x30) {
    try {
      return { barePublicKey: createPublicKey({ key: Buffer.from(bytes), format: 'der', type: 'spki' }) };
    } catch {
      // not SPKI: try the TPM forms below, whose error says what is wrong
    }
  }
  // TPM2B_PUBLIC is TPMT_PUBLIC behind a 16-bit size equal to the rest of the file.
  const sized = bytes.length >= 2 && ((bytes[0]! << 8) | bytes[1]!) === bytes.length - 2;
  try {
    return sized ? decode(TPM2B_PUBLIC, bytes, 'TPM2B_PUBLIC').value : decode(TPMT_PUBLIC, bytes, 'TPMT_PUBLIC');
  } catch (e) {
    throw new VerifierError(
      'ERR_QUOTE_AK_INVALID',
      `--ak ${path} is not a TPM2B_PUBLIC, TPMT_PUBLIC, PEM or DER public key: ${(e as Error).message}`,
      { path },
      { cause: e },
    );
  }
}

interface LogReplay {
  readonly matches: boolean;
  readonly mismatches: readonly PcrComparisonEntry[];
}

/** Replays the event log against exactly the quoted values (`--eventlog`). */
function replayAgainst(quote: VerifiedQuote, log: Uint8Array): LogReplay {
  const parsed = parseEventLog(log);
  const comparison = compareWithQuote(replay(parsed, { banks: pcrBanks(quote.pcrs) }), quote.pcrs);
  return { matches: comparison.allMatch, mismatches: comparison.mismatches };
}

function warningsOf(quote: VerifiedQuote): string[] {
  const warnings: string[] = [];
  if (!quote.fresh) warnings.push('the quote carries no qualifying data: it proves what the PCRs held, not when (it could be replayed)');
  if (!quote.akAttributesChecked) {
    warnings.push('the AK is a bare public key: whether it is a restricted TPM signing key was not checked (pass its TPM2B_PUBLIC to check)');
  }
  return warnings;
}

function report(verdict: QuoteVerdict, log: Uint8Array | undefined): { result: unknown; text: string; exitCode: ExitCode } {
  if (!verdict.verified) {
    return {
      result: { verified: false, code: verdict.code, reason: verdict.reason, details: verdict.details },
      text: `NOT VERIFIED: ${verdict.code}: ${verdict.reason}`,
      exitCode: ExitCode.notVerified,
    };
  }
  const q = verdict.quote;
  const warnings = warningsOf(q);
  let eventLog: LogReplay | { readonly error: { code: string; message: string } } | undefined;
  if (log) {
    try {
      eventLog = replayAgainst(q, log);
    } catch (e) {
      if (!isVouchError(e)) throw e;
      eventLog = { error: { code: e.code, message: e.message } };
    }
  }
  const { clock, resetCount, restartCount, safe } = q.clock;
  const result = {
    verified: true,
    scheme: { signature: algLabel(q.scheme.sigAlg), hash: algLabel(q.scheme.hashAlg) },
    selection: describeSelection(q.selection),
    pcrDigest: toHex(q.pcrDigest),
    extraData: toHex(q.attest.extraData),
    clock: { clock: clock.toString(), resetCount, restartCount, safe },
    firmwareVersion: `0x${q.firmwareVersion.toString(16)}`,
    pcrs: q.pcrs,
    warnings,
    ...(eventLog ? { eventLog } : {}),
  };
  const lines = [
    `VERIFIED: quote signed with ${result.scheme.signature}/${result.scheme.hash}, ${q.fresh ? 'nonce matches' : 'no nonce'}, PCRs ${result.selection} match pcrDigest ${result.pcrDigest}`,
    `  clock ${result.clock.clock} ms, resets ${resetCount}, restarts ${restartCount}, safe ${safe ? 'yes' : 'no'}, firmware ${result.firmwareVersion}`,
    ...warnings.map((w) => `  warning: ${w}`),
  ];
  let exitCode: ExitCode = ExitCode.ok;
  if (eventLog && 'error' in eventLog) {
    lines.push(`EVENT LOG NOT VERIFIED: ${eventLog.error.code}: ${eventLog.error.message}`);
    exitCode = ExitCode.notVerified;
  } else if (eventLog) {
    if (eventLog.matches) lines.push('  event log replays to every quoted PCR');
    for (const m of eventLog.mismatches) lines.push(`EVENT LOG DOES NOT REPLAY: ${m.bank} PCR ${m.pcr}: log gives ${m.replayed}, quote has ${m.quoted ?? '?'}`);
    if (!eventLog.matches) exitCode = ExitCode.notVerified;
  }
  return { result, text: lines.join('\n'), exitCode };
}

/** --nonce HEX, or --no-nonce for a quote made without qualifying data (said loudly in the result). */
function expectedExtraData(ctx: CommandContext): Uint8Array {
  const noNonce = ctx.values['no-nonce'] === true;
  if (noNonce && optionalString(ctx, 'nonce') !== undefined) throw new UsageError('--nonce and --no-nonce exclude each other');
  if (noNonce) return new Uint8Array(0);
  if (optionalString(ctx, 'nonce') === undefined) throw new UsageError('missing --nonce HEX (or --no-nonce for a quote made without qualifying data)');
  return hexOption(ctx, 'nonce');
}

const verifyQuoteCommand: CommandHandler = {
  async run(ctx) {
    const extraData = expectedExtraData(ctx);
    const listed = pcrListOption(ctx, 'pcr-list');
    const akPath = await akFile(ctx, requireString(ctx, 'ak'));
    const logPath = optionalString(ctx, 'eventlog');
    const files: Uint8Array[] = [];
    // In order, so when several files are missing the same one is named every time.
    for (const f of [akPath, ...['msg', 'sig', 'pcrs'].map((o) => requireString(ctx, o))]) files.push(await readInputFile(ctx, f, CliInput.document));
    if (logPath) files.push(await readInputFile(ctx, logPath, CliInput.eventLog));
    const [akBytes, attest, signature, pcrBytes, log] = files;
    const allowedSignatureHashes: HashAlgorithmName[] = [...DEFAULT_QUOTE_SIGNATURE_HASHES, ...(ctx.values['allow-sha1'] === true ? ['sha1' as const] : [])];
    try {
      const { pcrs, selection } = pcrFile(pcrBytes!, listed);
      return report(
        checkQuote({
          ak: attestationKey(akBytes!, akPath),
          untrustedAttest: attest!,
          untrustedSignature: signature!,
          pcrs,
          expectedExtraData: extraData,
          expectedSelection: selection,
          allowedSignatureHashes,
        }),
        log,
      );
    } catch (e) {
      if (e instanceof VerifierError) return report({ verified: false, code: e.code as never, reason: e.message, details: e.details }, undefined);
      throw e;
    }
  },
};

/**
 * The PCR file: a serialized file names its own selection, which must equal --pcr-list when one is
 * given; a file that is not serialized is raw digests, which only --pcr-list can split.
 */
function pcrFile(bytes: Uint8Array, listed: PcrSelection[] | undefined): { pcrs: PcrValues; selection: PcrSelection[] } {
  let serialized: { values: PcrValues; selection: PcrSelection[] } | undefined;
  try {
    serialized = pcrValuesFromSerializedFile(bytes);
  } catch (e) {
    if (!(e instanceof VerifierError) || listed === undefined) throw e;
  }
  if (serialized) {
    if (listed && !sameSelection(listed, serialized.selection)) {
      throw new VerifierError(
        'ERR_QUOTE_SELECTION_MISMATCH',
        `the PCR file holds ${describeSelection(serialized.selection)}, --pcr-list says ${describeSelection(listed)}`,
        { file: describeSelection(serialized.selection), listed: describeSelection(listed) },
      );
    }
    return { pcrs: serialized.values, selection: serialized.selection };
  }
  return { pcrs: pcrValuesFromRawFile(bytes, listed!), selection: listed! };
}

export const handlers = { 'verify quote': verifyQuoteCommand } satisfies Record<string, CommandHandler>;
