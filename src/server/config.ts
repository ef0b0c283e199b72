// The server's configuration: a document (the --config file, YAML or JSON) checked against one
// schema, flags laid over it, defaults filled in, and the PEM files it names read once at start.
// Everything after start-up reads the resolved ServerConfig; nothing re-reads files.
import { readFileSync } from 'node:fs';
import { Type, type Static } from 'typebox';
import { Compile } from 'typebox/compile';
import { parse as parseYaml } from 'yaml';
import type { StoreLocation } from '../store/index.ts';
import { ServerError } from './errors.ts';

const seconds = (description: string, maximum = 366 * 24 * 3600) => Type.Integer({ minimum: 1, maximum, description });
const paths = (description: string) => Type.Array(Type.String({ minLength: 1 }), { maxItems: 256, description });
const rate = Type.Object(
  { requests: Type.Integer({ minimum: 1, maximum: 1_000_000 }), windowSeconds: seconds('window length', 86_400) },
  { additionalProperties: false },
);

export const JOIN_KINDS = ['none', 'kubeadm-bootstrap-token', 'kubelet-client-certificate'] as const;
export type JoinKind = (typeof JOIN_KINDS)[number];

/** The --config document. Every field is optional; flags override it. */
export const ConfigDocument = Type.Object(
  {
    listen: Type.Optional(Type.String({ description: 'host:port (default 127.0.0.1:8443)' })),
    dataDir: Type.Optional(Type.String({ minLength: 1 })),
    database: Type.Optional(Type.String({ pattern: '^postgres(ql)?://' })),
    tls: Type.Optional(Type.Object({ cert: Type.String(), key: Type.String() }, { additionalProperties: false })),
    masterKey: Type.Optional(Type.Union([Type.String(), Type.Array(Type.String(), { minItems: 1, maxItems: 8 })])),
    issuer: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    enrollment: Type.Optional(
      Type.Object(
        {
          ekRoots: Type.Optional(paths('PEM files of the TPM manufacturer root CAs trusted for EK certificates')),
          ekIntermediates: Type.Optional(paths('PEM files of intermediate CAs that help build EK certificate chains')),
          ekAllowlist: Type.Optional(Type.Array(Type.String({ pattern: '^[0-9a-fA-F]{68}$|^[0-9a-fA-F]{100}$|^[0-9a-fA-F]{132}$' }), { maxItems: 100_000 })),
          approvalQueue: Type.Optional(Type.Boolean()),
          cloudAkRoots: Type.Optional(paths('PEM files of cloud vTPM CAs whose AK certificates replace credential activation')),
          cloudAkIntermediates: Type.Optional(paths('PEM files of their intermediate CAs')),
          challengeTtlSeconds: Type.Optional(seconds('life of a credential challenge', 3600)),
        },
        { additionalProperties: false },
      ),
    ),
    attestation: Type.Optional(
      Type.Object(
        {
          sessionTtlSeconds: Type.Optional(seconds('life of an attestation challenge', 3600)),
          pcrs: Type.Optional(
            Type.Record(
              Type.String({ pattern: '^(sha1|sha256|sha384|sha512)$' }),
              Type.Array(Type.Integer({ minimum: 0, maximum: 23 }), { minItems: 1, maxItems: 24, uniqueItems: true }),
            ),
          ),
          resultLifetimeSeconds: Type.Optional(seconds('exp of an EAR attestation result')),
          staleAfterSeconds: Type.Optional(seconds('a node that has not attested for this long is marked stale')),
          staleSweepSeconds: Type.Optional(seconds('how often the stale sweep runs', 86_400)),
        },
        { additionalProperties: false },
      ),
    ),
    join: Type.Optional(
      Type.Object(
        {
          kind: Type.Optional(Type.Enum(JOIN_KINDS)),
          tokenTtlSeconds: Type.Optional(seconds('life of a kubeadm bootstrap token', 7 * 86_400)),
          certificateDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 825 })),
          clusterCa: Type.Optional(Type.Object({ cert: Type.String(), key: Type.String() }, { additionalProperties: false })),
        },
        { additionalProperties: false },
      ),
    ),
    limits: Type.Optional(
      Type.Object(
        {
          bodyBytes: Type.Optional(Type.Integer({ minimum: 4096, maximum: 64 * 1024 * 1024 })),
          perNode: Type.Optional(rate),
          perAddress: Type.Optional(rate),
        },
        { additionalProperties: false },
      ),
    ),
    webhooks: Type.Optional(
      Type.Object(
        {
          attempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 20 })),
          timeoutSeconds: Type.Optional(seconds('per delivery attempt', 300)),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type ConfigDocument = Static<typeof ConfigDocument>;

export interface RateRule {
  readonly limit: number;
  readonly windowMs: number;
}

