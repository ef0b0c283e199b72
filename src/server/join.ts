// The cluster join credential a node receives with its secrets after an affirming attestation:
// a kubeadm bootstrap token (format, expiry, usages and groups as `kubeadm token create` writes
// them; only its secret's digest is stored) rendered as its Secret manifest, or, with a cluster CA
// configured, a kubelet client certificate signed from the node's own CSR for its enrolled name.
import 'reflect-metadata';
import { createPrivateKey, randomBytes, randomInt, webcrypto } from 'node:crypto';
import {
  AuthorityKeyIdentifierExtension,
  BasicConstraintsExtension,
  ExtendedKeyUsage,
  ExtendedKeyUsageExtension,
  KeyUsageFlags,
  KeyUsagesExtension,
  Pkcs10CertificateRequest,
  SubjectKeyIdentifierExtension,
  X509Certificate,
  X509CertificateGenerator,
} from '@peculiar/x509';
import { stringify as yamlStringify } from 'yaml';
import { ProtocolError, type ReleasedSecrets } from '../protocol/index.ts';
import type { BootstrapTokenUsage } from '../store/index.ts';
import { ServerError } from './errors.ts';

type JoinCredential = NonNullable<ReleasedSecrets['join']>;

/** kubeadm's token alphabet (k8s.io/cluster-bootstrap/token/api: [a-z0-9]). */
const TOKEN_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
/** What `kubeadm token create` gives a join token (cmd/kubeadm/app/apis/bootstraptoken/v1). */
export const BOOTSTRAP_USAGES: readonly BootstrapTokenUsage[] = ['signing', 'authentication'];
export const BOOTSTRAP_GROUPS: readonly string[] = ['system:bootstrappers:kubeadm:default-node-token'];

function tokenPart(length: number): string {
  // randomInt draws each character uniformly (no modulo bias).
  return Array.from({ length }, () => TOKEN_ALPHABET[randomInt(TOKEN_ALPHABET.length)]).join('');
}

export interface BootstrapToken {
  readonly id: string;
  readonly token: string;
  readonly expiresAt: Date;
  readonly description: string;
}

export function newBootstrapToken(nodeName: string, expiresAt: Date): BootstrapToken {
  const id = tokenPart(6);
  return { id, token: `${id}.${tokenPart(16)}`, expiresAt, description: `vouch: join token for node ${nodeName}` };
}

/** The token's Secret as kubeadm writes it (bootstrap.kubernetes.io/token in kube-system). */
export function bootstrapTokenManifest(token: BootstrapToken): string {
  const [id, secret] = token.token.split('.') as [string, string];
  return yamlStringify({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: `bootstrap-token-${id}`, namespace: 'kube-system' },
    type: 'bootstrap.kubernetes.io/token',
    stringData: {
      description: token.description,
      'token-id': id,
      'token-secret': secret,
      expiration: token.expiresAt.toISOString().replace(/\.\d{3}Z$/, 'Z'),
      ...Object.fromEntries(BOOTSTRAP_USAGES.map((u) => [`usage-bootstrap-${u}`, 'true'])),
      'auth-extra-groups': BOOTSTRAP_GROUPS.join(','),
    },
  });
}

export function bootstrapJoin(token: BootstrapToken): JoinCredential {
  return { kind: 'kubeadm-bootstrap-token', token: token.token, expiresAt: token.expiresAt.toISOString(), secretManifest: bootstrapTokenManifest(token) };
}

/** The subject kube-apiserver's node authorizer expects of a kubelet: CN=system:node:<name>, O=system:nodes. */
export function kubeletSubject(nodeName: string): string {
  return `CN=system:node:${nodeName}, O=system:nodes`;
}

const KUBELET_GROUP = 'system:nodes';
const MIN_RSA_BITS = 2048;
const ALLOWED_CURVES = new Set(['P-256', 'P-384']);

function refuse(message: string): ProtocolError {
  return new ProtocolError('ERR_REQUEST_INVALID', `csr: ${message}`, { field: 'csr' });
}

/**
 * Checks a kubelet client CSR before anything is signed: it parses, its self-signature holds (the
 * node holds the key), it names exactly this node (a CSR for another node's name is refused: a
 * node must never obtain another's identity) and its key is strong enough.
 */
