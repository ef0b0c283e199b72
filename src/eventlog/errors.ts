import { VouchError, defineErrorCodes, type ErrorDetails } from '../errors/index.ts';

export const EventLogErrorCode = defineErrorCodes('eventlog', {
  ERR_EVENTLOG_TRUNCATED:
    'The event log (or a structure inside an event) ends before a field it announces is complete; check that the whole binary_bios_measurements file was copied.',
  ERR_EVENTLOG_TOO_LARGE: 'A count or size in the event log exceeds its named maximum (event data size, digest count, event count, device path nodes).',
  ERR_EVENTLOG_MALFORMED:
    'A structure in the event log is inconsistent: bad Spec ID header, digest size disagreeing with the algorithm, trailing bytes in a structure, PCR index out of range.',
  ERR_EVENTLOG_UNKNOWN_ALGORITHM: 'An event carries a digest for an algorithm the Spec ID header does not declare, so its size is unknown.',
  ERR_EVENTLOG_DIGEST_MISSING:
    'A crypto-agile event lacks the digest of a bank that the Spec ID header allocates; every event must carry every bank, or a bank could be replayed without it.',
  ERR_EVENTLOG_BANK_MISSING: 'A PCR bank was requested (replay --bank, quote comparison) that the event log does not carry.',
  ERR_EVENTLOG_QUOTED_PCRS:
    'Quoted PCR values given for comparison are unusable: a PCR number outside 0-23, or a value that is not hex of the bank digest size; check the quote file.',
  ERR_EVENTLOG_DEVICE_PATH: 'A UEFI device path is malformed: node shorter than its header, node running past the path, or missing end node.',
});

export class EventLogError extends VouchError {
  constructor(code: keyof typeof EventLogErrorCode, message: string, details: ErrorDetails = {}) {
    super(code, message, details);
  }
}
