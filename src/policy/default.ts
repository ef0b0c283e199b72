// The policy a fresh server runs with: what every Vouch fleet should require of a boot beyond the
// reference values (which appraisal applies to every quoted PCR on its own). Operators replace it
// with their own (`vouch admin policy set`), starting from docs/policy.md.
import type { PolicyDocument } from './document.ts';

export const DEFAULT_POLICY: PolicyDocument = {
  rules: [
    {
      name: 'secure-boot-on',
      expr: 'has(claims.secureBoot.enabled) && claims.secureBoot.enabled',
      message: 'UEFI Secure Boot must be enabled (the SecureBoot variable measured into PCR 7)',
      action: 'deny',
    },
    {
      name: 'released-root-image',
      expr: 'has(claims.composefsDigest) && has(refs.composefsRelease)',
      message: 'the measured command line must mount the composefs root image of a reference release',
      action: 'deny',
    },
    {
      name: 'no-init-override',
      expr: '!has(claims.kernelCmdline) || !claims.kernelCmdline.matches("(^|\\\\s)(init|rd\\\\.break|systemd\\\\.debug[-_]shell|rd\\\\.shell)(=|\\\\s|$)")',
      message: 'the kernel command line must not replace init or ask for a debug shell',
      action: 'deny',
    },
    {
      name: 'log-consistent',
      expr: '!claims.findings.exists(f, f.severity == "error")',
      message: 'the event log must not contradict itself',
      action: 'deny',
    },
  ],
};
