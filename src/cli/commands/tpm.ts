// `vouch tpm ...`: talk to a TPM named by URI (device:/dev/tpmrm0, swtpm:host=H,port=N, sim:[path]).
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { CommandContext, CommandHandler } from '../command.ts';
import { UsageError, optionalString, requireString, stringList } from '../command.ts';
import { CliError } from '../errors.ts';
import { fromHex, toHex } from '../../bytes/index.ts';
import { Tpm } from '../../tpm/client.ts';
import { pcrValuesInOrder, toPcrSelection, type PcrSelection } from '../../tpm/pcr-selection.ts';
import { pcrBanks, pcrNumbers } from '../../hash/index.ts';
import { HASH_SIZE, TPM_ALG, algLabel, hashAlgFromName } from '../../tpm/constants.ts';
import { TpmError } from '../../tpm/errors.ts';
import { tpmHash } from '../../tpm/names.ts';
import type { TpmHashAlg } from '../../tpm/structures.ts';
import type { SignScheme } from '../../tpm/templates.ts';
import { encodePcrsSerialized, parsePcrList } from '../../tpm/tpm2-tools-files.ts';
import { checkQuote, VerifierError } from '../../verifier/index.ts';
import { onFile } from '../files.ts';
import { makeDirectory } from '../../io/index.ts';
import { createAk, loadAk, readAk, writeAk, type AkBlobs } from '../../agent/ak.ts';
import { AgentError } from '../../agent/errors.ts';

const DEFAULT_TPM = 'device:/dev/tpmrm0';

/** Opens the TPM of --tpm (else $VOUCH_TPM, else device:/dev/tpmrm0), makes sure it is started, runs fn, closes it. */
async function withTpm<T>(ctx: CommandContext, fn: (tpm: Tpm) => Promise<T>): Promise<T> {
  const uri = optionalString(ctx, 'tpm') ?? ctx.io.env.VOUCH_TPM;
  const tpm = await Tpm.open(uri ?? DEFAULT_TPM).catch((e: unknown) => {
    // A machine without a TPM (a laptop, a CI container) is the usual reason: say how to pick another.
    if (uri === undefined && e instanceof TpmError && e.code === 'ERR_TPM_TRANSPORT') {
      throw new TpmError(
        'ERR_TPM_TRANSPORT',
        `${e.message} (no --tpm and no $VOUCH_TPM: give --tpm swtpm:host=H,port=N or --tpm sim:PATH for a software TPM)`,
        e.details,
        { cause: e },
      );
    }
    throw e;
  });
  try {
    await tpm.startup();
    return await fn(tpm);
  } finally {
    await tpm.close();
  }
}

/** A hex option (nonce, digest) as bytes; bad hex is a usage error that names the option. */
export function hexOption(ctx: CommandContext, name: string, text = requireString(ctx, name)): Uint8Array {
  try {
    return fromHex(text);
  } catch (e) {
    throw new UsageError(`--${name}: ${(e as Error).message}`);
  }
}

/** A PCR list option in tpm2-tools syntax (sha256:0,1,2-7+sha1:all); a bad one is a usage error. */
export function pcrListOption(ctx: CommandContext, name: string): PcrSelection[] | undefined {
  const spec = optionalString(ctx, name);
  if (spec === undefined) return undefined;
  try {
    return parsePcrList(spec);
  } catch (e) {
    throw new UsageError(`--${name}: ${(e as Error).message}`);
  }
}

const info: CommandHandler = {
  run: (ctx) =>
    withTpm(ctx, async (tpm) => {
      const about = await tpm.info();
      const banks = (await tpm.pcrBanks()).map(algLabel);
      const algorithms = (await tpm.algorithms()).map((a) => algLabel(a.alg));
      const result = { ...about, pcrBanks: banks, algorithms };
      const text = [
        `manufacturer: ${about.manufacturer} (${about.vendor})`,
        `firmware:     ${about.firmwareVersion}`,
        `spec:         ${about.specRevision} (${about.specYear})`,
        `pcr banks:    ${banks.join(', ')}`,
        `algorithms:   ${algorithms.join(' ')}`,
      ].join('\n');
      return { result, text };
    }),
};

const pcrread: CommandHandler = {
  run: (ctx) => {
    const asked = pcrListOption(ctx, 'pcrs');
    return withTpm(ctx, async (tpm) => {
      const selection = asked ?? (await tpm.pcrBanks()).map((hash) => ({ hash, pcrs: Array.from({ length: 24 }, (_, i) => i) }));
      const result = await tpm.pcrRead(selection);
      const lines: string[] = [];
      for (const bank of pcrBanks(result)) {
        lines.push(`${bank}:`);
        for (const pcr of pcrNumbers(result, bank)) lines.push(`  ${String(pcr).padEnd(2)}: 0x${result[bank]![String(pcr)]!.toUpperCase()}`);
      }
      return { result, text: lines.join('\n') };
    });
  },
};

