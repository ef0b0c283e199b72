// The wire protocol between the node agent and the Vouch server (docs/design.md "Enrollment",
// "Attestation and key release"), declared once: these schemas validate requests on the server,
// validate responses in the client, serialize both, and make the OpenAPI document. Binary fields
// are base64url without padding (as JOSE writes them); PCR values are the one PcrValues shape
// (bank → PCR → lower-case hex).
import { Type, type Static } from 'typebox';

/** Bounds on what a node may send: an event log up to 1 MiB by default (the server's body limit). */
export const ProtocolLimits = {
  maxTpmStructureBytes: 4096,
  maxCertificateBytes: 16 * 1024,
  maxSignatureBytes: 1024,
  maxSecretBytes: 64,
  maxHostnameLength: 253,
  maxCsrBytes: 16 * 1024,
} as const;

const base64url = (maxBytes: number, description: string) =>
  Type.String({ pattern: '^[A-Za-z0-9_-]*$', maxLength: Math.ceil((maxBytes * 4) / 3), description: `${description} (base64url, no padding)` });

export const Uuid = Type.String({ format: 'uuid', description: 'an identifier the server assigned' });

/** PCR values: bank → PCR number → lower-case hex (the one PcrValues shape). */
export const PcrValuesSchema = Type.Record(
  Type.String({ pattern: '^(sha1|sha256|sha384|sha512|sm3_256|sha3_256|sha3_384|sha3_512)$' }),
  Type.Record(Type.String({ pattern: '^([0-9]|1[0-9]|2[0-3])$' }), Type.String({ pattern: '^[0-9a-f]{40,128}$' })),
  { description: 'bank → PCR number → value (lower-case hex)' },
);

export const PcrSelectionSchema = Type.Array(
  Type.Object(
    {
      bank: Type.String({ pattern: '^(sha1|sha256|sha384|sha512)$' }),
      pcrs: Type.Array(Type.Integer({ minimum: 0, maximum: 23 }), { maxItems: 24 }),
    },
    { additionalProperties: false },
  ),
  { maxItems: 4 },
);

/** An EC P-256 public key as a JWK (RFC 7517): the agent's ephemeral key. */
export const EphemeralPublicJwk = Type.Object(
  {
    kty: Type.Literal('EC'),
    crv: Type.Literal('P-256'),
    x: Type.String({ pattern: '^[A-Za-z0-9_-]{43}$' }),
    y: Type.String({ pattern: '^[A-Za-z0-9_-]{43}$' }),
  },
  { additionalProperties: false, description: "the agent's ephemeral ECDH key; its private half never leaves the agent's memory" },
);

// ---------------------------------------------------------------------------------------------
// Enrollment

export const EnrollRequest = Type.Object(
  {
    ekPublic: base64url(ProtocolLimits.maxTpmStructureBytes, 'TPM2B_PUBLIC of the endorsement key'),
    ekCertificate: Type.Optional(base64url(ProtocolLimits.maxCertificateBytes, 'the EK certificate (DER), from the TPM NV index or the vendor')),
    akPublic: base64url(ProtocolLimits.maxTpmStructureBytes, 'TPM2B_PUBLIC of the attestation key'),
    akCertificate: Type.Optional(base64url(ProtocolLimits.maxCertificateBytes, 'cloud mode: an AK certificate (DER) issued by the cloud vTPM CA')),
    hostname: Type.String({ minLength: 1, maxLength: ProtocolLimits.maxHostnameLength, pattern: '^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$' }),
  },
  { additionalProperties: false },
);
export type EnrollRequest = Static<typeof EnrollRequest>;

