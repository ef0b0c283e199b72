// The clevis pin "vouch" (clevis-encrypt-vouch / clevis-decrypt-vouch), following clevis's pin
// conventions: encryption takes a JSON configuration and the plaintext, and writes a compact JWE
// whose protected header carries `clevis: {pin: "vouch", vouch: {...}}`; decryption needs nothing
// but that JWE. Design: the pin's key is derived from the node's released disk key,
//   HKDF-SHA256(diskKey, salt = nodeId, info = "vouch clevis pin v1") → 32 bytes,
// so both directions attest first, the key exists only in memory while attestation passes, and the
// server stores nothing new. The JWE is `dir` + A256GCM (jose): the header is the GCM associated
// data, so a header edited to point at another server or node fails to decrypt.
import { hkdfSync } from 'node:crypto';
import { CompactEncrypt, compactDecrypt } from 'jose';
import { AgentError } from './errors.ts';

export const CLEVIS_PIN = 'vouch';
const PIN_KEY_INFO = 'vouch clevis pin v1';

/** The pin's configuration: the JSON `clevis luks bind … vouch CONFIG` takes. */
export interface PinConfig {
  /** The Vouch server's URL. */
  readonly url: string;
  /** The server's certificate or CA: a PEM, or the path of a PEM file (read at encryption; the JWE carries the PEM). */
  readonly ca?: string;
  /** The TPM URI (default device:/dev/tpmrm0). */
  readonly tpm?: string;
  /** The agent's state directory (default /var/lib/vouch/agent). */
  readonly state?: string;
  /** The boot event log (default the kernel's securityfs file). */
  readonly eventlog?: string;
}

/** What the JWE header carries under clevis.vouch: everything decryption needs, and the node it was made for. */
export interface PinHeader {
  readonly url: string;
  readonly ca?: string;
  readonly tpm?: string;
  readonly state?: string;
  readonly eventlog?: string;
  readonly node: string;
}

const CONFIG_FIELDS = ['url', 'ca', 'tpm', 'state', 'eventlog'] as const;
const MAX_FIELD_LENGTH = 64 * 1024;

function clevisError(message: string, details: Record<string, unknown> = {}): AgentError {
  return new AgentError('ERR_AGENT_CLEVIS', message, details);
}

/** Checks the shape every pin object shares: known string fields only, a URL that parses. */
function checkFields(untrusted: unknown, what: string, extra: readonly string[]): Record<string, string> {
  if (typeof untrusted !== 'object' || untrusted === null || Array.isArray(untrusted)) throw clevisError(`${what} is not a JSON object`);
  const fields = untrusted as Record<string, unknown>;
  for (const [key, value] of Object.entries(fields)) {
    if (![...CONFIG_FIELDS, ...extra].includes(key))
      throw clevisError(`${what}: unknown field ${JSON.stringify(key)} (known: ${[...CONFIG_FIELDS, ...extra].join(', ')})`);
    if (typeof value !== 'string' || value === '' || value.length > MAX_FIELD_LENGTH) throw clevisError(`${what}: ${key} must be a non-empty string`);
  }
  if (fields.url === undefined) throw clevisError(`${what}: url is required`);
  try {
    const url = new URL(fields.url as string);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error(`scheme ${url.protocol}`);
  } catch (e) {
    throw clevisError(`${what}: url ${JSON.stringify(fields.url)} is not an http(s) URL (${(e as Error).message})`);
  }
  return fields as Record<string, string>;
}

/** The pin configuration (JSON text), checked: an unknown field is an error, not ignored (a typo must not change the binding). */
export function parsePinConfig(text: string): PinConfig {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw clevisError(`the configuration is not JSON: ${(e as Error).message}`);
  }
  return checkFields(json, 'the configuration', []) as unknown as PinConfig;
}

/** The pin's key: HKDF-SHA256 of the released disk key, salted with the node id. The caller wipes it. */
export function pinKey(diskKey: Uint8Array, nodeId: string): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', diskKey, Buffer.from(nodeId, 'utf8'), Buffer.from(PIN_KEY_INFO, 'utf8'), 32));
}

/** Encrypts for the pin: compact JWE, `dir` + A256GCM, the header naming the pin and what decryption needs. */
export function encryptForPin(plaintext: Uint8Array, key: Uint8Array, header: PinHeader): Promise<string> {
  return new CompactEncrypt(plaintext).setProtectedHeader({ alg: 'dir', enc: 'A256GCM', clevis: { pin: CLEVIS_PIN, [CLEVIS_PIN]: header } }).encrypt(key);
}

/** Reads the pin's part of a compact JWE's protected header (before anything can be verified: what it says is only used to attest). */
export function parsePinJwe(jwe: string): PinHeader {
  const parts = jwe.trim().split('.');
  if (parts.length !== 5 || !parts.every((p) => /^[A-Za-z0-9_-]*$/.test(p))) throw clevisError('the input is not a compact JWE (five base64url parts)');
  let header: unknown;
  try {
    header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8'));
  } catch (e) {
    throw clevisError(`the JWE's protected header is not JSON: ${(e as Error).message}`);
  }
  const h = header as { alg?: unknown; enc?: unknown; clevis?: { pin?: unknown; [CLEVIS_PIN]?: unknown } };
  if (h.clevis?.pin !== CLEVIS_PIN) throw clevisError(`the JWE is not for the ${CLEVIS_PIN} pin (clevis.pin is ${JSON.stringify(h.clevis?.pin)})`);
  if (h.alg !== 'dir' || h.enc !== 'A256GCM') throw clevisError(`the JWE uses ${String(h.alg)}/${String(h.enc)}; the ${CLEVIS_PIN} pin makes dir/A256GCM`);
  const fields = checkFields(h.clevis[CLEVIS_PIN], `the JWE header's clevis.${CLEVIS_PIN}`, ['node']);
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(fields.node ?? ''))
    throw clevisError(`the JWE header's clevis.${CLEVIS_PIN}.node is not a node id`);
  return fields as unknown as PinHeader;
}

/** Decrypts a pin JWE with the derived key; a wrong key (another node's, a replaced disk key) or an edited JWE is ERR_AGENT_CLEVIS. */
export async function decryptForPin(jwe: string, key: Uint8Array): Promise<Uint8Array> {
  try {
    const { plaintext } = await compactDecrypt(jwe.trim(), key, { keyManagementAlgorithms: ['dir'], contentEncryptionAlgorithms: ['A256GCM'] });
    return plaintext;
  } catch (e) {
    throw clevisError(`the JWE does not decrypt with this node's pin key (made for another disk key, or edited): ${(e as Error).message}`);
  }
}
