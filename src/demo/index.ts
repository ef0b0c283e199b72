// Public API of the demo: the scenario (releases, fleet, appraisal) that `vouch demo` runs.
export { runDemo } from './run-demo.ts';
export type { DemoOptions, DemoResult, DemoRun, ReleaseSummary } from './run-demo.ts';
export { planFleet, createReferences, runNode, Tamper, TAMPER_DESCRIPTIONS, MAX_FLEET_NODES, DEFAULT_FLEET_NODES, QUOTED_PCRS } from './fleet.ts';
export type { NodePlan, NodeOutcome, NodeEvidenceFiles, DemoReferences } from './fleet.ts';
export { activateCredential, enrollNode } from './enrollment.ts';
export type { EnrollmentRecord } from './enrollment.ts';
export {
  buildRelease,
  releaseReferences,
  bootProfile,
  bootProfileDocument,
  predictBoot,
  kernelCommandLine,
  certificateDatabase,
  demoFirmware,
  DEMO_BANKS,
} from './boot-chain.ts';
export type { Release, ReleaseReference, FirmwareKeys } from './boot-chain.ts';
export { buildRootImage, releaseFiles, debugShellFile } from './root-images.ts';
export type { RootImage, RootFile } from './root-images.ts';
export { logEventsOf, extendEvents } from './measured-boot.ts';
export { writeDemoArtifacts, nodeArtifactPaths, ArtifactLayout } from './artifacts.ts';
export type { WrittenArtifacts, NodeArtifactPaths } from './artifacts.ts';
export { renderDemo } from './render.ts';
export { seededRandom } from './seeded-random.ts';
export { DemoError, DemoErrorCode } from './errors.ts';
export type { DemoErrorCodeName } from './errors.ts';
