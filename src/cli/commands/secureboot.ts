import { createPrivateKey } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { CommandContext, CommandHandler } from '../command.ts';
import { UsageError, optionalString, requireString, stringList } from '../command.ts';
import { CliError } from '../errors.ts';
import { ExitCode } from '../exit-codes.ts';
import { toHex } from '../../bytes/index.ts';
import {
  AuthenticodeHashAlgorithm,
  authenticodeHash,
  describeSignatures,
  encodeSignatureDatabase,
  loadCertificate,
  parsePe,
  parseSignatureDatabaseFile,
  peSbat,
  signImage,
  signatureEntries,
  summarizeCertificate,
  verifyImage,
  SecureBootError,
  type CertificateDescription,
  type EfiSignatureList,
  type SignatureDescription,
  type SecureBootErrorCode,
  type SignatureEntry,
} from '../../secureboot/index.ts';
import { CliInput, readInputFile } from '../files.ts';

function onePositional(ctx: CommandContext, what: string): string {
  if (ctx.positionals.length !== 1) throw new UsageError(`name exactly one ${what}`);
  return ctx.positionals[0]!;
}

/** Owner GUID given to certificates passed as bare .crt/.der/.pem files (they carry none). */
const BARE_CERTIFICATE_OWNER = '00000000-0000-0000-0000-000000000000';

function bareCertificate(bytes: Uint8Array): Uint8Array | undefined {
  const looksPem = Buffer.from(bytes.subarray(0, 64)).toString('latin1').includes('-----BEGIN CERTIFICATE-----');
  if (!looksPem && bytes[0] !== 0x30) return undefined;
  try {
    return new Uint8Array(loadCertificate(bytes, 'certificate').raw);
  } catch (e) {
    if (e instanceof SecureBootError) return undefined;
    throw e;
  }
}

/** A db/dbx file: ESL, efivarfs dump, .auth, or a single X.509 certificate (DER or PEM). */
async function loadDatabase(ctx: CommandContext, files: readonly string[]): Promise<EfiSignatureList[]> {
  const lists: EfiSignatureList[] = [];
  for (const file of files) {
    const bytes = await readInputFile(ctx, file, CliInput.document);
    const cert = bareCertificate(bytes);
    if (cert !== undefined) {
      lists.push(
        ...parseSignatureDatabaseFile(encodeSignatureDatabase([{ type: 'x509', signatures: [{ owner: BARE_CERTIFICATE_OWNER, data: cert }] }]), 'esl').lists,
      );
    } else {
      // Appended one by one: a database file can hold more lists than a call takes arguments.
      for (const list of withFileName(file, () => parseSignatureDatabaseFile(bytes).lists)) lists.push(list);
    }
  }
  return lists;
}

/** Runs a parser on a file's bytes; a typed error names the file, since --db/--dbx may list several. */
function withFileName<T>(file: string, parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    if (!(e instanceof SecureBootError)) throw e;
    throw new SecureBootError(e.code as SecureBootErrorCode, `${file}: ${e.message}`, { ...e.details, path: file });
  }
}

function describeEntry(e: SignatureEntry): Record<string, unknown> {
  if (e.type !== 'x509') return { ...e };
  try {
    return { type: e.type, owner: e.owner, ...summarizeCertificate(loadCertificate(e.certificate, `entry of ${e.owner}`)) };
  } catch (error) {
    if (!(error instanceof SecureBootError)) throw error;
    return { type: e.type, owner: e.owner, certificate: e.certificate, unparsable: true, problem: { code: error.code, message: error.message } };
  }
}

function certificateJson(c: CertificateDescription): Record<string, unknown> {
  return c.summary ? { ...c.summary } : { problem: c.problem };
}

function signatureJson(s: SignatureDescription): Record<string, unknown> {
  return {
    offset: s.offset,
    certificateType: s.certificateType,
    digestAlgorithm: s.digestAlgorithm,
    imageDigest: s.imageDigest && toHex(s.imageDigest),
    signer: s.signer ?? null,
    certificates: s.certificates.map(certificateJson),
    nested: s.nested.map(signatureJson),
    problem: s.problem ?? null,
  };
}

/** One line per signature, with a line per certificate or signature that did not parse. */
function signatureLines(s: SignatureDescription, label: string): string[] {
  if (s.problem) return [`  ${label}: ${s.problem.code}: ${s.problem.message}`];
  if (s.digestAlgorithm === undefined) return [`  ${label}: type 0x${s.certificateType.toString(16)}`];
  return [
    `  ${label}: ${s.digestAlgorithm} by ${s.signer?.subject ?? '(signer certificate not usable)'}`,
    ...s.certificates.flatMap((c) => (c.problem ? [`    ${c.problem.code}: ${c.problem.message}`] : [])),
    ...s.nested.flatMap((n, i) => signatureLines(n, `${label}.${i} (nested)`)),
  ];
}

function hashAlgorithm(ctx: CommandContext): AuthenticodeHashAlgorithm {
  const alg = optionalString(ctx, 'alg') ?? 'sha256';
  if (!Object.hasOwn(AuthenticodeHashAlgorithm, alg)) throw new UsageError(`--alg: one of ${Object.keys(AuthenticodeHashAlgorithm).join(', ')}`);
  return alg as AuthenticodeHashAlgorithm;
}