export const CredentialChallengeSchema = Type.Object(
  {
    credentialBlob: base64url(ProtocolLimits.maxTpmStructureBytes, 'TPM2B_ID_OBJECT for TPM2_ActivateCredential'),
    encryptedSecret: base64url(ProtocolLimits.maxTpmStructureBytes, 'TPM2B_ENCRYPTED_SECRET for TPM2_ActivateCredential'),
    expiresAt: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
);

export const EnrollmentStatus = Type.Union([Type.Literal('activate'), Type.Literal('pending-approval'), Type.Literal('denied'), Type.Literal('enrolled')]);

export const EnrollResponse = Type.Object(
  {
    enrollmentId: Uuid,
    status: EnrollmentStatus,
    /** With `activate`: the credential the node's TPM must recover. */
    credential: Type.Optional(CredentialChallengeSchema),
    /** With `enrolled`. */
    nodeId: Type.Optional(Uuid),
    /** With `pending-approval` or `denied`: why (unknown EK, approval queue). */
    reason: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);
export type EnrollResponse = Static<typeof EnrollResponse>;

export const ActivateRequest = Type.Object(
  { secret: base64url(ProtocolLimits.maxSecretBytes, 'the secret TPM2_ActivateCredential recovered') },
  { additionalProperties: false },
);
export type ActivateRequest = Static<typeof ActivateRequest>;

export const ActivateResponse = Type.Object({ nodeId: Uuid, status: Type.Literal('enrolled') }, { additionalProperties: false });
export type ActivateResponse = Static<typeof ActivateResponse>;

// ---------------------------------------------------------------------------------------------
// Attestation

export const ChallengeRequest = Type.Object({ nodeId: Uuid }, { additionalProperties: false });
export type ChallengeRequest = Static<typeof ChallengeRequest>;

export const ChallengeResponse = Type.Object(
  {
    sessionId: Uuid,
    nonce: base64url(32, 'the challenge nonce: quote over SHA-256(nonce ‖ JWK thumbprint of the ephemeral key)'),
    expiresAt: Type.String({ format: 'date-time' }),
    pcrSelection: PcrSelectionSchema,
  },
  { additionalProperties: false },
);
export type ChallengeResponse = Static<typeof ChallengeResponse>;

export const AttestRequest = Type.Object(
  {
    sessionId: Uuid,
    quote: Type.Object(
      {
        attest: base64url(ProtocolLimits.maxTpmStructureBytes, 'TPMS_ATTEST as the TPM returned it'),
        signature: base64url(ProtocolLimits.maxSignatureBytes, 'TPMT_SIGNATURE'),
      },
      { additionalProperties: false },
    ),
    pcrValues: PcrValuesSchema,
    eventLog: Type.String({ pattern: '^[A-Za-z0-9_-]*$', description: 'binary_bios_measurements (base64url); bounded by the body limit' }),
    ephemeralPublic: EphemeralPublicJwk,
    /** A kubelet client certificate request (PEM), when the cluster CA signs node certificates. */
    csr: Type.Optional(Type.String({ maxLength: ProtocolLimits.maxCsrBytes })),
  },
  { additionalProperties: false },
);
export type AttestRequest = Static<typeof AttestRequest>;

export const VerdictReasonSchema = Type.Object(
  {
    reason: Type.String(),
    message: Type.String(),
    pcr: Type.Optional(Type.Integer()),
    bank: Type.Optional(Type.String()),
    rule: Type.Optional(Type.String()),
    expected: Type.Optional(Type.String()),
    actual: Type.Optional(Type.String()),
  },
  { additionalProperties: true },
);

export const AttestResponse = Type.Object(
  {
    resultId: Uuid,
    status: Type.Union([Type.Literal('affirming'), Type.Literal('warning'), Type.Literal('contraindicated')]),
    /** The EAR attestation result: a JWT (ES256) the server signed; keys at /.well-known/jwks.json. */
    result: Type.String(),
    reasons: Type.Array(VerdictReasonSchema),
    /** Only when affirming and not revoked: the node's secrets as a JWE (ECDH-ES+A256KW, A256GCM) to ephemeralPublic. */
    secrets: Type.Optional(Type.String()),
    /** True when the node is revoked: it was appraised (the operator sees its state) but released nothing. */
    revoked: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type AttestResponse = Static<typeof AttestResponse>;

/** What the secrets JWE decrypts to. */
export const ReleasedSecrets = Type.Object(
  {
    nodeId: Uuid,
    /** The LUKS volume key (base64url). */
    diskKey: Type.String({ pattern: '^[A-Za-z0-9_-]+$' }),
    join: Type.Optional(
      Type.Union([
        Type.Object(
          {
            kind: Type.Literal('kubeadm-bootstrap-token'),
            token: Type.String({ pattern: '^[a-z0-9]{6}\\.[a-z0-9]{16}$' }),
            expiresAt: Type.String({ format: 'date-time' }),
            /** The bootstrap token Secret as kubeadm writes it (YAML), for `kubectl apply`. */
            secretManifest: Type.String(),
          },
          { additionalProperties: false },
        ),
        Type.Object(
          {
            kind: Type.Literal('kubelet-client-certificate'),
            certificate: Type.String({ description: 'PEM, CN=system:node:<name>, O=system:nodes' }),
            caCertificate: Type.String(),
          },
          { additionalProperties: false },
        ),
      ]),
    ),
  },
  { additionalProperties: false },
);
export type ReleasedSecrets = Static<typeof ReleasedSecrets>;

// ---------------------------------------------------------------------------------------------
// Errors: RFC 9457 problem details carrying the stable ERR_* code.

export const Problem = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    code: Type.String({ pattern: '^ERR_[A-Z0-9_]+$' }),
    /** For refusals: every reason, as in the verdict. */
    reasons: Type.Optional(Type.Array(VerdictReasonSchema)),
  },
  { additionalProperties: false },
);
export type Problem = Static<typeof Problem>;

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';
