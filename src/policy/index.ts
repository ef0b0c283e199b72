// Policy: CEL rules over the verifier's claims (docs/design.md "Claims and policy").
export { compilePolicy, POLICY_VARIABLES } from './compile.ts';
export type { CompiledPolicy } from './compile.ts';
export { parsePolicyDocument, PolicyLimits, RuleAction } from './document.ts';
export type { PolicyDocument, PolicyRule } from './document.ts';
export { DEFAULT_POLICY } from './default.ts';
export { PolicyError, PolicyErrorCode } from './errors.ts';
export type { PolicyErrorCodeName } from './errors.ts';