export const handlers = {
  'secureboot verify': {
    async run(ctx) {
      const file = onePositional(ctx, 'BINARY');
      const dbFiles = stringList(ctx, 'db');
      if (dbFiles.length === 0) throw new UsageError('give at least one --db FILE');
      const image = await readInputFile(ctx, file, CliInput.image);
      const verdict = verifyImage(image, { db: await loadDatabase(ctx, dbFiles), dbx: await loadDatabase(ctx, stringList(ctx, 'dbx')) });
      const result = {
        file,
        verified: verdict.verified,
        reason: verdict.reason,
        message: verdict.message,
        sha256: toHex(verdict.sha256),
        authority: verdict.authority === undefined ? null : describeEntry(verdict.authority),
        signatures: verdict.signatures.map((s) => ({
          ...s,
          trustedBy: s.trustedBy && describeEntry(s.trustedBy),
          revokedBy: s.revokedBy && describeEntry(s.revokedBy),
        })),
        findings: verdict.findings,
      };
      const text = [
        `${file}: ${verdict.verified ? 'verified' : 'NOT verified'} (${verdict.reason}): ${verdict.message}`,
        ...verdict.findings.map((f) => `  finding: ${f}`),
      ].join('\n');
      return { result, text, exitCode: verdict.verified ? ExitCode.ok : ExitCode.notVerified };
    },
  },
  'secureboot db show': {
    async run(ctx) {
      const file = onePositional(ctx, 'FILE');
      const parsed = parseSignatureDatabaseFile(await readInputFile(ctx, file, CliInput.document));
      const entries = signatureEntries(parsed.lists).map(describeEntry);
      const result = { file, format: parsed.format, attributes: parsed.attributes, timestamp: parsed.timestamp, lists: parsed.lists.length, entries };
      const text = entries
        .map(
          (e) =>
            `${String(e['type']).padEnd(12)} ${String(e['owner'])}  ${typeof e['subject'] === 'string' ? e['subject'] : toHex((e['digest'] ?? e['tbsDigest'] ?? e['data'] ?? new Uint8Array()) as Uint8Array)}`,
        )
        .join('\n');
      return { result, text: `${file}: ${parsed.format}, ${parsed.lists.length} lists, ${entries.length} entries\n${text}` };
    },
  },
  'pe hash': {
    async run(ctx) {
      const file = onePositional(ctx, 'BINARY');
      const algorithm = hashAlgorithm(ctx);
      const pe = parsePe(await readInputFile(ctx, file, CliInput.image));
      const digest = toHex(authenticodeHash(pe, algorithm));
      // Layout findings change what firmware hashes (a certificate table not at the end): say so.
      const text = [`${digest}  ${file}`, ...pe.findings.map((f) => `  finding: ${f}`)].join('\n');
      return { result: { file, algorithm, digest, format: pe.format, findings: pe.findings }, text };
    },
  },
  'pe show': {
    async run(ctx) {
      const file = onePositional(ctx, 'BINARY');
      const pe = parsePe(await readInputFile(ctx, file, CliInput.image));
      const described = describeSignatures(pe);
      const result = {
        file,
        format: pe.format,
        machine: pe.machine,
        subsystem: pe.subsystem,
        sizeOfImage: pe.sizeOfImage,
        sizeOfHeaders: pe.sizeOfHeaders,
        checksum: pe.checksum,
        sections: pe.sections.map(({ name, virtualAddress, virtualSize, pointerToRawData, sizeOfRawData, characteristics }) => ({
          name,
          virtualAddress,
          virtualSize,
          pointerToRawData,
          sizeOfRawData,
          characteristics,
        })),
        certificateTable: pe.certificateTable ?? null,
        signatures: described.signatures.map(signatureJson),
        signatureTableProblem: described.problem ?? null,
        sbat: peSbat(pe) ?? null,
        sha256: toHex(authenticodeHash(pe, 'sha256')),
        findings: pe.findings,
      };
      const lines = [
        `${file}: ${pe.format}, ${pe.sections.length} sections, Authenticode sha256 ${result.sha256}`,
        ...pe.sections.map(
          (s) =>
            `  ${s.name.padEnd(10)} va 0x${s.virtualAddress.toString(16).padStart(8, '0')} vsize ${String(s.virtualSize).padStart(9)} raw ${String(s.sizeOfRawData).padStart(9)}`,
        ),
        ...described.signatures.flatMap((s, i) => signatureLines(s, `signature #${i}`)),
        ...(described.problem ? [`  certificate table: ${described.problem.code}: ${described.problem.message}`] : []),
        ...(result.sbat ?? []).map((e) => `  sbat ${e.component},${e.generation}`),
        ...pe.findings.map((f) => `  finding: ${f}`),
      ];
      return { result, text: lines.join('\n') };
    },
  },
  'pe sign': {
    async run(ctx) {
      const file = onePositional(ctx, 'BINARY');
      const alg = hashAlgorithm(ctx);
      if (alg === 'sha224') throw new UsageError('--alg sha224 is not used for signing');
      const keyPem = Buffer.from(await readInputFile(ctx, requireString(ctx, 'key'), CliInput.document)).toString('utf8');
      const certificate = await readInputFile(ctx, requireString(ctx, 'cert'), CliInput.document);
      const output = requireString(ctx, 'output');
      const signed = signImage(
        await readInputFile(ctx, file, CliInput.image),
        { certificate: bareCertificate(certificate) ?? certificate, privateKey: createPrivateKey(keyPem) },
        { digest: alg, mode: ctx.values['append'] ? 'append' : 'replace' },
      );
      try {
        await writeFile(resolve(ctx.io.cwd, output), signed);
      } catch (e) {
        throw new CliError('ERR_CLI_IO', `${output}: ${(e as Error).message}`, { path: output });
      }
      return { result: { file, output, sha256: toHex(authenticodeHash(signed, 'sha256')) }, text: `signed ${file} → ${output}` };
    },
  },
} satisfies Record<string, CommandHandler>;
