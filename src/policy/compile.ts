// Compiles a policy document into the verifier's PolicyCheck: each rule parsed and type-checked
// once (CEL via @marcbachmann/cel-js), evaluated per attestation over `claims`, `refs` and `node`.
// A failed rule says which part of it failed (each top-level `&&` conjunct is judged on its own),
// the values of the claims that part reads, and the log events those claims came from.
//
// Attacks considered: the claims are attacker-shaped (a node controls its event log's strings and
// list lengths), the rules are the operator's. So: regular expressions must be literals that V8's
// linear-time engine accepts (RE2's subset: no backreferences or lookaround), and evaluation falls
// back to that engine on excessive backtracking, so no claim string can make `matches` take
// exponential time; comprehensions may not nest (a nested one over attacker-sized lists is
// quadratic); parse limits bound every expression.
import { setFlagsFromString } from 'node:v8';
import { Environment, type ASTNode } from '@marcbachmann/cel-js';
import type { PolicyCheck, PolicyFailure, PolicyInput } from '../verifier/index.ts';
import { parsePolicyDocument, type PolicyDocument, type PolicyRule } from './document.ts';
import { PolicyError } from './errors.ts';

/** The variables a rule sees. */
export const POLICY_VARIABLES = ['claims', 'refs', 'node'] as const;

const COMPREHENSIONS = new Set(['all', 'exists', 'exists_one', 'map', 'filter']);
const MAX_SHOWN_VALUE = 200;

let linearFallbackEnabled = false;
/**
 * V8 runs a regular expression on its linear-time engine once backtracking passes a threshold:
 * process-wide, and only ever safer. Enabled the first time a policy is compiled.
 */
function enableLinearRegexFallback(): void {
  if (linearFallbackEnabled) return;
  setFlagsFromString('--enable-experimental-regexp-engine-on-excessive-backtracks');
  setFlagsFromString('--enable-experimental-regexp-engine');
  linearFallbackEnabled = true;
}

function environment(): Environment {
  const env = new Environment({ unlistedVariablesAreDyn: false, limits: { maxAstNodes: 2000, maxDepth: 32, maxListElements: 256, maxMapEntries: 256 } });
  for (const name of POLICY_VARIABLES) env.registerVariable(name, 'map');
  return env;
}

type Evaluate = (context: Record<string, unknown>) => unknown;

interface CompiledPart {
  readonly text: string;
  readonly evaluate: Evaluate;
  /** Dotted paths under claims/refs/node that this part reads (`claims.secureBoot.enabled`). */
  readonly paths: readonly string[];
}

interface CompiledRule {
  readonly rule: PolicyRule;
  readonly evaluate: Evaluate;
  readonly parts: readonly CompiledPart[];
}

export interface CompiledPolicy {
  readonly document: PolicyDocument;
  readonly check: PolicyCheck;
}

function invalid(rule: PolicyRule, message: string, details: Record<string, unknown> = {}): never {
  throw new PolicyError('ERR_POLICY_INVALID', `rule ${rule.name}: ${message}`, { rule: rule.name, ...details });
}

function children(node: ASTNode): ASTNode[] {
  const out: ASTNode[] = [];
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(visit);
    else if (typeof value === 'object' && value !== null && 'op' in value) out.push(value as ASTNode);
  };
  visit(node.args);
  return out;
}

/** The dotted path of a member-access chain rooted at a policy variable, or undefined. */
function memberPath(node: ASTNode): string | undefined {
  if (node.op === 'id') return (POLICY_VARIABLES as readonly string[]).includes(node.args) ? node.args : undefined;
  if (node.op === '.' || node.op === '.?') {
    const base = memberPath(node.args[0]);
    return base === undefined ? undefined : `${base}.${node.args[1]}`;
  }
  return undefined;
}

function collectPaths(node: ASTNode, into: Set<string>): void {
  const path = memberPath(node);
  if (path !== undefined && path.includes('.')) {
    into.add(path);
    return;
  }
  for (const child of children(node)) collectPaths(child, into);
}

/** Checks every `matches` call and comprehension of a rule (see the attacks above). */
function checkSafety(rule: PolicyRule, node: ASTNode, comprehensionDepth: number): void {
  if (node.op === 'rcall' || node.op === 'call') {
    const name = node.args[0];
    if (name === 'matches') {
      const argument = node.op === 'rcall' ? node.args[2][0] : node.args[1][1];
      if (argument?.op !== 'value' || typeof argument.args !== 'string') {
        invalid(rule, 'matches() takes a string literal as its pattern, so every pattern is reviewed when the policy is saved', { at: node.start });
      }
      try {
        // 'l': V8's linear-time engine (enabled above); it refuses what RE2 also lacks.
        // eslint-disable-next-line no-invalid-regexp -- the flag exists behind --enable-experimental-regexp-engine
        new RegExp(argument.args, 'l');
      } catch (e) {
        invalid(
          rule,
          `the pattern ${JSON.stringify(argument.args)} cannot run in linear time (${(e as Error).message}); CEL patterns are RE2: no backreferences or lookaround`,
          {
            at: argument.start,
          },
        );
      }
    }
    if (node.op === 'rcall' && COMPREHENSIONS.has(name)) {
      if (comprehensionDepth >= 1)
        invalid(rule, `${name}() inside another comprehension: nested comprehensions over evidence-sized lists are quadratic`, { at: node.start });
      for (const child of children(node)) checkSafety(rule, child, comprehensionDepth + 1);
      return;
    }
  }
  for (const child of children(node)) checkSafety(rule, child, comprehensionDepth);
}

