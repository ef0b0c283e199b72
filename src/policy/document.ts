// A policy document: named CEL rules over the claims of an attestation (docs/design.md "Claims and
// policy"). The document is data (YAML or JSON as the caller parsed it); this checks its shape
// before any rule is compiled, so a malformed policy is refused when it is saved, not at the first
// attestation it would judge.
import { PolicyError } from './errors.ts';

export const RuleAction = { deny: 'deny', warn: 'warn' } as const;
export type RuleAction = (typeof RuleAction)[keyof typeof RuleAction];

export interface PolicyRule {
  /** A short stable name (`secure-boot-on`): what verdicts and audit entries cite. */
  readonly name: string;
  /** A CEL expression over `claims`, `refs` and `node` that must be true. */
  readonly expr: string;
  /** What a failure means, for people. */
  readonly message: string;
  /** `deny` (default) contraindicates the attestation; `warn` makes it a warning. */
  readonly action: RuleAction;
}

export interface PolicyDocument {
  readonly rules: readonly PolicyRule[];
}

/** Bounds on a policy: a document an operator writes has tens of rules of a few lines each. */
export const PolicyLimits = { maxRules: 256, maxExpressionLength: 4096, maxNameLength: 64, maxMessageLength: 1024 } as const;

const RULE_NAME = /^[a-z0-9][a-z0-9-]*$/;

function invalid(message: string, details: Record<string, unknown> = {}): never {
  throw new PolicyError('ERR_POLICY_INVALID', message, details);
}

function stringField(rule: Record<string, unknown>, field: string, where: string, max: number, required: boolean): string | undefined {
  const value = rule[field];
  if (value === undefined && !required) return undefined;
  if (typeof value !== 'string' || value.trim() === '') invalid(`${where}.${field} must be a non-empty string`, { field: `${where}.${field}` });
  if (value.length > max) invalid(`${where}.${field} has ${value.length} characters (at most ${max})`, { field: `${where}.${field}` });
  return value;
}

/**
 * Checks an untrusted policy document (parsed YAML/JSON): `{ rules: [{ name, expr, message?, action? }] }`.
 * Throws ERR_POLICY_INVALID naming the field.
 */
export function parsePolicyDocument(untrusted: unknown): PolicyDocument {
  if (typeof untrusted !== 'object' || untrusted === null || Array.isArray(untrusted)) invalid('a policy is an object with a `rules` list');
  const known = new Set(['rules']);
  for (const key of Object.keys(untrusted)) if (!known.has(key)) invalid(`unknown policy field ${JSON.stringify(key)}`, { field: key });
  const rules = (untrusted as { rules?: unknown }).rules;
  if (!Array.isArray(rules)) invalid('`rules` must be a list');
  if (rules.length > PolicyLimits.maxRules) invalid(`${rules.length} rules (at most ${PolicyLimits.maxRules})`);
  const names = new Set<string>();
  const parsed = rules.map((raw: unknown, i): PolicyRule => {
    const where = `rules[${i}]`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) invalid(`${where} must be an object`, { field: where });
    const rule = raw as Record<string, unknown>;
    for (const key of Object.keys(rule))
      if (!['name', 'expr', 'message', 'action'].includes(key)) invalid(`${where}: unknown field ${JSON.stringify(key)}`, { field: `${where}.${key}` });
    const name = stringField(rule, 'name', where, PolicyLimits.maxNameLength, true)!;
    if (!RULE_NAME.test(name)) invalid(`${where}.name ${JSON.stringify(name)}: lower-case letters, digits and dashes`, { field: `${where}.name` });
    if (names.has(name)) invalid(`${where}.name ${JSON.stringify(name)} is used twice`, { field: `${where}.name` });
    names.add(name);
    const expr = stringField(rule, 'expr', where, PolicyLimits.maxExpressionLength, true)!;
    const message = stringField(rule, 'message', where, PolicyLimits.maxMessageLength, false) ?? `rule ${name} failed`;
    const action = rule.action ?? RuleAction.deny;
    if (action !== RuleAction.deny && action !== RuleAction.warn) invalid(`${where}.action must be "deny" or "warn"`, { field: `${where}.action` });
    return { name, expr, message, action };
  });
  return { rules: parsed };
}