/** The configuration the server runs with: every default filled in, every named file read. */
export interface ServerConfig {
  readonly listen: { readonly host: string; readonly port: number };
  readonly location: StoreLocation;
  readonly tls?: { readonly cert: string; readonly key: string };
  /** Master key specs, the one that seals first (file:, env:, pkcs11:). */
  readonly masterKeys: readonly string[];
  /** The `iss` of attestation results. */
  readonly issuer: string;
  readonly enrollment: {
    readonly ekRoots: readonly string[];
    readonly ekIntermediates: readonly string[];
    /** TPM Names (hex, lower case) of EKs accepted without a certificate. */
    readonly ekAllowlist: ReadonlySet<string>;
    readonly approvalQueue: boolean;
    readonly cloudAkRoots: readonly string[];
    readonly cloudAkIntermediates: readonly string[];
    readonly challengeTtlMs: number;
  };
  readonly attestation: {
    readonly sessionTtlMs: number;
    readonly pcrSelection: readonly { readonly bank: string; readonly pcrs: readonly number[] }[];
    readonly resultLifetimeSeconds: number;
    /** Undefined: nodes are never marked stale. */
    readonly staleAfterMs?: number;
    readonly staleSweepMs: number;
  };
  readonly join: {
    readonly kind: JoinKind;
    readonly tokenTtlMs: number;
    readonly certificateDays: number;
    readonly clusterCa?: { readonly cert: string; readonly key: string };
  };
  readonly limits: { readonly bodyBytes: number; readonly perNode: RateRule; readonly perAddress: RateRule };
  readonly webhooks: { readonly attempts: number; readonly timeoutMs: number };
}

/** Flags of `vouch serve`, which override the document. */
export interface ConfigOverrides {
  readonly listen?: string;
  readonly dataDir?: string;
  readonly database?: string;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly masterKeys?: readonly string[];
}

export const DEFAULT_LISTEN = '127.0.0.1:8443';
/** A node's event log is ~100 KiB; the body carries it base64url-encoded with the quote. */
export const DEFAULT_BODY_BYTES = 1024 * 1024;
/** docs/design.md: all 24 PCRs of the sha256 bank (a PCR left out of a quote could hold anything). */
const DEFAULT_PCRS = { sha256: Array.from({ length: 24 }, (_, i) => i) };

const checkDocument = Compile(ConfigDocument);

function invalid(message: string, setting: string, cause?: unknown): ServerError {
  return new ServerError('ERR_SERVER_CONFIG', message, { setting }, cause === undefined ? undefined : { cause });
}

/** Parses a config file's text (YAML, of which JSON is a subset) and checks it. */
export function parseConfigDocument(text: string, where: string): ConfigDocument {
  let document: unknown;
  try {
    document = parseYaml(text, { maxAliasCount: 64 }) ?? {};
  } catch (e) {
    throw invalid(`${where} is not YAML or JSON: ${(e as Error).message}`, where, e);
  }
  if (!checkDocument.Check(document)) {
    const first = [...checkDocument.Errors(document)][0];
    throw invalid(`${where}: ${first?.instancePath || '(document)'} ${first?.message ?? 'is not a server configuration'}`, first?.instancePath ?? where);
  }
  return document;
}

/** host:port, with an IPv6 host in brackets. */
export function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw invalid(`--listen ${JSON.stringify(text)} is not host:port`, 'listen');
  return { host: (m[1] ?? m[2])!, port };
}

export type ReadText = (path: string) => string;

const readUtf8: ReadText = (path) => readFileSync(path, 'utf8');

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+?-----END CERTIFICATE-----/g;

/** Every certificate PEM block of the named files (a file may be a bundle). */
function certificates(files: readonly string[] | undefined, setting: string, read: ReadText): string[] {
  const out: string[] = [];
  for (const file of files ?? []) {
    let text: string;
    try {
      text = read(file);
    } catch (e) {
      throw invalid(`${setting}: cannot read ${file}: ${(e as Error).message}`, setting, e);
    }
    const blocks = text.match(PEM_BLOCK) ?? [];
    if (blocks.length === 0) throw invalid(`${setting}: ${file} holds no PEM certificate`, setting);
    out.push(...blocks.map((b) => `${b}\n`));
  }
  return out;
}

function pemFile(path: string, setting: string, read: ReadText): string {
  try {
    return read(path);
  } catch (e) {
    throw invalid(`${setting}: cannot read ${path}: ${(e as Error).message}`, setting, e);
  }
}

/**
 * The configuration to run with: the document, then the flags over it, then defaults; PEM files
 * read now. A first start needs nothing but a data directory.
 */
