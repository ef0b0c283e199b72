import { createPublicKey } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command, CommandContext } from '../command.ts';
import { requireString } from '../command.ts';
import { ExitCode } from '../exit-codes.ts';
import { toHex } from '../../bytes/index.ts';
import { algLabel } from '../../tpm/constants.ts';
import { decode } from '../../tpm/schema/index.ts';
import { TPM2B_PUBLIC } from '../../tpm/structures.ts';
import {
  checkQuote,
  describeSelection,
  pcrValuesFromRawFile,
  pcrValuesFromSerializedFile,
  VerifierError,
  type AttestationKey,
  type PcrBankValues,
  type QuoteVerdict,
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
 * --ak: a PEM public key (tpm2_readpublic -f pem), a DER SubjectPublicKeyInfo (-f der), or a
 * TPM2B_PUBLIC (tpm2_create -u, vouch tpm ak create), whose attributes and scheme are then
 * enforced. A file that is none of these is an AK that cannot vouch for the quote.
 */
function attestationKey(bytes: Uint8Array, path: string): AttestationKey {
  const text = Buffer.from(bytes).toString('latin1');
  if (text.includes('-----BEGIN')) return text;
  // A DER SEQUENCE starts with 0x30; a TPM2B_PUBLIC with its 16-bit size, under 0x3000 for any key.
  if (bytes[0] === 0x30) {
    try {
      return createPublicKey({ key: Buffer.from(bytes), format: 'der', type: 'spki' });
    } catch {
      // not SPKI: try it as a TPM2B_PUBLIC below, whose error says what is wrong
    }
  }
  try {
    return decode(TPM2B_PUBLIC, bytes, 'TPM2B_PUBLIC').value;
  } catch (e) {
    throw new VerifierError(
      'ERR_QUOTE_AK_INVALID',
      `--ak ${path} is not a PEM or DER public key nor a TPM2B_PUBLIC: ${(e as Error).message}`,
      { path },
      { cause: e },
    );
  }
}

function report(verdict: QuoteVerdict): { result: unknown; text: string; exitCode: ExitCode } {
  if (!verdict.verified) {
    return {
      result: { verified: false, code: verdict.code, reason: verdict.reason, details: verdict.details },
      text: `NOT VERIFIED: ${verdict.code}: ${verdict.reason}`,
      exitCode: ExitCode.notVerified,
    };
  }
  const q = verdict.quote;
  const pcrs = Object.fromEntries(q.pcrs.map((b: PcrBankValues) => [algLabel(b.hash), Object.fromEntries([...b.values].map(([i, v]) => [i, toHex(v)]))]));
  const { clock, resetCount, restartCount, safe } = q.attest.clockInfo;
  const result = {
    verified: true,
    scheme: { signature: algLabel(q.scheme.sigAlg), hash: algLabel(q.scheme.hashAlg) },
    selection: describeSelection(q.selection),
    pcrDigest: toHex(q.pcrDigest),
    extraData: toHex(q.attest.extraData),
    clock: { clock: clock.toString(), resetCount, restartCount, safe },
    firmwareVersion: `0x${q.attest.firmwareVersion.toString(16)}`,
    pcrs,
  };
  const lines = [
    `VERIFIED: quote signed with ${result.scheme.signature}/${result.scheme.hash}, nonce matches, PCRs ${result.selection} match pcrDigest ${result.pcrDigest}`,
    `  clock ${result.clock.clock} ms, resets ${resetCount}, restarts ${restartCount}, firmware ${result.firmwareVersion}`,
  ];
  return { result, text: lines.join('\n'), exitCode: ExitCode.ok };
}

const verifyQuoteCommand: Command = {
  path: ['verify', 'quote'],
  summary: 'Verify a TPM quote (tpm2_quote or vouch tpm quote output) against an AK, a nonce and PCR values',
  usage: '--ak PEM|DER|TPM2B_PUBLIC|AKDIR --msg FILE --sig FILE --pcrs FILE [--pcr-list sha256:0,1,...] --nonce HEX',
  options: {
    ak: { type: 'string' },
    msg: { type: 'string' },
    sig: { type: 'string' },
    pcrs: { type: 'string' },
    'pcr-list': { type: 'string' },
    nonce: { type: 'string' },
  },
  async run(ctx) {
    const nonce = hexOption(ctx, 'nonce');
    // With --pcr-list the file holds raw values (tpm2_pcrread -o) and the quote must cover exactly that list.
    const expectedSelection = pcrListOption(ctx, 'pcr-list');
    const akPath = await akFile(ctx, requireString(ctx, 'ak'));
    const files: Uint8Array[] = [];
    // In order, so when several files are missing the same one is named every time.
    for (const f of [akPath, ...['msg', 'sig', 'pcrs'].map((o) => requireString(ctx, o))]) files.push(await readInputFile(ctx, f, CliInput.document));
    const [akBytes, attest, signature, pcrBytes] = files;
    try {
      const pcrs = expectedSelection ? pcrValuesFromRawFile(pcrBytes!, expectedSelection) : pcrValuesFromSerializedFile(pcrBytes!);
      return report(
        checkQuote({
          ak: attestationKey(akBytes!, akPath),
          untrustedAttest: attest!,
          untrustedSignature: signature!,
          pcrs,
          expectedExtraData: nonce,
          ...(expectedSelection ? { expectedSelection } : {}),
        }),
      );
    } catch (e) {
      if (e instanceof VerifierError) return report({ verified: false, code: e.code as never, reason: e.message, details: e.details });
      throw e;
    }
  },
};

export const commands: Command[] = [verifyQuoteCommand];
