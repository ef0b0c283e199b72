// The TPM scenario suite on the in-process software TPM (a fresh, seeded simulator per test).
import { Tpm } from '../../src/tpm/client.ts';
import { createSimulator } from '../../src/tpm/sim/index.ts';
import { tpmScenarioSuite } from './scenario.ts';

let n = 0;
tpmScenarioSuite('sim', async (t) => {
  const tpm = new Tpm(await createSimulator({ seed: `scenario ${++n}` }));
  t.after(() => tpm.close());
  return tpm;
});
