// The node's endorsement key for enrollment. A TPM that carries a manufacturer's EK certificate
// says which EK it is vouched for: the RSA-2048 certificate (NV 0x01c00002) means the RSA EK of
// template L-1, the P-256 one (0x01c0000a) the ECC EK of template L-2. The certificate goes to the
// server with the key, which checks that it chains to a manufacturer root and certifies exactly
// this key; a TPM without either certificate enrolls its RSA EK by allowlist or approval.
import { TpmError, type KeyAlg, type Loaded, type Tpm } from '../tpm/index.ts';

export interface EndorsementKey {
  readonly alg: KeyAlg;
  /** Loaded from the endorsement hierarchy; the caller flushes it. */
  readonly key: Loaded;
  /** DER, as read from the TPM's NV index. */
  readonly certificate?: Uint8Array;
}

/** The NV index of each EK kind's certificate, in the order they are looked for. */
const CERTIFIED_EKS: readonly { readonly alg: KeyAlg; readonly index: 'RSA2048' | 'ECC_P256' }[] = [
  { alg: 'rsa', index: 'RSA2048' },
  { alg: 'ecc', index: 'ECC_P256' },
];

async function certificateAt(tpm: Tpm, index: 'RSA2048' | 'ECC_P256'): Promise<Uint8Array | undefined> {
  try {
    return await tpm.readEkCertificate(index);
  } catch (e) {
    if (e instanceof TpmError && e.code === 'ERR_TPM_NOT_FOUND') return undefined;
    throw e;
  }
}

/** The EK a certificate vouches for (RSA first), with that certificate; else the RSA EK alone. `alg` forces a kind (a pending enrollment resumed). */
export async function openEndorsementKey(tpm: Tpm, alg?: KeyAlg): Promise<EndorsementKey> {
  for (const candidate of CERTIFIED_EKS) {
    if (alg !== undefined && candidate.alg !== alg) continue;
    const certificate = await certificateAt(tpm, candidate.index);
    if (certificate) return { alg: candidate.alg, key: await tpm.createEK(candidate.alg), certificate };
  }
  const fallback = alg ?? 'rsa';
  return { alg: fallback, key: await tpm.createEK(fallback) };
}
