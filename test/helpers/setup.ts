// Loaded into every test process (scripts/run-tests.ts passes --import). Property tests run with one
// fixed fast-check seed so a CI run is reproducible; set VOUCH_FC_SEED=random (or a number) to
// explore other inputs locally — a failure prints the seed and path to replay it.
import fc from 'fast-check';

const configured = process.env.VOUCH_FC_SEED;
if (configured !== 'random') {
  const seed = configured === undefined ? 0x5eed : Number(configured);
  if (!Number.isSafeInteger(seed)) throw new Error(`VOUCH_FC_SEED must be an integer or "random", got ${configured}`);
  fc.configureGlobal({ seed });
}