const extend: CommandHandler = {
  run: (ctx) =>
    withTpm(ctx, async (tpm) => {
      const pcrText = requireString(ctx, 'pcr');
      if (!/^\d+$/.test(pcrText) || Number(pcrText) > 23) throw new UsageError('--pcr must be 0..23');
      const pcr = Number(pcrText);
      const data = optionalString(ctx, 'data');
      const given = stringList(ctx, 'digest');
      if ((data === undefined) === (given.length === 0)) throw new UsageError('give either --data or --digest');
      let digests: { hashAlg: TpmHashAlg; digest: Uint8Array }[];
      if (data !== undefined) {
        digests = (await tpm.pcrBanks()).map((hashAlg) => ({ hashAlg, digest: tpmHash(hashAlg, new TextEncoder().encode(data)) }));
      } else {
        digests = given.map((g) => {
          const [alg, hex] = g.split(':');
          const hashAlg = hashAlgFromName(alg ?? '');
          if (hashAlg === undefined || hex === undefined) throw new UsageError(`--digest ${g}: expected ALG:HEX with ALG one of sha1, sha256, sha384, sha512`);
          const digest = hexOption(ctx, 'digest', hex);
          if (digest.length !== HASH_SIZE[hashAlg]) throw new UsageError(`--digest ${g}: a ${alg} digest is ${HASH_SIZE[hashAlg]} bytes, got ${digest.length}`);
          return { hashAlg: hashAlg as TpmHashAlg, digest };
        });
      }
      await tpm.pcrExtend(pcr, digests);
      const after = await tpm.pcrRead(digests.map((d) => ({ hash: d.hashAlg, pcrs: [pcr] })));
      const result = Object.fromEntries(pcrBanks(after).map((bank) => [bank, after[bank]![String(pcr)]!]));
      return {
        result: { pcr, values: result },
        text: Object.entries(result)
          .map(([k, v]) => `${k}:${pcr} = ${v}`)
          .join('\n'),
      };
    }),
};

const akCreate: CommandHandler = {
  run: async (ctx) => {
    const out = resolve(ctx.io.cwd, requireString(ctx, 'out'));
    const alg = optionalString(ctx, 'alg') ?? 'rsa';
    if (alg !== 'rsa' && alg !== 'ecc') throw new UsageError('--alg must be rsa or ecc');
    const scheme = (optionalString(ctx, 'scheme') ?? (alg === 'rsa' ? 'rsassa' : 'ecdsa')) as SignScheme;
    if (alg === 'rsa' ? scheme !== 'rsassa' && scheme !== 'rsapss' : scheme !== 'ecdsa') throw new UsageError(`--scheme ${scheme} does not fit --alg ${alg}`);
    return withTpm(ctx, async (tpm) => {
      const ak = await createAk(tpm, alg, scheme);
      await onFile(out, () => writeAk(out, ak));
      return { result: { dir: out, ...ak.descriptor }, text: `AK (${alg}, ${scheme}) written to ${out}\nname: ${ak.descriptor.name}` };
    });
  },
};

/** The AK directory named by --ak; unreadable files and content that is not an AK are both ERR_CLI_IO, naming the file. */
async function readAkOption(dir: string): Promise<AkBlobs> {
  try {
    return await onFile(dir, () => readAk(dir));
  } catch (e) {
    if (e instanceof AgentError && e.code === 'ERR_AGENT_STATE') throw new CliError('ERR_CLI_IO', e.message, { path: dir });
    throw e;
  }
}

const quote: CommandHandler = {
  run: async (ctx) => {
    const akDir = resolve(ctx.io.cwd, requireString(ctx, 'ak'));
    const out = resolve(ctx.io.cwd, requireString(ctx, 'out'));
    const nonce = hexOption(ctx, 'nonce');
    const selection = pcrListOption(ctx, 'pcrs') ?? [{ hash: TPM_ALG.SHA256, pcrs: Array.from({ length: 24 }, (_, i) => i) }];
    const blobs = await readAkOption(akDir);
    return withTpm(ctx, async (tpm) => {
      const ak = await loadAk(tpm, blobs, akDir);
      try {
        // PCRs may move between the quote and the read-back (another process extending): the
        // values written must be the ones quoted, so retry until pcrDigest agrees.
        for (let attempt = 0; attempt < 5; attempt++) {
          const q = await tpm.quote(ak.ref, nonce, selection);
          const pcrs = await tpm.pcrRead(selection);
          // The verifier's own check (signature, nonce, pcrDigest over these values) before anything
          // is written: a digest mismatch means a PCR moved in between, so quote again.
          const verdict = checkQuote({
            ak: blobs.public.value,
            untrustedAttest: q.quoted.bytes,
            untrustedSignature: q.signatureBytes,
            pcrs,
            expectedExtraData: nonce,
            expectedSelection: selection,
          });
          if (!verdict.verified && verdict.code === 'ERR_QUOTE_PCR_DIGEST_MISMATCH') continue;
          if (!verdict.verified) throw new VerifierError(verdict.code, `the TPM's quote does not verify: ${verdict.reason}`, verdict.details);
          const attested = q.quoted.value.attested as { pcrDigest: Uint8Array };
          await onFile(out, async () => {
            await makeDirectory(out);
            await writeFile(join(out, 'quote.msg'), q.quoted.bytes);
            await writeFile(join(out, 'quote.sig'), q.signatureBytes);
            await writeFile(join(out, 'quote.pcrs'), encodePcrsSerialized(toPcrSelection(selection), pcrValuesInOrder(pcrs, selection)));
          });
          const result = {
            dir: out,
            nonce: toHex(nonce),
            pcrs: selection.map((s) => `${algLabel(s.hash)}:${s.pcrs.join(',')}`),
            pcrDigest: toHex(attested.pcrDigest),
          };
          return { result, text: `quote written to ${out} (quote.msg, quote.sig, quote.pcrs)` };
        }
        throw new TpmError('ERR_TPM_BAD_VALUE', 'PCR values kept changing while quoting; no consistent quote after 5 attempts', {});
      } finally {
        await ak.flush();
      }
    });
  },
};

export const handlers = { 'tpm info': info, 'tpm pcrread': pcrread, 'tpm extend': extend, 'tpm ak create': akCreate, 'tpm quote': quote } satisfies Record<
  string,
  CommandHandler
>;
