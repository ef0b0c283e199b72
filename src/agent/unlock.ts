// `vouch agent unlock`: a disk key from the first source that has one, then the LUKS2 volume opened
// with it (formatted first when asked and the volume is strictly blank). Sources are tried in
// order; today the only one is remote attestation, and a local unseal (the disk key sealed to this
// TPM's PCRs under the fleet's signed policy) goes before it, so a node that can unseal locally
// boots without the server, and one that cannot falls back to attesting.
import { AgentError } from './errors.ts';
import { blankVerdict, formatLuks, openLuks, probeVolume, testLuksKey } from './luks.ts';
import type { ToolPaths } from './tools.ts';

/** A disk key and where it came from; the caller wipes `key`. */
export interface ObtainedKey {
  readonly key: Uint8Array;
  /** Shown to the operator, e.g. "released by https://vouch.example after attestation (result …)". */
  readonly via: string;
  /** What the source reports about itself (node id, result id), never anything secret. */
  readonly details: Readonly<Record<string, unknown>>;
}

/** One way to get the disk key: undefined when this source has none for this boot (try the next). */
export type KeySource = () => Promise<ObtainedKey | undefined>;

export interface UnlockRequest {
  readonly device: string;
  /** The /dev/mapper name to open it as; absent: only check that the key opens it (cryptsetup open --test-passphrase). */
  readonly mapperName?: string;
  readonly formatIfBlank: boolean;
  readonly tools: ToolPaths;
  readonly log: (line: string) => void;
}

export interface UnlockReport {
  readonly device: string;
  readonly mapped?: string;
  readonly tested: boolean;
  readonly formatted: boolean;
  readonly via: string;
  readonly details: Readonly<Record<string, unknown>>;
}

/** The key of the first source that has one; the last source's failure when none has. */
export async function obtainKey(sources: readonly KeySource[]): Promise<ObtainedKey> {
  for (const source of sources) {
    const obtained = await source();
    if (obtained) return obtained;
  }
  throw new AgentError('ERR_AGENT_SECRETS', 'no source gave a disk key for this volume', {});
}

/** Opens (or tests) the volume with the first source's key, formatting a strictly blank volume first when asked. */
export async function unlockVolume(request: UnlockRequest, sources: readonly KeySource[]): Promise<UnlockReport> {
  const { device, tools } = request;
  const { key, via, details } = await obtainKey(sources);
  let formatted = false;
  try {
    if (request.formatIfBlank) {
      const probe = await probeVolume(device, tools);
      if (!probe.isLuks) {
        const verdict = blankVerdict(probe);
        if (!verdict.blank) throw new AgentError('ERR_AGENT_NOT_BLANK', `${device} is not blank, so it is not formatted: ${verdict.why}`, { device });
        request.log(`${device} is blank: formatting it as LUKS2 with the disk key`);
        await formatLuks(device, key, tools);
        formatted = true;
      }
    }
    if (request.mapperName === undefined) await testLuksKey(device, key, tools);
    else await openLuks(device, request.mapperName, key, tools);
  } finally {
    key.fill(0);
  }
  const mapped = request.mapperName === undefined ? {} : { mapped: `/dev/mapper/${request.mapperName}` };
  return { device, ...mapped, tested: request.mapperName === undefined, formatted, via, details };
}
