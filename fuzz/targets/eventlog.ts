// Event logs as a verifier receives them: parse (framing and every event type's decoder), replay
// every bank, check which events' data is bound to their digests, and describe each event as
// `vouch eventlog show` prints it.
import { checkEventDigests, describeDecodedEvent, parseEventLog, replay } from '../../src/eventlog/index.ts';

export { VouchError } from '../../src/errors/index.ts';

export function fuzzOne(data: Uint8Array): void {
  const log = parseEventLog(data);
  replay(log);
  checkEventDigests(log);
  for (const event of log.events) describeDecodedEvent(event.decoded);
}
