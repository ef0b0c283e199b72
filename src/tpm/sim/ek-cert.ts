/**
 * EK certificates for the software TPM (TCG EK Credential Profile 2.0, 2.2.1.4 and 3.2): a small
 * X.509 v3 issuer (node:crypto signs but cannot build certificates) and `provisionEkCertificate`,
 * which derives the EK from its profile template, has a CA certify it, and stores the DER
 * certificate in the profile's NV index (RSA-2048 0x01c00002, ECC P-256 0x01c0000a) with the
 * attributes a manufacturer uses (platformCreate, ppWrite, authRead/ownerRead/ppRead, noDA).
 * Demos and fleet simulation then enrol simulated nodes exactly like real ones.
 */
import { createHash, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import {
  DER_NULL,
  DerError,
  encodeBitString,
  encodeBoolean,
  encodeExplicit,
  encodeOctetString,
  encodeOid,
  encodeSequence,
  encodeSetOf,
  encodeSmallInteger,
  encodeTime,
  encodeTlv,
  encodeUnsignedInteger,
  encodeUtf8String,
  DerTag,
  parseCertificateFields,
} from '../../der/index.ts';
import { Tpm } from '../client.ts';
import * as C from '../commands.ts';
import { EK_CERT_NV_INDEX, TPM_ALG, TPM_RH } from '../constants.ts';
import { publicKeyFromTpm } from '../crypto/index.ts';
import { TPM2B_NV_PUBLIC, TPMA_NV } from '../structures.ts';
import type { KeyAlg } from '../templates.ts';
import type { TpmTransport } from '../transport/types.ts';
import { TpmSimError } from './errors.ts';

const OID = {
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extendedKeyUsage: '2.5.29.37',
  /** TCG EK Credential Profile 2.2.1.4: tcg-kp-EKCertificate. */
  tcgKpEkCertificate: '2.23.133.8.1',
  sha256WithRsa: '1.2.840.113549.1.1.11',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
} as const;

const X509_V3 = 2;

/** The subject of a certificate as a Name of one optional O and one CN (UTF8String), as TPM vendors write them. */
function name(commonName: string, organization?: string): Uint8Array {
  const rdn = (type: string, value: string) => encodeSetOf([encodeSequence(encodeOid(type), encodeUtf8String(value))]);
  return encodeSequence(...(organization ? [rdn(OID.organization, organization)] : []), rdn(OID.commonName, commonName));
}

function extension(id: string, critical: boolean, value: Uint8Array): Uint8Array {
  return encodeSequence(encodeOid(id), ...(critical ? [encodeBoolean(true)] : []), encodeOctetString(value));
}

/** sha256WithRSAEncryption or ecdsa-with-SHA256, by the CA key's type. */
function signatureAlgorithm(key: KeyObject): Uint8Array {
  if (key.asymmetricKeyType === 'rsa') return encodeSequence(encodeOid(OID.sha256WithRsa), DER_NULL);
  if (key.asymmetricKeyType === 'ec') return encodeSequence(encodeOid(OID.ecdsaWithSha256));
  throw new TpmSimError('ERR_TPM_SIM_PROVISION', `a ${String(key.asymmetricKeyType)} CA key cannot sign certificates here (RSA and EC can)`, {});
}

const keyId = (spki: Uint8Array): Uint8Array => new Uint8Array(createHash('sha1').update(spki).digest());

/** The subject Name (DER) and SubjectPublicKeyInfo of a CA certificate: the issuer of what it signs. */
function subjectOf(certDer: Uint8Array): { subject: Uint8Array; spki: Uint8Array } {
  try {
    const { subject, subjectPublicKeyInfo } = parseCertificateFields(certDer);
    return { subject, spki: subjectPublicKeyInfo };
  } catch (e) {
    if (!(e instanceof DerError)) throw e;
    throw new TpmSimError('ERR_TPM_SIM_PROVISION', `CA certificate is not DER X.509: ${e.message}`, {}, { cause: e });
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
  const tbs = encodeSequence(
    encodeExplicit(0, encodeSmallInteger(X509_V3)),
    encodeUnsignedInteger(tbsParts.serial),
    algorithm,
    tbsParts.issuer,
    encodeSequence(encodeTime(tbsParts.notBefore), encodeTime(tbsParts.notAfter)),
    tbsParts.subject,
    tbsParts.spki,
    encodeExplicit(3, encodeSequence(...tbsParts.extensions)),
  );
  return encodeSequence(tbs, algorithm, encodeBitString(new Uint8Array(sign('sha256', tbs, caKey))));
}

const DAY = 86_400_000;

/** RFC 5280 §4.2.1.3 KeyUsage bits as a BIT STRING with its trailing zero bits dropped (X.690 §11.2.2). */
const KEY_USAGE = {
  keyCertSignAndCrlSign: encodeBitString(new Uint8Array([0x06]), 1),
  keyEncipherment: encodeBitString(new Uint8Array([0x20]), 5),
  keyAgreement: encodeBitString(new Uint8Array([0x08]), 3),
} as const;

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
        extension(OID.basicConstraints, true, encodeSequence(encodeBoolean(true))),
        extension(OID.keyUsage, true, KEY_USAGE.keyCertSignAndCrlSign),
        extension(OID.subjectKeyIdentifier, false, encodeOctetString(keyId(spki))),
      ],
    },
    key,
  );
  return { key, certificate: certificateDer };
}

/**
 * An EK certificate for `ekPublic`, issued by `ca`, with the extensions of the TCG EK Credential
 * Profile (2.2.1.4, 3.2): not a CA, key usage keyEncipherment for an RSA EK and keyAgreement for an
 * ECC EK, extended key usage tcg-kp-EKCertificate, and the CA's key id as authorityKeyIdentifier.
 */
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
        extension(OID.basicConstraints, true, encodeSequence()),
        extension(OID.keyUsage, true, ekPublic.asymmetricKeyType === 'rsa' ? KEY_USAGE.keyEncipherment : KEY_USAGE.keyAgreement),
        extension(OID.extendedKeyUsage, false, encodeSequence(encodeOid(OID.tcgKpEkCertificate))),
        extension(OID.authorityKeyIdentifier, false, encodeSequence(encodeTlv(DerTag.contextPrimitive0, keyId(caSpki)))),
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