export function resolveConfig(document: ConfigDocument, overrides: ConfigOverrides = {}, read: ReadText = readUtf8): ServerConfig {
  const dataDir = overrides.dataDir ?? (overrides.database === undefined ? document.dataDir : undefined);
  const database = overrides.database ?? (overrides.dataDir === undefined ? document.database : undefined);
  if (dataDir !== undefined && database !== undefined) throw invalid('give either a data directory or a database URL, not both', 'dataDir');
  if (dataDir === undefined && database === undefined) throw invalid('give --data-dir DIR or --database postgres://…', 'dataDir');
  if (database !== undefined && !/^postgres(ql)?:\/\//.test(database)) throw invalid('--database must be a postgres:// URL', 'database');
  const location: StoreLocation = dataDir !== undefined ? { dataDir } : { databaseUrl: database! };

  const tlsCert = overrides.tlsCert ?? document.tls?.cert;
  const tlsKey = overrides.tlsKey ?? document.tls?.key;
  if ((tlsCert === undefined) !== (tlsKey === undefined)) throw invalid('TLS needs both a certificate and its key', 'tls');

  const masterKeys = overrides.masterKeys?.length ? overrides.masterKeys : document.masterKey === undefined ? [] : [document.masterKey].flat();
  if (masterKeys.length === 0 && dataDir === undefined)
    throw invalid('a PostgreSQL store needs --master-key (every replica must use the same one)', 'masterKey');

  const e = document.enrollment ?? {};
  const a = document.attestation ?? {};
  const j = document.join ?? {};
  const l = document.limits ?? {};
  const clusterCa = j.clusterCa && { cert: pemFile(j.clusterCa.cert, 'join.clusterCa.cert', read), key: pemFile(j.clusterCa.key, 'join.clusterCa.key', read) };
  const joinKind: JoinKind = j.kind ?? (clusterCa ? 'kubelet-client-certificate' : 'kubeadm-bootstrap-token');
  if (joinKind === 'kubelet-client-certificate' && !clusterCa) throw invalid('join.kind kubelet-client-certificate needs join.clusterCa', 'join.clusterCa');
  const listen = parseListen(overrides.listen ?? document.listen ?? DEFAULT_LISTEN);
  const rule = (r: { requests: number; windowSeconds: number } | undefined, fallback: RateRule): RateRule =>
    r ? { limit: r.requests, windowMs: r.windowSeconds * 1000 } : fallback;
  return {
    listen,
    location,
    ...(tlsCert !== undefined ? { tls: { cert: pemFile(tlsCert, 'tls.cert', read), key: pemFile(tlsKey!, 'tls.key', read) } } : {}),
    masterKeys,
    issuer: document.issuer ?? `${tlsCert !== undefined ? 'https' : 'http'}://${listen.host.includes(':') ? `[${listen.host}]` : listen.host}:${listen.port}`,
    enrollment: {
      ekRoots: certificates(e.ekRoots, 'enrollment.ekRoots', read),
      ekIntermediates: certificates(e.ekIntermediates, 'enrollment.ekIntermediates', read),
      ekAllowlist: new Set((e.ekAllowlist ?? []).map((n) => n.toLowerCase())),
      approvalQueue: e.approvalQueue ?? true,
      cloudAkRoots: certificates(e.cloudAkRoots, 'enrollment.cloudAkRoots', read),
      cloudAkIntermediates: certificates(e.cloudAkIntermediates, 'enrollment.cloudAkIntermediates', read),
      challengeTtlMs: (e.challengeTtlSeconds ?? 300) * 1000,
    },
    attestation: {
      sessionTtlMs: (a.sessionTtlSeconds ?? 120) * 1000,
      pcrSelection: Object.entries(a.pcrs ?? DEFAULT_PCRS).map(([bank, pcrs]) => ({ bank, pcrs: [...pcrs].sort((x, y) => x - y) })),
      resultLifetimeSeconds: a.resultLifetimeSeconds ?? 3600,
      ...(a.staleAfterSeconds !== undefined ? { staleAfterMs: a.staleAfterSeconds * 1000 } : {}),
      staleSweepMs: (a.staleSweepSeconds ?? 60) * 1000,
    },
    join: { kind: joinKind, tokenTtlMs: (j.tokenTtlSeconds ?? 3600) * 1000, certificateDays: j.certificateDays ?? 365, ...(clusterCa ? { clusterCa } : {}) },
    limits: {
      bodyBytes: l.bodyBytes ?? DEFAULT_BODY_BYTES,
      perNode: rule(l.perNode, { limit: 60, windowMs: 60_000 }),
      perAddress: rule(l.perAddress, { limit: 1200, windowMs: 60_000 }),
    },
    webhooks: { attempts: document.webhooks?.attempts ?? 5, timeoutMs: (document.webhooks?.timeoutSeconds ?? 10) * 1000 },
  };
}