/** Top-level `&&` conjuncts, left to right: the parts a failure is reported by. */
function conjuncts(node: ASTNode): ASTNode[] {
  return node.op === '&&' ? [...conjuncts(node.args[0]), ...conjuncts(node.args[1])] : [node];
}

function compileRule(env: Environment, rule: PolicyRule): CompiledRule {
  let parsed: ReturnType<Environment['parse']>;
  try {
    parsed = env.parse(rule.expr);
  } catch (e) {
    return invalid(rule, (e as Error).message);
  }
  const typed = parsed.check();
  if (!typed.valid) invalid(rule, typed.error?.message ?? 'does not type-check');
  if (typed.type !== 'bool' && typed.type !== 'dyn') invalid(rule, `evaluates to ${String(typed.type)}, not bool`);
  checkSafety(rule, parsed.ast, 0);
  const parts = conjuncts(parsed.ast).map((node): CompiledPart => {
    const text = rule.expr.slice(node.start, node.end);
    const paths = new Set<string>();
    collectPaths(node, paths);
    return { text, evaluate: partEvaluator(env, text, parsed, node), paths: [...paths] };
  });
  return { rule, evaluate: parsed, parts };
}

/** A part is the whole rule when the rule has no top-level `&&`; otherwise its own parse. */
function partEvaluator(env: Environment, text: string, whole: Evaluate & { ast: ASTNode }, node: ASTNode): Evaluate {
  return node === whole.ast ? whole : env.parse(text);
}

/**
 * CEL's integers are bigints: JSON numbers that are integers become bigints, the rest stays.
 * Conversions are remembered per object: claims share their decoded Secure Boot databases across
 * attestations (a dbx is hundreds of entries), and claims are never mutated after derivation.
 */
const converted = new WeakMap<object, unknown>();
function toCel(value: unknown): unknown {
  if (typeof value === 'number') return Number.isInteger(value) ? BigInt(value) : value;
  if (typeof value !== 'object' || value === null || value instanceof Uint8Array) return value;
  const hit = converted.get(value);
  if (hit !== undefined) return hit;
  const out = Array.isArray(value) ? value.map(toCel) : Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toCel(v)]));
  converted.set(value, out);
  return out;
}

function lookup(input: PolicyInput, path: string): unknown {
  let value: unknown = input;
  for (const key of path.split('.')) {
    if (typeof value !== 'object' || value === null || !Object.hasOwn(value, key)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

function shown(value: unknown): string {
  if (value === undefined) return '(absent)';
  const text = JSON.stringify(value);
  return text.length > MAX_SHOWN_VALUE ? `${text.slice(0, MAX_SHOWN_VALUE)}…` : text;
}

/** true when the rule holds; otherwise why not (false, a non-boolean, or an evaluation error). */
function judge(evaluate: Evaluate, context: Record<string, unknown>): true | string {
  let result: unknown;
  try {
    result = evaluate(context);
  } catch (e) {
    return `could not be evaluated: ${(e as Error).message.split('\n')[0] ?? ''}`;
  }
  if (result === true) return true;
  return result === false ? 'is false' : `evaluated to ${shown(result)}, not a boolean`;
}

function evaluateRule(compiled: CompiledRule, input: PolicyInput, context: Record<string, unknown>): PolicyFailure | undefined {
  if (judge(compiled.evaluate, context) === true) return undefined;
  // Fail closed: the whole rule failed; now say which parts did.
  const failing = compiled.parts.map((part) => ({ part, why: judge(part.evaluate, context) })).filter((p) => p.why !== true);
  const reported = failing.length > 0 ? failing : compiled.parts.map((part) => ({ part, why: 'is false' as const }));
  const paths = [...new Set(reported.flatMap((p) => p.part.paths))];
  const claimKeys = new Set(paths.filter((p) => p.startsWith('claims.')).map((p) => p.split('.')[1]!));
  const events = [...new Set([...claimKeys].flatMap((key) => input.claims.sources[key] ?? []))].sort((a, b) => a - b);
  return {
    rule: compiled.rule.name,
    action: compiled.rule.action,
    message: `${compiled.rule.message} (${reported.map((p) => `\`${p.part.text}\` ${p.why as string}`).join('; ')})`,
    expected: reported.map((p) => p.part.text).join(' && '),
    actual: paths.map((p) => `${p} = ${shown(lookup(input, p))}`).join('; ') || '(no claims read)',
    ...(events.length ? { events } : {}),
  };
}

/**
 * Compiles a policy (an untrusted document: it is checked first). Throws ERR_POLICY_INVALID with
 * the rule and position of the first problem.
 *
 * @example
 *   const policy = compilePolicy(YAML.parse(text));
 *   appraise(evidence, { ...inputs, policy: policy.check });
 */
export function compilePolicy(untrusted: unknown): CompiledPolicy {
  enableLinearRegexFallback();
  const document = parsePolicyDocument(untrusted);
  const env = environment();
  const rules = document.rules.map((rule) => compileRule(env, rule));
  const check: PolicyCheck = (input) => {
    const context = { claims: toCel(input.claims), refs: toCel(input.refs), node: toCel(input.node) };
    const failures: PolicyFailure[] = [];
    for (const rule of rules) {
      const failure = evaluateRule(rule, input, context);
      if (failure) failures.push(failure);
    }
    return failures;
  };
  return { document, check };
}
