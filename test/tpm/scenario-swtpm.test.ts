// The TPM scenario suite on a real swtpm (a fresh instance per test, over inherited socketpairs).
import { Tpm } from '../../src/tpm/client.ts';
import { startSwtpm } from '../helpers/swtpm.ts';
import { tpmScenarioSuite } from './scenario.ts';

tpmScenarioSuite('swtpm', async (t) => {
  const swtpm = await startSwtpm(t);
  return swtpm?.transport ? new Tpm(swtpm.transport) : undefined;
});
