/**
 * TPM_RC response codes decoded into readable errors (TPM 2.0 Library Part 2, 6.6, Figures 26/27).
 *
 * Format 0 (bit 7 clear): bits 0–6 the error number, bit 8 set for TPM 2.0 codes, bit 11 set for
 * warnings (TPM_RC_WARN: retry-type conditions). Format 1 (bit 7 set): bits 0–5 the error number,
 * bit 6 P (the fault is in parameter N), else bit 11 of N says session (N-8) or handle (N).
 */
import { ccName } from './constants.ts';
import { TpmError } from './errors.ts';

const FMT0: Readonly<Record<number, string>> = {
  0x000: 'INITIALIZE',
  0x001: 'FAILURE',
  0x003: 'SEQUENCE',
  0x00b: 'PRIVATE',
  0x019: 'HMAC',
  0x020: 'DISABLED',
  0x021: 'EXCLUSIVE',
  0x024: 'AUTH_TYPE',
  0x025: 'AUTH_MISSING',
  0x026: 'POLICY',
  0x027: 'PCR',
  0x028: 'PCR_CHANGED',
  0x02d: 'UPGRADE',
  0x02e: 'TOO_MANY_CONTEXTS',
  0x02f: 'AUTH_UNAVAILABLE',
  0x030: 'REBOOT',
  0x031: 'UNBALANCED',
  0x042: 'COMMAND_SIZE',
  0x043: 'COMMAND_CODE',
  0x044: 'AUTHSIZE',
  0x045: 'AUTH_CONTEXT',
  0x046: 'NV_RANGE',
  0x047: 'NV_SIZE',
  0x048: 'NV_LOCKED',
  0x049: 'NV_AUTHORIZATION',
  0x04a: 'NV_UNINITIALIZED',
  0x04b: 'NV_SPACE',
  0x04c: 'NV_DEFINED',
  0x050: 'BAD_CONTEXT',
  0x051: 'CPHASH',
  0x052: 'PARENT',
  0x053: 'NEEDS_TEST',
  0x054: 'NO_RESULT',
  0x055: 'SENSITIVE',
};
const FMT1: Readonly<Record<number, string>> = {
  0x001: 'ASYMMETRIC',
  0x002: 'ATTRIBUTES',
  0x003: 'HASH',
  0x004: 'VALUE',
  0x005: 'HIERARCHY',
  0x007: 'KEY_SIZE',
  0x008: 'MGF',
  0x009: 'MODE',
  0x00a: 'TYPE',
  0x00b: 'HANDLE',
  0x00c: 'KDF',
  0x00d: 'RANGE',
  0x00e: 'AUTH_FAIL',
  0x00f: 'NONCE',
  0x010: 'PP',
  0x012: 'SCHEME',
  0x015: 'SIZE',
  0x016: 'SYMMETRIC',
  0x017: 'TAG',
  0x018: 'SELECTOR',
  0x01a: 'INSUFFICIENT',
  0x01b: 'SIGNATURE',
  0x01c: 'KEY',
  0x01d: 'POLICY_FAIL',
  0x01f: 'INTEGRITY',
  0x020: 'TICKET',
  0x021: 'RESERVED_BITS',
  0x022: 'BAD_AUTH',
  0x023: 'EXPIRED',
  0x024: 'POLICY_CC',
  0x025: 'BINDING',
  0x026: 'CURVE',
  0x027: 'ECC_POINT',
};
const WARN: Readonly<Record<number, string>> = {
  0x001: 'CONTEXT_GAP',
  0x002: 'OBJECT_MEMORY',
  0x003: 'SESSION_MEMORY',
  0x004: 'MEMORY',
  0x005: 'SESSION_HANDLES',
  0x006: 'OBJECT_HANDLES',
  0x007: 'LOCALITY',
  0x008: 'YIELDED',
  0x009: 'CANCELED',
  0x00a: 'TESTING',
  0x010: 'REFERENCE_H0',
  0x011: 'REFERENCE_H1',
  0x012: 'REFERENCE_H2',
  0x013: 'REFERENCE_H3',
  0x014: 'REFERENCE_H4',
  0x015: 'REFERENCE_H5',
  0x016: 'REFERENCE_H6',
  0x018: 'REFERENCE_S0',
  0x019: 'REFERENCE_S1',
  0x01a: 'REFERENCE_S2',
  0x01b: 'REFERENCE_S3',
  0x01c: 'REFERENCE_S4',
  0x01d: 'REFERENCE_S5',
  0x01e: 'REFERENCE_S6',
  0x020: 'NV_RATE',
  0x021: 'LOCKOUT',
  0x022: 'RETRY',
  0x023: 'NV_UNAVAILABLE',
  0x07f: 'NOT_USED',
};

/** Base values for building codes: TPM_RC.POLICY_FAIL etc. (format-1 codes without P/N bits). */
export const TPM_RC = {
  SUCCESS: 0x000,
  BAD_TAG: 0x01e,
  ...Object.fromEntries(Object.entries(FMT0).map(([k, v]) => [v, 0x100 + Number(k)])),
  ...Object.fromEntries(Object.entries(FMT1).map(([k, v]) => [v, 0x080 + Number(k)])),
  ...Object.fromEntries(Object.entries(WARN).map(([k, v]) => [v, 0x900 + Number(k)])),
} as Readonly<Record<string, number>>;

