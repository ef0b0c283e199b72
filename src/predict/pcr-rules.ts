// How a reference set appraises each PCR (docs/design.md "Claims and policy": every quoted PCR has a
// rule, nothing is skipped silently): the predicted value, one of several known values, or "not
// appraised" with the reason written next to it. Prediction covers the PCRs the boot chain owns;
// this table gives every other PC Client PCR (TCG PC Client PFP §3.3.4, PTP §4.6, systemd's
// TPM2_PCR_MEASUREMENTS) its default, which an operator can replace per release — pinning the
// firmware PCRs of a hardware model to its known values, for instance.
import { initialPcrValue } from '../eventlog/index.ts';
import { toHex } from '../bytes/index.ts';
import type { PcrBank } from './banks.ts';

/** One PCR's rule: a value (hex), any of several values, or a written reason not to appraise it. */
export type PcrRule = string | { readonly oneOf: readonly string[] } | { readonly notAppraised: string };

/** Bank → PCR number → rule. */
export type PcrRules = Readonly<Partial<Record<PcrBank, Readonly<Record<string, PcrRule>>>>>;

/** PC Client PCRs 0-23. */
export const PCR_COUNT = 24;

const notAppraised = (reason: string): PcrRule => ({ notAppraised: reason });
const resetValue = (bank: PcrBank, pcr: number): PcrRule => toHex(initialPcrValue(pcr, bank));

/** Why a PCR outside the boot chain's own is not appraised by default, or what value it must hold. */
const DEFAULT_RULES: Readonly<Record<number, (bank: PcrBank, pcr: number) => PcrRule>> = {
  0: () => notAppraised('platform firmware code (SRTM, PFP §3.3.4.1): depends on the machine model and firmware version; pin the known values as oneOf'),
  1: () => notAppraised('platform configuration (firmware settings, SMBIOS, microcode): differs per machine; pin the known values as oneOf'),
  2: () => notAppraised('option ROM and UEFI driver code: depends on the installed devices; pin the known values as oneOf'),
  3: () => notAppraised('option ROM configuration: depends on the installed devices; pin the known values as oneOf'),
  5: () => notAppraised('boot manager configuration and GPT: depends on the disk layout and boot entries; pin the known values as oneOf'),
  6: () => notAppraised('host platform manufacturer events (resume from S4/S5, vendor events): differs per machine'),
  10: () => notAppraised('IMA runtime measurements: appraised by an IMA policy, not by boot reference values'),
  15: () => notAppraised('systemd userspace measurements (machine-id, file system identities) made after the initrd'),
  16: resetValue,
  17: resetValue,
  18: resetValue,
  19: resetValue,
  20: resetValue,
  21: resetValue,
  22: resetValue,
  23: () => notAppraised('application PCR, extended by software after boot'),
};

/**
 * Why a default says "reset value": PCR 16 is the debug PCR nothing in a production boot extends,
 * PCRs 17-22 stay all-ones unless a dynamic launch (TXT/SKINIT) happened. A different value means
 * something ran that the release does not ship. The boot chain's own PCRs (4, 7-9, 11-14) come
 * from prediction, which predicts the untouched ones of a whole chain at their reset values; a
 * profile that describes only part of a boot leaves them "not modelled".
 */
export function defaultPcrRule(pcr: number, bank: PcrBank): PcrRule {
  const rule = DEFAULT_RULES[pcr];
  return rule ? rule(bank, pcr) : notAppraised(`PCR ${pcr} is not modelled by this boot profile (it describes only part of the boot chain)`);
}

/** Rules for all 24 PCRs of each bank: the predicted values, and the defaults for the rest. */
export function completePcrRules(predicted: Readonly<Partial<Record<PcrBank, Readonly<Record<string, string>>>>>): PcrRules {
  const out: Partial<Record<PcrBank, Record<string, PcrRule>>> = {};
  for (const [bank, values] of Object.entries(predicted) as [PcrBank, Readonly<Record<string, string>> | undefined][]) {
    if (values === undefined) continue;
    const rules: Record<string, PcrRule> = {};
    for (let pcr = 0; pcr < PCR_COUNT; pcr++) rules[String(pcr)] = values[String(pcr)] ?? defaultPcrRule(pcr, bank);
    out[bank] = rules;
  }
  return out;
}

/** The rule in words, for reasons and tables: the value, "one of a, b", or "not appraised: why". */
export function describePcrRule(rule: PcrRule): string {
  if (typeof rule === 'string') return rule;
  if ('oneOf' in rule) return `one of ${rule.oneOf.join(', ')}`;
  return `not appraised: ${rule.notAppraised}`;
}

/** Whether a value satisfies a rule (undefined for a not-appraised rule). */
export function ruleAccepts(rule: PcrRule, value: string): boolean | undefined {
  if (typeof rule === 'string') return rule === value;
  if ('oneOf' in rule) return rule.oneOf.includes(value);
  return undefined;
}
