// Boot profiles as `vouch predict` reads them: the file's text parsed as YAML (JSON is a subset),
// validated into a BootProfile, and the artifact files it names listed.
import { profileFromText } from '../../src/cli/commands/predict.ts';
import { profileArtifacts } from '../../src/predict/index.ts';

export { VouchError } from './typed.ts';

export function fuzzOne(data: Uint8Array): void {
  profileArtifacts(profileFromText(new TextDecoder().decode(data), 'profile.yaml'));
}
