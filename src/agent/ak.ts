// Attestation key blobs on disk, in one layout: what `vouch tpm ak create --out DIR` writes and
// what the agent keeps in its state directory (so `vouch tpm quote --ak STATE_DIR` works on a
// node's own AK). The private blob is wrapped by the TPM's storage root key: it is useless outside
// that TPM, but it is still written owner-only and atomically, and every file is checked against
// the others when read back (a Name that does not match the public area is refused).
import { join } from 'node:path';
import { toHex } from '../bytes/index.ts';
import { readFileUpTo, writeFileAtomically, makeDirectory } from '../io/index.ts';
import { Tpm, TpmError, decode, encode, objectName, publicKeyPem, structures, type KeyAlg, type Loaded, type SignScheme, type Sized } from '../tpm/index.ts';
import { AgentError } from './errors.ts';

/** The files of an AK directory. */
export const AkFile = {
  descriptor: 'ak.json',
  public: 'ak.pub',
  private: 'ak.priv',
  publicPem: 'ak.pub.pem',
  name: 'ak.name',
} as const;

/** ak.json: how to load the AK again. */
export interface AkDescriptor {
  readonly format: 'vouch-ak-v1';
  /** The AK is a child of the storage root key made from this template in the owner hierarchy. */
  readonly parent: { readonly kind: 'srk'; readonly alg: KeyAlg; readonly template: 'tcg-provisioning-srk' };
  readonly alg: KeyAlg;
  readonly scheme: SignScheme;
  /** Name(AK) in hex: checked on every load, and what MakeCredential binds to. */
  readonly name: string;
}

export interface AkBlobs {
  readonly descriptor: AkDescriptor;
  readonly public: Sized<structures.TPMT_PUBLIC>;
  readonly private: Uint8Array;
}

/** The SRK template every Vouch AK lives under (ECC: created in milliseconds, where RSA primaries take seconds on a hardware TPM). */
const SRK_ALG: KeyAlg = 'ecc';
/** A TPM2B_PUBLIC or TPM2B_PRIVATE is a few hundred bytes; a JSON descriptor less. */
const MAX_AK_FILE_BYTES = 64 * 1024;

/** Creates an AK under the SRK (restricted signing key, fixedTPM), and returns its blobs; nothing stays loaded. */
export async function createAk(tpm: Tpm, alg: KeyAlg, scheme: SignScheme): Promise<AkBlobs> {
  await using srk = await tpm.createSRK(SRK_ALG);
  const ak = await tpm.createAK(srk, alg, scheme);
  await ak.key.flush();
  return {
    descriptor: { format: 'vouch-ak-v1', parent: { kind: 'srk', alg: SRK_ALG, template: 'tcg-provisioning-srk' }, alg, scheme, name: toHex(ak.key.name) },
    public: ak.public,
    private: ak.private,
  };
}

/** Writes the AK's files into `dir` (created owner-only if missing), each atomically and owner-only. */
export async function writeAk(dir: string, blobs: AkBlobs): Promise<void> {
  await makeDirectory(dir, 0o700);
  // The descriptor last: a directory with ak.json holds every file it describes.
  await writeFileAtomically(join(dir, AkFile.public), encode(structures.TPM2B_PUBLIC, blobs.public));
  await writeFileAtomically(join(dir, AkFile.private), encode(structures.TPM2B_PRIVATE, blobs.private));
  await writeFileAtomically(join(dir, AkFile.publicPem), publicKeyPem(blobs.public.value));
  await writeFileAtomically(join(dir, AkFile.name), objectName(blobs.public));
  await writeFileAtomically(join(dir, AkFile.descriptor), JSON.stringify(blobs.descriptor, null, 2) + '\n');
}

const KEY_ALGS: readonly unknown[] = ['rsa', 'ecc'];
const SCHEMES: Readonly<Record<KeyAlg, readonly unknown[]>> = { rsa: ['rsassa', 'rsapss'], ecc: ['ecdsa'] };

