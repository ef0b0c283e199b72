/**
 * EK certificates for the software TPM (TCG EK Credential Profile 2.0, 2.2.1.4 and 3.2): a small
 * X.509 v3 issuer (node:crypto signs but cannot build certificates) and `provisionEkCertificate`,
 * which derives the EK from its profile template, has a CA certify it, and stores the DER
 * certificate in the profile's NV index (RSA-2048 0x01c00002, ECC P-256 0x01c0000a) with the
 * attributes a manufacturer uses (platformCreate, ppWrite, authRead/ownerRead/ppRead, noDA).
 * Demos and fleet simulation then enrol simulated nodes exactly like real ones.
 */
import { createHash, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { ByteReader, concatBytes, utf8 } from '../../bytes/index.ts';
import { Tpm } from '../client.ts';
import * as C from '../commands.ts';
import { EK_CERT_NV_INDEX, TPM_ALG, TPM_RH } from '../constants.ts';
import { publicKeyFromTpm } from '../crypto/index.ts';
import { TPM2B_NV_PUBLIC, TPMA_NV } from '../structures.ts';
import type { KeyAlg } from '../templates.ts';
import type { TpmTransport } from '../transport/types.ts';
import { TpmSimError } from './errors.ts';

// ---- DER encoding (X.690) ----------------------------------------------------------------------

function tlv(tag: number, ...contents: readonly Uint8Array[]): Uint8Array {
  const body = concatBytes(...contents);
  const n = body.length;
  const length = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : n < 0x10000 ? [0x82, n >> 8, n & 0xff] : [0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
  return concatBytes(new Uint8Array([tag, ...length]), body);
}
const seq = (...c: Uint8Array[]) => tlv(0x30, ...c);
const set = (...c: Uint8Array[]) => tlv(0x31, ...c);
const explicit = (n: number, ...c: Uint8Array[]) => tlv(0xa0 + n, ...c);
const octets = (b: Uint8Array) => tlv(0x04, b);
const bitString = (b: Uint8Array, unusedBits = 0) => tlv(0x03, new Uint8Array([unusedBits]), b);
const TRUE = tlv(0x01, new Uint8Array([0xff]));
const NULL = tlv(0x05);

function oid(dotted: string): Uint8Array {
  const [a, b, ...rest] = dotted.split('.').map(Number);
  const out = [a! * 40 + b!];
  for (const v of rest) {
    const groups = [v & 0x7f];
    for (let x = v >>> 7; x > 0; x >>>= 7) groups.unshift((x & 0x7f) | 0x80);
    out.push(...groups);
  }
  return tlv(0x06, new Uint8Array(out));
}

/** A positive INTEGER from big-endian bytes (minimal, with a 0x00 when the top bit is set). */
function integer(b: Uint8Array): Uint8Array {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  const v = b.subarray(i);
  return tlv(0x02, v[0]! & 0x80 ? concatBytes(new Uint8Array([0]), v) : v);
}

/** UTCTime until 2049, GeneralizedTime after (RFC 5280, 4.1.2.5). */
function time(d: Date): Uint8Array {
  const iso = d.toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z';
  return d.getUTCFullYear() < 2050 ? tlv(0x17, utf8(iso.slice(2))) : tlv(0x18, utf8(iso));
}

function name(commonName: string, organization?: string): Uint8Array {
  const rdn = (type: string, value: string) => set(seq(oid(type), tlv(0x0c, utf8(value))));
  return seq(...(organization ? [rdn('2.5.4.10', organization)] : []), rdn('2.5.4.3', commonName));
}

function extension(id: string, critical: boolean, value: Uint8Array): Uint8Array {
  return seq(oid(id), ...(critical ? [TRUE] : []), octets(value));
}

/** sha256WithRSAEncryption or ecdsa-with-SHA256, by the CA key's type. */
function signatureAlgorithm(key: KeyObject): Uint8Array {
  if (key.asymmetricKeyType === 'rsa') return seq(oid('1.2.840.113549.1.1.11'), NULL);
  if (key.asymmetricKeyType === 'ec') return seq(oid('1.2.840.10045.4.3.2'));
  throw new TpmSimError('ERR_TPM_SIM_PROVISION', `a ${String(key.asymmetricKeyType)} CA key cannot sign certificates here (RSA and EC can)`, {});
}

const keyId = (spki: Uint8Array): Uint8Array => new Uint8Array(createHash('sha1').update(spki).digest());

/** The subject Name (DER) and SubjectPublicKeyInfo of a certificate: the issuer of what it signs. */
function subjectOf(certDer: Uint8Array): { subject: Uint8Array; spki: Uint8Array } {
  const r = new ByteReader(certDer);
  const element = (reader: ByteReader): { tag: number; whole: Uint8Array; body: ByteReader } => {
    const start = reader.offset;
    const tag = reader.u8();
    let len = reader.u8();
    if (len & 0x80) {
      const n = len & 0x7f;
      if (n < 1 || n > 3) throw new TpmSimError('ERR_TPM_SIM_PROVISION', 'CA certificate: unsupported DER length', {});
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + reader.u8();
    }
    const body = reader.bytesView(len);
    return { tag, whole: reader.bytes.subarray(start, reader.offset), body: new ByteReader(body) };
  };
  try {
    const tbs = element(element(r).body).body;
    if (element(tbs).tag === 0xa0) element(tbs); // [0] version, then serialNumber
    element(tbs); // signature algorithm
    element(tbs); // issuer
    element(tbs); // validity
    const subject = element(tbs).whole;
    return { subject, spki: element(tbs).whole };
  } catch (e) {
    if (e instanceof TpmSimError) throw e;
    throw new TpmSimError('ERR_TPM_SIM_PROVISION', `CA certificate is not DER X.509: ${(e as Error).message}`, {}, { cause: e });
  }
}

export interface CertificateAuthority {
  /** The CA's private key. */
  readonly key: KeyObject;
  /** The CA certificate, DER. */
  readonly certificate: Uint8Array;
}

export interface CertificateOptions {
  readonly serial?: Uint8Array;
  readonly notBefore?: Date;
  readonly notAfter?: Date;
}

function certificate(
  tbsParts: { serial: Uint8Array; issuer: Uint8Array; subject: Uint8Array; spki: Uint8Array; notBefore: Date; notAfter: Date; extensions: Uint8Array[] },
  caKey: KeyObject,
): Uint8Array {
  const algorithm = signatureAlgorithm(caKey);
  const tbs = seq(
    explicit(0, integer(new Uint8Array([2]))),
    integer(tbsParts.serial),
    algorithm,
    tbsParts.issuer,
    seq(time(tbsParts.notBefore), time(tbsParts.notAfter)),
    tbsParts.subject,
    tbsParts.spki,
    explicit(3, seq(...tbsParts.extensions)),
  );
  return seq(tbs, algorithm, bitString(new Uint8Array(sign('sha256', tbs, caKey))));
}

const DAY = 86_400_000;

/** A self-signed CA (EC P-256 unless a key is given), e.g. a simulated TPM vendor's EK CA. */
export function createCertificateAuthority(commonName: string, options: CertificateOptions & { key?: KeyObject } = {}): CertificateAuthority {
  const key = options.key ?? generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const spki = new Uint8Array(createPublicKey(key).export({ type: 'spki', format: 'der' }));
  const subject = name(commonName, 'Vouch');
  const notBefore = options.notBefore ?? new Date(Date.now() - DAY);
  const certificateDer = certificate(
    {
      serial: options.serial ?? keyId(spki),
      issuer: subject,
      subject,
      spki,
      notBefore,
      notAfter: options.notAfter ?? new Date(notBefore.getTime() + 3650 * DAY),
      extensions: [
        extension('2.5.29.19', true, seq(TRUE)), // basicConstraints CA:TRUE
        extension('2.5.29.15', true, bitString(new Uint8Array([0x06]), 1)), // keyUsage keyCertSign | cRLSign
        extension('2.5.29.14', false, octets(keyId(spki))), // subjectKeyIdentifier
      ],
    },
    key,
  );
  return { key, certificate: certificateDer };
}

/** An EK certificate for `ekPublic`, issued by `ca` (keyEncipherment, not a CA, AKID = the CA's key id). */
export function issueEkCertificate(ca: CertificateAuthority, ekPublic: KeyObject, options: CertificateOptions = {}): Uint8Array {
  const { subject: issuer, spki: caSpki } = subjectOf(ca.certificate);
  const spki = new Uint8Array(ekPublic.export({ type: 'spki', format: 'der' }));
  const notBefore = options.notBefore ?? new Date(Date.now() - DAY);
  return certificate(
    {
      serial: options.serial ?? keyId(spki),
      issuer,
      subject: name('Vouch simulated TPM EK', 'Vouch'),
      spki,
      notBefore,
      notAfter: options.notAfter ?? new Date(notBefore.getTime() + 3650 * DAY),
      extensions: [
        extension('2.5.29.19', true, seq()), // basicConstraints CA:FALSE
        extension('2.5.29.15', true, bitString(new Uint8Array([0x20]), 5)), // keyUsage keyEncipherment
        extension('2.5.29.35', false, seq(tlv(0x80, keyId(caSpki)))), // authorityKeyIdentifier
      ],
    },
    ca.key,
  );
}

/**
 * Derives the EK (profile template L-1 RSA-2048 or L-2 ECC P-256) in the TPM behind `transport`,
 * has `ca` certify it, and writes the DER certificate to the profile's NV index (replacing an
 * earlier one). Returns the certificate.
 */
export async function provisionEkCertificate(
  transport: TpmTransport,
  ca: CertificateAuthority,
  alg: KeyAlg,
  options: CertificateOptions = {},
): Promise<Uint8Array> {
  const tpm = new Tpm(transport);
  let der: Uint8Array;
  {
    await using ek = await tpm.createEK(alg);
    der = issueEkCertificate(ca, publicKeyFromTpm(ek.public.value), options);
  }
  const index = alg === 'rsa' ? EK_CERT_NV_INDEX.RSA2048 : EK_CERT_NV_INDEX.ECC_P256;
  try {
    await tpm.nvReadPublic(index);
    await tpm.run(C.NV_UndefineSpace, { authHandle: TPM_RH.PLATFORM, nvIndex: index });
  } catch (e) {
    if ((e as { details?: { rcName?: string } }).details?.rcName !== 'TPM_RC_HANDLE') throw e;
  }
  const attributes = TPMA_NV.make({ platformCreate: true, ppWrite: true, ppRead: true, ownerRead: true, authRead: true, noDA: true });
  try {
    await tpm.run(C.NV_DefineSpace, {
      authHandle: TPM_RH.PLATFORM,
      auth: new Uint8Array(0),
      publicInfo: TPM2B_NV_PUBLIC.wrap({ nvIndex: index, nameAlg: TPM_ALG.SHA256, attributes, authPolicy: new Uint8Array(0), dataSize: der.length }),
    });
    await tpm.nvWrite(index, der, { authHandle: TPM_RH.PLATFORM });
  } catch (e) {
    throw new TpmSimError(
      'ERR_TPM_SIM_PROVISION',
      `storing the EK certificate at NV 0x${index.toString(16)} failed: ${(e as Error).message}`,
      { index },
      { cause: e },
    );
  }
  return der;
}