export interface DecodedRc {
  readonly rc: number;
  /** e.g. "TPM_RC_POLICY_FAIL"; "TPM_RC_0x..." when the number is unknown. */
  readonly name: string;
  /** The code with parameter/handle/session bits removed (compare against TPM_RC.*). */
  readonly base: number;
  readonly format: 0 | 1;
  readonly warning: boolean;
  readonly parameter?: number;
  readonly handle?: number;
  readonly session?: number;
  /** Non-zero for codes from a software layer (TSS / resource manager), bits 16–23. */
  readonly layer: number;
  readonly tpm12: boolean;
}

export function decodeRc(rc: number): DecodedRc {
  const layer = (rc >>> 16) & 0xff;
  const code = rc & 0xffff;
  const hex = (n: number) => `0x${n.toString(16).padStart(3, '0')}`;
  if (code === 0) return { rc, name: 'TPM_RC_SUCCESS', base: 0, format: 0, warning: false, layer, tpm12: false };
  if (code & 0x080) {
    const num = code & 0x03f;
    const base = 0x080 + num;
    const n = (code >>> 8) & 0xf;
    const where: { parameter?: number; handle?: number; session?: number } = {};
    if (code & 0x040) where.parameter = n;
    else if (n & 0x8) where.session = n - 8;
    else if (n !== 0) where.handle = n;
    return { rc, name: `TPM_RC_${FMT1[num] ?? hex(base)}`, base, format: 1, warning: false, layer, tpm12: false, ...where };
  }
  if (!(code & 0x100)) {
    const name = code === 0x01e ? 'TPM_RC_BAD_TAG' : `TPM_1.2_RC_${hex(code)}`;
    return { rc, name, base: code, format: 0, warning: false, layer, tpm12: code !== 0x01e };
  }
  const num = code & 0x07f;
  const warning = (code & 0x800) !== 0;
  const base = (warning ? 0x900 : 0x100) + num;
  const table = warning ? WARN : FMT0;
  return { rc, name: `TPM_RC_${table[num] ?? hex(base)}`, base, format: 0, warning, layer, tpm12: false };
}

/** "TPM_RC_VALUE (parameter 2)", "TPM_RC_BAD_AUTH (session 1)", with the layer when not the TPM. */
export function describeRc(rc: number): string {
  const d = decodeRc(rc);
  const where =
    d.parameter !== undefined
      ? ` (parameter ${d.parameter})`
      : d.handle !== undefined
        ? ` (handle ${d.handle})`
        : d.session !== undefined
          ? ` (session ${d.session})`
          : '';
  const layer = d.layer ? ` [layer ${d.layer}]` : '';
  return `${d.name}${where}${layer}`;
}

const HINTS: Readonly<Record<string, string>> = {
  TPM_RC_AUTH_FAIL: 'wrong authorization value (counts towards dictionary-attack lockout)',
  TPM_RC_BAD_AUTH: 'wrong authorization value for an object without dictionary-attack protection',
  TPM_RC_POLICY_FAIL: "the policy session does not satisfy the object's authPolicy",
  TPM_RC_LOCKOUT: 'the TPM is in dictionary-attack lockout',
  TPM_RC_INITIALIZE: 'the TPM has not received TPM2_Startup',
  TPM_RC_OBJECT_MEMORY: 'out of object slots: flush transient objects (no resource manager?)',
  TPM_RC_SESSION_MEMORY: 'out of session slots: flush sessions',
  TPM_RC_RETRY: 'the TPM asks to retry the command',
  TPM_RC_NV_DEFINED: 'the NV index already exists',
  TPM_RC_HANDLE: 'the handle does not refer to a loaded object or defined index',
  TPM_RC_PCR_CHANGED: 'PCR values changed during a policy session',
};

/** The error a command's failure response becomes: ERR_TPM_RC with the decoded code in details. */
export class TpmRcError extends TpmError {
  readonly rc: DecodedRc;
  readonly commandCode: number;
  constructor(rc: number, commandCode: number) {
    const d = decodeRc(rc);
    const hint = HINTS[d.name];
    super('ERR_TPM_RC', `${ccName(commandCode)} failed: ${describeRc(rc)} (0x${rc.toString(16)})${hint ? `: ${hint}` : ''}`, {
      rc,
      rcName: d.name,
      command: ccName(commandCode),
      ...(d.parameter !== undefined ? { parameter: d.parameter } : {}),
      ...(d.handle !== undefined ? { handle: d.handle } : {}),
      ...(d.session !== undefined ? { session: d.session } : {}),
      warning: d.warning,
    });
    this.rc = d;
    this.commandCode = commandCode;
  }
}

/** True when `e` is a TPM response code error with base code `base` (e.g. TPM_RC.POLICY_FAIL). */
export function isRc(e: unknown, base: number): e is TpmRcError {
  return e instanceof TpmRcError && e.rc.base === base;
}
