// The attestation result as an EAR (EAT Attestation Result, draft-ietf-rats-ear, with the
// trustworthiness claims of draft-ietf-rats-ar4si): what the verifier concluded, in a form any
// relying party can check without knowing Vouch. Pure: the server signs it (JWT, ES256).
import type { Verdict } from './verdict.ts';

/** AR4SI trustworthiness claim values (§2.3): 0 no claim, 2-31 affirming, 32-95 warning, 96-127 contraindicated. */
export const TrustClaim = {
  noClaim: 0,
  /** instance-identity: recognized and not compromised; hardware: genuine; configuration/file-system: approved. */
  affirming: 2,
  /** executables: only approved executables were loaded during boot. */
  approvedBoot: 3,
  /** file-system: unrecognized item(s). */
  unrecognizedFiles: 32,
  /** executables: runtime memory holds unrecognized executables. */
  unrecognizedRuntime: 33,
  /** configuration: unsupportable; executables/file-system: contraindicated. */
  contraindicated: 96,
  /** instance-identity / hardware: not recognized though it should be. */
  unrecognized: 97,
  cryptoValidationFailed: 99,
} as const;

export interface TrustworthinessVector {
  readonly 'instance-identity': number;
  readonly configuration: number;
  readonly executables: number;
  readonly 'file-system': number;
  readonly hardware: number;
}

/** The PCRs whose events load executables in a measured boot: boot applications, GRUB, kernel, UKI, sysexts, MOK. */
const EXECUTABLE_PCRS = new Set([4, 8, 9, 11, 12, 13, 14]);
/** The Secure Boot policy PCR. */
const CONFIGURATION_PCR = 7;

/** Maps a verdict to AR4SI trustworthiness claims; every claim follows from the verdict's reasons and PCR appraisals. */
export function trustworthinessVector(verdict: Verdict): TrustworthinessVector {
  const has = (reason: string): boolean => verdict.reasons.some((r) => r.reason === reason);
  if (has('not-enrolled')) {
    return { 'instance-identity': TrustClaim.unrecognized, configuration: 0, executables: 0, 'file-system': 0, hardware: TrustClaim.unrecognized };
  }
  if (has('quote-invalid')) {
    const failed = TrustClaim.cryptoValidationFailed;
    return { 'instance-identity': failed, configuration: failed, executables: failed, 'file-system': failed, hardware: failed };
  }
  const logUntrusted = has('event-log-malformed') || has('log-does-not-replay') || has('event-data-forged') || has('claim-conflict');
  const outcome = (pcrs: (pcr: number) => boolean): 'matches' | 'differs' | 'none' => {
    const appraised = verdict.pcrs.filter((p) => pcrs(p.pcr) && p.outcome !== 'not-appraised');
    if (appraised.length === 0) return 'none';
    return appraised.every((p) => p.outcome === 'matches') ? 'matches' : 'differs';
  };
  const configuration = outcome((p) => p === CONFIGURATION_PCR);
  const executables = outcome((p) => EXECUTABLE_PCRS.has(p));
  const secureBootOff = verdict.claims?.secureBoot.enabled === false;
  return {
    'instance-identity': TrustClaim.affirming,
    hardware: TrustClaim.affirming,
    configuration:
      logUntrusted || secureBootOff || configuration === 'differs' ? TrustClaim.contraindicated : configuration === 'matches' ? TrustClaim.affirming : 0,
    executables: logUntrusted
      ? TrustClaim.contraindicated
      : executables === 'differs'
        ? TrustClaim.unrecognizedRuntime
        : executables === 'matches'
          ? TrustClaim.approvedBoot
          : 0,
    'file-system':
      verdict.claims?.composefsDigest === undefined ? 0 : verdict.composefsRelease !== undefined ? TrustClaim.affirming : TrustClaim.unrecognizedFiles,
  };
}

export interface EarContext {
  readonly nodeId: string;
  readonly policyId: string;
  /** The challenge nonce (base64url), so a relying party can tie the result to its request. */
  readonly nonce: string;
  readonly issuer: string;
  readonly verifierBuild: string;
  readonly lifetimeSeconds: number;
}

/** The EAR claims set (JWT payload): one submodule, `vouch-node`, for the node's boot. */
export function earClaims(verdict: Verdict, context: EarContext): Record<string, unknown> {
  const iat = Math.floor(Date.parse(verdict.appraisedAt) / 1000);
  return {
    eat_profile: 'tag:github.com,2023:veraison/ear',
    iss: context.issuer,
    sub: context.nodeId,
    iat,
    exp: iat + context.lifetimeSeconds,
    eat_nonce: context.nonce,
    'ear.verifier-id': { build: context.verifierBuild, developer: 'vouch' },
    submods: {
      'vouch-node': {
        'ear.status': verdict.status,
        'ear.trustworthiness-vector': trustworthinessVector(verdict),
        'ear.appraisal-policy-id': context.policyId,
        'vouch.matched-releases': verdict.matchedReleases,
        'vouch.reasons': verdict.reasons.map((r) => ({ reason: r.reason, message: r.message, ...(r.pcr !== undefined ? { pcr: r.pcr } : {}) })),
      },
    },
  };
}
