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
import { publicKeyPem } from '../../tpm/crypto/public-key.ts';
import { TpmError } from '../../tpm/errors.ts';
import { objectName, tpmHash } from '../../tpm/names.ts';
import { decode, encode, type Sized } from '../../tpm/schema/index.ts';
import { TPM2B_PRIVATE, TPM2B_PUBLIC, type TPMT_PUBLIC, type TpmHashAlg } from '../../tpm/structures.ts';
import type { KeyAlg, SignScheme } from '../../tpm/templates.ts';
import { encodePcrsSerialized, parsePcrList } from '../../tpm/tpm2-tools-files.ts';
import { checkQuote, VerifierError } from '../../verifier/index.ts';
import { CliInput, onFile, readFileAs } from '../files.ts';
import { makeDirectory } from '../../io/index.ts';

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

/** What `vouch tpm ak create` writes next to ak.pub.pem, so `vouch tpm quote --ak DIR` can load the AK again. */
interface AkDescriptor {
  readonly format: 'vouch-ak-v1';
  /** The AK is a child of the storage root key made from this template in the owner hierarchy. */
  readonly parent: { readonly kind: 'srk'; readonly alg: KeyAlg; readonly template: 'tcg-provisioning-srk' };
  readonly alg: KeyAlg;
  readonly scheme: SignScheme;
  /** Name(AK) in hex: checked on every load, and what MakeCredential binds to. */
  readonly name: string;
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
    const srkAlg: KeyAlg = 'ecc';
    return withTpm(ctx, async (tpm) => {
      await using srk = await tpm.createSRK(srkAlg);
      const ak = await tpm.createAK(srk, alg, scheme);
      await ak.key.flush();
      const descriptor: AkDescriptor = {
        format: 'vouch-ak-v1',
        parent: { kind: 'srk', alg: srkAlg, template: 'tcg-provisioning-srk' },
        alg,
        scheme,
        name: toHex(ak.key.name),
      };
      const pem = publicKeyPem(ak.public.value);
      await onFile(out, async () => {
        await makeDirectory(out);
        await writeFile(join(out, 'ak.pub.pem'), pem);
        await writeFile(join(out, 'ak.pub'), encode(TPM2B_PUBLIC, ak.public));
        await writeFile(join(out, 'ak.priv'), encode(TPM2B_PRIVATE, ak.private));
        await writeFile(join(out, 'ak.name'), ak.key.name);
        await writeFile(join(out, 'ak.json'), JSON.stringify(descriptor, null, 2) + '\n');
      });
      return { result: { dir: out, ...descriptor }, text: `AK (${alg}, ${scheme}) written to ${out}\nname: ${descriptor.name}` };
    });
  },
};

/** ak.json is read back from a directory anyone may have edited: its shape is checked, not assumed. */
function isAkDescriptor(untrusted: unknown): untrusted is AkDescriptor {
  if (typeof untrusted !== 'object' || untrusted === null) return false;
  const d = untrusted as { format?: unknown; parent?: unknown };
  if (d.format !== 'vouch-ak-v1' || typeof d.parent !== 'object' || d.parent === null) return false;
  const parent = d.parent as { kind?: unknown; alg?: unknown };
  return parent.kind === 'srk' && (parent.alg === 'rsa' || parent.alg === 'ecc');
}

async function readAk(dir: string): Promise<{ descriptor: AkDescriptor; pub: Sized<TPMT_PUBLIC>; priv: Uint8Array }> {
  // One after the other, so a directory missing several files always names the same one first.
  const json = Buffer.from(await readFileAs(join(dir, 'ak.json'), dir, CliInput.document)).toString('utf8');
  const pubBytes = await readFileAs(join(dir, 'ak.pub'), dir, CliInput.document);
  const privBytes = await readFileAs(join(dir, 'ak.priv'), dir, CliInput.document);
  let descriptor: unknown;
  try {
    descriptor = JSON.parse(json);
  } catch (e) {
    throw new CliError('ERR_CLI_IO', `${join(dir, 'ak.json')}: not JSON: ${(e as Error).message}`, { path: dir });
  }
  if (!isAkDescriptor(descriptor)) {
    throw new CliError('ERR_CLI_IO', `${join(dir, 'ak.json')}: not a Vouch AK descriptor (format vouch-ak-v1)`, { path: dir });
  }
  const pub = decode(TPM2B_PUBLIC, new Uint8Array(pubBytes), 'ak.pub');
  const priv = decode(TPM2B_PRIVATE, new Uint8Array(privBytes), 'ak.priv');
  if (toHex(objectName(pub)) !== descriptor.name)
    throw new TpmError('ERR_TPM_BAD_VALUE', `${dir}: ak.pub does not have the Name recorded in ak.json`, { path: dir });
  return { descriptor, pub, priv };
}

const quote: CommandHandler = {
  run: async (ctx) => {
    const akDir = resolve(ctx.io.cwd, requireString(ctx, 'ak'));
    const out = resolve(ctx.io.cwd, requireString(ctx, 'out'));
    const nonce = hexOption(ctx, 'nonce');
    const selection = pcrListOption(ctx, 'pcrs') ?? [{ hash: TPM_ALG.SHA256, pcrs: Array.from({ length: 24 }, (_, i) => i) }];
    const { descriptor, pub, priv } = await readAk(akDir);
    return withTpm(ctx, async (tpm) => {
      const srk = await tpm.createSRK(descriptor.parent.alg);
      const ak = await tpm
        .load(srk.ref, priv, pub)
        .catch((e: unknown) => {
          if (!(e instanceof TpmError) || e.code !== 'ERR_TPM_RC') throw e;
          // TPM_RC_INTEGRITY: the private blob is wrapped by another storage key than this TPM's SRK.
          const hint =
            e.details.rcName === 'TPM_RC_INTEGRITY'
              ? ": the AK was made by another TPM, or this TPM's owner hierarchy was cleared since; make a new one with vouch tpm ak create"
              : '';
          throw new TpmError('ERR_TPM_RC', `cannot load the AK of ${akDir}: ${e.message}${hint}`, e.details, { cause: e });
        })
        .finally(() => srk.flush());
      try {
        // PCRs may move between the quote and the read-back (another process extending): the
        // values written must be the ones quoted, so retry until pcrDigest agrees.
        for (let attempt = 0; attempt < 5; attempt++) {
          const q = await tpm.quote(ak.ref, nonce, selection);
          const pcrs = await tpm.pcrRead(selection);
          // The verifier's own check (signature, nonce, pcrDigest over these values) before anything
          // is written: a digest mismatch means a PCR moved in between, so quote again.
          const verdict = checkQuote({
            ak: pub.value,
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
