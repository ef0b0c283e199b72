import { createPublicKey, type KeyObject } from 'node:crypto';
import type { CommandContext, CommandHandler } from '../command.ts';
import { UsageError, optionalString, stringList } from '../command.ts';
import { ExitCode } from '../exit-codes.ts';
import { DerTag, parseDer } from '../../der/index.ts';
import { decode } from '../../tpm/schema/index.ts';
import { TPM2B_PUBLIC, TPMT_PUBLIC } from '../../tpm/structures.ts';
import { EndorsementKind, validateEndorsementCertificate, type EndorsementResult } from '../../verifier/index.ts';
import { CliInput, readInputFile } from '../files.ts';

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** The certificates of a --root/--intermediate file: every PEM block of a bundle, or one DER certificate. */
function certificatesOf(bytes: Uint8Array): (Uint8Array | string)[] {
  const blocks = Buffer.from(bytes).toString('latin1').match(PEM_BLOCK);
  return blocks ?? [bytes];
}

/**
 * --ek/--ak: the TPM's public key as tpm2-tools and vouch write it: TPM2B_PUBLIC (tpm2_createek -u,
 * tpm2_readpublic -o), a bare TPMT_PUBLIC, or a PEM/DER SubjectPublicKeyInfo (tpm2_readpublic -f pem).
 */
function publicKeyOption(bytes: Uint8Array, option: string, path: string): TPMT_PUBLIC | KeyObject {
  const text = Buffer.from(bytes).toString('latin1');
  if (text.includes('-----BEGIN')) return keyOrUsage(() => createPublicKey(text), option, path);
  if (bytes[0] === DerTag.sequence && isWholeDer(bytes))
    return keyOrUsage(() => createPublicKey({ key: Buffer.from(bytes), format: 'der', type: 'spki' }), option, path);
  // TPM2B_PUBLIC starts with its 16-bit size; a bare TPMT_PUBLIC with its 16-bit key type (0x0001 RSA, 0x0023 ECC).
  try {
    return decode(TPM2B_PUBLIC, bytes).value;
  } catch {
    // not a TPM2B_PUBLIC: a bare TPMT_PUBLIC, or neither (said below)
  }
  try {
    return decode(TPMT_PUBLIC, bytes);
  } catch (e) {
    throw new UsageError(`--${option} ${path}: not a TPM2B_PUBLIC, TPMT_PUBLIC, or PEM/DER public key (${(e as Error).message})`);
  }
}

function isWholeDer(bytes: Uint8Array): boolean {
  try {
    parseDer(bytes, 'SubjectPublicKeyInfo', DerTag.sequence);
    return true;
  } catch {
    return false;
  }
}

function keyOrUsage(read: () => KeyObject, option: string, path: string): KeyObject {
  try {
    return read();
  } catch (e) {
    throw new UsageError(`--${option} ${path}: not a public key: ${(e as Error).message}`);
  }
}

function instant(ctx: CommandContext): Date {
  const at = optionalString(ctx, 'at');
  if (at === undefined) return new Date();
  const date = new Date(at);
  if (Number.isNaN(date.getTime())) throw new UsageError(`--at ${at}: not a date and time (ISO 8601, e.g. 2026-06-01T00:00:00Z)`);
  return date;
}

async function readAll(ctx: CommandContext, files: readonly string[]): Promise<(Uint8Array | string)[]> {
  const out: (Uint8Array | string)[] = [];
  for (const file of files) out.push(...certificatesOf(await readInputFile(ctx, file, CliInput.document)));
  return out;
}

function render(file: string, r: EndorsementResult): string {
  const kind = r.kind.toUpperCase();
  const chain = r.chain.map((c) => `${c.subject}${c.root ? ' (root)' : ''}`).join(' ← ');
  const key = r.keyChecked ? `certifies this ${kind}` : `key not checked (give --${r.kind})`;
  if (r.valid) return `${file}: valid ${kind} certificate; ${key}\n  chain: ${chain}`;
  return [
    `${file}: NOT a valid ${kind} certificate${r.chain.length ? `\n  chain: ${chain}` : ''}`,
    ...r.problems.map((p) => `  ${p.code}${p.certificate === undefined ? '' : ` [#${p.certificate}]`}: ${p.message}`),
  ].join('\n');
}

export const handlers = {
  'verify ekcert': {
    async run(ctx) {
      if (ctx.positionals.length !== 1) throw new UsageError('name exactly one CERT (DER or PEM)');
      const file = ctx.positionals[0]!;
      const rootFiles = stringList(ctx, 'root');
      if (rootFiles.length === 0) throw new UsageError('give at least one --root FILE (PEM bundle or DER)');
      const ekFile = optionalString(ctx, 'ek');
      const akFile = optionalString(ctx, 'ak');
      if (ekFile !== undefined && akFile !== undefined) throw new UsageError('give --ek or --ak, not both: the certificate is one or the other');
      const kind = akFile !== undefined ? EndorsementKind.ak : EndorsementKind.ek;
      const keyFile = akFile ?? ekFile;
      const key = keyFile === undefined ? null : publicKeyOption(await readInputFile(ctx, keyFile, CliInput.document), kind, keyFile);
      const result = await validateEndorsementCertificate(kind, await readInputFile(ctx, file, CliInput.document), key, {
        roots: await readAll(ctx, rootFiles),
        intermediates: await readAll(ctx, stringList(ctx, 'intermediate')),
        now: instant(ctx),
      });
      return { result: { file, ...result }, text: render(file, result), exitCode: result.valid ? ExitCode.ok : ExitCode.notVerified };
    },
  },
} satisfies Record<string, CommandHandler>;
