// Public API of the demo: the releases and the simulated fleet (pure plans, software TPMs), the
// story told to a Vouch server over HTTP, the expectations checked, and the report.
export { prepareDemo, demoResult } from './run-demo.ts';
export type { DemoOptions, DemoResult, NodeOutcome, PreparedDemo, ReleaseSummary } from './run-demo.ts';
export {
  planFleet,
  createReferences,
  quoteNode,
  SimulatedNode,
  Tamper,
  TAMPER_DESCRIPTIONS,
  MAX_FLEET_NODES,
  DEFAULT_FLEET_NODES,
  QUOTED_PCRS,
} from './fleet.ts';
export type { NodePlan, NodeEvidence, DemoReferences } from './fleet.ts';
export { AdminApi, importReferences, runFleet } from './story.ts';
export type { FleetOptions, NodeRun, NodeEvidenceFiles } from './story.ts';
export { unmetExpectations, EXPECTED_REFUSALS } from './expectations.ts';
export type { ObservedNode } from './expectations.ts';
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
export type { DemoRun, WrittenArtifacts, NodeArtifactPaths } from './artifacts.ts';
export { renderDemo } from './render.ts';
export { seededRandom } from './seeded-random.ts';
export { DemoError, DemoErrorCode } from './errors.ts';
export type { DemoErrorCodeName } from './errors.ts';