/** ak.json is read back from a directory anyone with access may have edited: every field is checked, not assumed. */
function isAkDescriptor(untrusted: unknown): untrusted is AkDescriptor {
  if (typeof untrusted !== 'object' || untrusted === null) return false;
  const d = untrusted as Partial<Record<keyof AkDescriptor, unknown>>;
  if (d.format !== 'vouch-ak-v1' || typeof d.parent !== 'object' || d.parent === null) return false;
  const parent = d.parent as Partial<Record<keyof AkDescriptor['parent'], unknown>>;
  if (parent.kind !== 'srk' || !KEY_ALGS.includes(parent.alg) || parent.template !== 'tcg-provisioning-srk') return false;
  if (!KEY_ALGS.includes(d.alg) || !SCHEMES[d.alg as KeyAlg].includes(d.scheme)) return false;
  return typeof d.name === 'string' && /^[0-9a-f]{68}$/.test(d.name);
}

function bad(dir: string, file: string, why: string): AgentError {
  return new AgentError('ERR_AGENT_STATE', `${join(dir, file)}: ${why}`, { path: join(dir, file) });
}

/**
 * Reads an AK directory. Files that cannot be read fail with node:fs's errno errors (ENOENT, EACCES),
 * which the caller names; content that is not a Vouch AK is ERR_AGENT_STATE.
 */
export async function readAk(dir: string): Promise<AkBlobs> {
  const read = async (file: string): Promise<Uint8Array> => {
    try {
      return await readFileUpTo(join(dir, file), MAX_AK_FILE_BYTES);
    } catch (e) {
      if (typeof (e as NodeJS.ErrnoException).code === 'string') throw e;
      throw bad(dir, file, `larger than an AK file can be (${MAX_AK_FILE_BYTES} bytes)`);
    }
  };
  // One after the other, so a directory missing several files always names the same one first.
  const json = Buffer.from(await read(AkFile.descriptor)).toString('utf8');
  const publicBytes = await read(AkFile.public);
  const privateBytes = await read(AkFile.private);
  let descriptor: unknown;
  try {
    descriptor = JSON.parse(json);
  } catch (e) {
    throw bad(dir, AkFile.descriptor, `not JSON: ${(e as Error).message}`);
  }
  if (!isAkDescriptor(descriptor)) throw bad(dir, AkFile.descriptor, 'not a Vouch AK descriptor (format vouch-ak-v1)');
  let pub: Sized<structures.TPMT_PUBLIC>;
  let priv: Uint8Array;
  try {
    pub = decode(structures.TPM2B_PUBLIC, publicBytes, AkFile.public);
    priv = decode(structures.TPM2B_PRIVATE, privateBytes, AkFile.private);
  } catch (e) {
    throw new AgentError('ERR_AGENT_STATE', `${dir}: the AK blobs do not decode: ${(e as Error).message}`, { path: dir }, { cause: e });
  }
  if (toHex(objectName(pub)) !== descriptor.name) throw bad(dir, AkFile.public, `does not have the Name recorded in ${AkFile.descriptor}`);
  return { descriptor, public: pub, private: priv };
}

/** Loads the AK under a freshly derived SRK (flushed again at once); the caller flushes the AK. */
export async function loadAk(tpm: Tpm, blobs: AkBlobs, where: string): Promise<Loaded> {
  const srk = await tpm.createSRK(blobs.descriptor.parent.alg);
  try {
    return await tpm.load(srk.ref, blobs.private, blobs.public);
  } catch (e) {
    if (!(e instanceof TpmError) || e.code !== 'ERR_TPM_RC') throw e;
    // TPM_RC_INTEGRITY: the private blob is wrapped by another storage key than this TPM's SRK.
    const hint =
      e.details.rcName === 'TPM_RC_INTEGRITY' ? ": the AK was made by another TPM, or this TPM's owner hierarchy was cleared since; make a new one" : '';
    throw new TpmError('ERR_TPM_RC', `cannot load the AK of ${where}: ${e.message}${hint}`, e.details, { cause: e });
  } finally {
    await srk.flush();
  }
}