export async function checkKubeletCsr(pem: string, nodeName: string): Promise<Pkcs10CertificateRequest> {
  let csr: Pkcs10CertificateRequest;
  try {
    csr = new Pkcs10CertificateRequest(pem);
  } catch (e) {
    throw refuse(`not a PKCS#10 certificate request: ${(e as Error).message}`);
  }
  let signed: boolean;
  try {
    signed = await csr.verify();
  } catch {
    signed = false;
  }
  if (!signed) throw refuse('its signature does not verify with its own key');
  const name = csr.subjectName;
  const cn = name.getField('CN');
  const org = name.getField('O');
  const fields = name.toJSON().flatMap((rdn) => Object.keys(rdn));
  if (cn.length !== 1 || cn[0] !== `system:node:${nodeName}`) {
    throw refuse(`it asks for ${JSON.stringify(csr.subject)}, but this node is enrolled as ${nodeName} (CN must be system:node:${nodeName})`);
  }
  if (org.length !== 1 || org[0] !== KUBELET_GROUP || fields.some((f) => f !== 'CN' && f !== 'O')) {
    throw refuse(`its subject must be exactly ${kubeletSubject(nodeName)}, got ${JSON.stringify(csr.subject)}`);
  }
  const algorithm = csr.publicKey.algorithm as { name: string; namedCurve?: string; modulusLength?: number };
  const strong =
    algorithm.name === 'ECDSA'
      ? ALLOWED_CURVES.has(algorithm.namedCurve ?? '')
      : algorithm.name === 'RSASSA-PKCS1-v1_5' && (algorithm.modulusLength ?? 0) >= MIN_RSA_BITS;
  if (!strong)
    throw refuse(`its key (${algorithm.name} ${algorithm.namedCurve ?? algorithm.modulusLength ?? ''}) is not ECDSA P-256/P-384 or RSA ≥ ${MIN_RSA_BITS} bits`);
  return csr;
}

/** The cluster CA: its certificate and a signing key WebCrypto holds. */
export interface ClusterCa {
  readonly certificate: X509Certificate;
  readonly pem: string;
  readonly signingKey: webcrypto.CryptoKey;
  readonly signingAlgorithm: webcrypto.Algorithm | webcrypto.EcdsaParams;
}

export async function loadClusterCa(certificatePem: string, keyPem: string): Promise<ClusterCa> {
  let certificate: X509Certificate;
  let jwk: webcrypto.JsonWebKey;
  try {
    certificate = new X509Certificate(certificatePem);
    jwk = createPrivateKey(keyPem).export({ format: 'jwk' });
  } catch (e) {
    throw new ServerError('ERR_SERVER_CONFIG', `join.clusterCa: ${(e as Error).message}`, { setting: 'join.clusterCa' }, { cause: e });
  }
  const ec = jwk.kty === 'EC';
  const algorithm = ec ? { name: 'ECDSA', namedCurve: jwk.crv! } : { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  const signingKey = await webcrypto.subtle.importKey('jwk', jwk, algorithm, false, ['sign']);
  const signingAlgorithm = ec ? { name: 'ECDSA', hash: jwk.crv === 'P-384' ? 'SHA-384' : 'SHA-256' } : { name: 'RSASSA-PKCS1-v1_5' };
  return { certificate, pem: certificate.toString('pem'), signingKey, signingAlgorithm };
}

/** An RSA key also enciphers keys (TLS key transport), as kubeadm's kubelet certificates allow. */
const RSA_KEY_USAGES: KeyUsageFlags = KeyUsageFlags.digitalSignature | KeyUsageFlags.keyEncipherment;

/** Signs a kubelet client certificate for the node's checked CSR: client auth only, not a CA. */
export async function signKubeletCertificate(ca: ClusterCa, csr: Pkcs10CertificateRequest, nodeName: string, now: Date, days: number): Promise<JoinCredential> {
  const serial = randomBytes(16);
  serial[0]! &= 0x7f; // a positive INTEGER (RFC 5280 §4.1.2.2)
  const rsa = (csr.publicKey.algorithm as unknown as { name: string }).name.startsWith('RSA');
  const certificate = await X509CertificateGenerator.create({
    serialNumber: serial.toString('hex'),
    subject: kubeletSubject(nodeName),
    issuer: ca.certificate.subjectName,
    notBefore: now,
    notAfter: new Date(now.getTime() + days * 86_400_000),
    publicKey: csr.publicKey,
    signingKey: ca.signingKey,
    signingAlgorithm: ca.signingAlgorithm,
    extensions: [
      new BasicConstraintsExtension(false, undefined, true),
      new KeyUsagesExtension(rsa ? RSA_KEY_USAGES : KeyUsageFlags.digitalSignature, true),
      new ExtendedKeyUsageExtension([ExtendedKeyUsage.clientAuth]),
      await AuthorityKeyIdentifierExtension.create(ca.certificate.publicKey),
      await SubjectKeyIdentifierExtension.create(csr.publicKey),
    ],
  });
  return { kind: 'kubelet-client-certificate', certificate: certificate.toString('pem'), caCertificate: ca.pem };
}
