// The predicted events as a binary TCG event log (crypto-agile, PC Client PFP §10): what a
// simulated boot writes next to its TPM, and what an operator diffs against a node's
// binary_bios_measurements (`vouch predict --log-out`, then `vouch eventlog show` on both).
import { fromHex } from '../bytes/index.ts';
import { encodeEventLog, EventType, type EventToEncode } from '../eventlog/index.ts';
import { isPcrBank, type PcrBank } from './banks.ts';
import { PredictError } from './errors.ts';
import type { Prediction } from './predict.ts';
import { type HashAlgorithmName } from '../hash/index.ts';

function predictedBanks(prediction: Prediction): PcrBank[] {
  return Object.keys(prediction.banks).filter(isPcrBank);
}

/**
 * The events of the prediction that the firmware log carries, in log order, with their data and
 * their digest in every predicted bank. Extends made from userspace (systemd-pcrphase) are left
 * out: a quote taken after them shows PCR 11 further extended than this log replays to.
 */
export function expectedLogEvents(prediction: Prediction): EventToEncode[] {
  const banks = predictedBanks(prediction);
  return prediction.events.flatMap((event, index) => {
    if (event.data === undefined) return [];
    const digests: Partial<Record<HashAlgorithmName, Uint8Array>> = {};
    for (const bank of banks) {
      const hex = event.digests[bank];
      // Without it the encoder would hash the event data, a digest no firmware logged.
      if (hex === undefined)
        throw new PredictError('ERR_PREDICT_DIGEST_MISSING', `event #${index} (${event.description}): no ${bank} digest for the log's ${bank} bank`, {
          bank,
          event: index,
        });
      digests[bank] = fromHex(hex);
    }
    return [{ pcr: event.pcr, type: EventType[event.type], data: fromHex(event.data), digests }];
  });
}

/**
 * The expected log as binary_bios_measurements bytes: a Spec ID Event03 header for the predicted
 * banks, then expectedLogEvents(). Only the predicted PCRs have events (no PCR 0-3, 5, 6).
 *
 * @example await writeFile('expected.bin', encodeExpectedEventLog(predict(profile, artifacts)))
 */
export function encodeExpectedEventLog(prediction: Prediction): Uint8Array {
  return encodeEventLog({ banks: predictedBanks(prediction), events: expectedLogEvents(prediction) });
}
