// CEL policies over claims: the default policy, failures that say which part failed with the
// claims' values and events, documents refused when saved, and the ReDoS and quadratic-evaluation
// defences (attacker-shaped claims against operator-written rules).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_POLICY, PolicyError, compilePolicy } from '../../src/policy/index.ts';
import type { Claims, PolicyInput } from '../../src/verifier/index.ts';

const DIGEST = 'ab'.repeat(32);

function claims(overrides: Partial<Claims> = {}): Claims {
  return {
    bank: 'sha256',
    pcrs: { sha256: { '7': '11'.repeat(32) } },
    secureBoot: { enabled: true, authorities: [{ subject: 'CN=db signer', issuer: 'CN=db signer', sha256: '22'.repeat(32) }] },
    bootApplications: [{ event: 17, authenticodeDigest: '33'.repeat(32) }],
    grubCommands: [],
    kernelCmdline: `root=composefs composefs=${DIGEST} ro`,
    ukiSections: [],
    bootPhases: [],
    composefsDigest: DIGEST,
    findings: [],
    sources: { secureBoot: [10, 11, 16], kernelCmdline: [42], composefsDigest: [42], bootApplications: [17] },
    ...overrides,
  };
}

function input(c: Claims = claims(), composefsRelease: string | null = 'v1'): PolicyInput {
  return {
    claims: c,
    node: { name: 'node-1' },
    refs: { matchedReleases: ['v1'], ...(composefsRelease ? { composefsRelease } : {}), releases: [{ version: 'v1', composefsDigest: DIGEST }] },
  };
}

function invalidCode(doc: unknown): string {
  try {
    compilePolicy(doc);
    return 'compiled';
  } catch (e) {
    assert.ok(e instanceof PolicyError, String(e));
    return `${e.code}: ${e.message}`;
  }
}

test('the default policy passes a Secure Boot node on a released root image', () => {
  assert.deepEqual(compilePolicy(DEFAULT_POLICY).check(input()), []);
});

test('a failed rule names the part that failed, the values of the claims it read, and their events', () => {
  const policy = compilePolicy(DEFAULT_POLICY);
  const shell = claims({ kernelCmdline: `root=composefs composefs=${DIGEST} ro init=/bin/sh` });
  const [failure, ...rest] = policy.check(input(shell));
  assert.equal(rest.length, 0);
  assert.equal(failure!.rule, 'no-init-override');
  assert.equal(failure!.action, 'deny');
  assert.match(failure!.expected!, /kernelCmdline\.matches/);
  assert.equal(failure!.actual, `claims.kernelCmdline = ${JSON.stringify(shell.kernelCmdline)}`);
  assert.deepEqual(failure!.events, [42]);

  const off = policy.check(input(claims({ secureBoot: { enabled: false, authorities: [] } })));
  assert.deepEqual(
    off.map((f) => [f.rule, f.expected, f.actual]),
    [['secure-boot-on', 'claims.secureBoot.enabled', 'claims.secureBoot.enabled = false']],
    'only the failing conjunct is reported',
  );
  assert.deepEqual(off[0]!.events, [10, 11, 16]);

  const unreleased = policy.check(input(claims(), null));
  assert.deepEqual(
    unreleased.map((f) => [f.rule, f.expected]),
    [['released-root-image', 'has(refs.composefsRelease)']],
  );
  assert.match(unreleased[0]!.actual!, /refs\.composefsRelease = \(absent\)/);
});

test('rules see CEL integers, node facts and reference releases; an evaluation error fails the rule (closed)', () => {
  const policy = compilePolicy({
    rules: [
      { name: 'one-app', expr: 'claims.bootApplications.size() == 1 && claims.bootApplications[0].event == 17' },
      { name: 'named', expr: 'node.name.startsWith("node-")' },
      { name: 'release', expr: 'refs.releases.exists(r, r.composefsDigest == claims.composefsDigest)' },
      { name: 'missing', expr: 'claims.noSuchClaim == "x"', action: 'warn', message: 'reads a claim that is not there' },
    ],
  });
  const failures = policy.check(input());
  assert.deepEqual(
    failures.map((f) => [f.rule, f.action]),
    [['missing', 'warn']],
  );
  assert.match(failures[0]!.message, /could not be evaluated/);
});

test('documents are checked when saved: shape, names, syntax with position, types, limits', () => {
  const cases: [unknown, RegExp][] = [
    [null, /an object with a `rules` list/],
    [{ rules: [], extra: 1 }, /unknown policy field "extra"/],
    [{ rules: [{ name: 'a', expr: 'true', when: 1 }] }, /rules\[0\]: unknown field "when"/],
    [{ rules: [{ name: 'Bad Name', expr: 'true' }] }, /lower-case letters, digits and dashes/],
    [
      {
        rules: [
          { name: 'a', expr: 'true' },
          { name: 'a', expr: 'true' },
        ],
      },
      /used twice/,
    ],
    [{ rules: [{ name: 'a', expr: 'true', action: 'log' }] }, /"deny" or "warn"/],
    [{ rules: [{ name: 'a', expr: 'claims.x ==' }] }, /rule a: /],
    [{ rules: [{ name: 'a', expr: '"not a boolean"' }] }, /evaluates to string, not bool/],
    [{ rules: [{ name: 'a', expr: 'nobody.knows' }] }, /rule a: /],
    [{ rules: [{ name: 'a', expr: 'x'.repeat(5000) }] }, /at most 4096/],
  ];
  for (const [doc, message] of cases) assert.match(invalidCode(doc), new RegExp(`^ERR_POLICY_INVALID: .*${message.source}`), JSON.stringify(doc).slice(0, 80));
});

test('attack: a catastrophic pattern cannot make matches() take exponential time on an attacker-chosen command line', { timeout: 60_000 }, () => {
  // Refused when the pattern cannot run in linear time at all (backreferences, lookaround)…
  assert.match(invalidCode({ rules: [{ name: 'a', expr: 'claims.kernelCmdline.matches("(a)\\\\1")' }] }), /cannot run in linear time/);
  assert.match(invalidCode({ rules: [{ name: 'a', expr: 'claims.kernelCmdline.matches("a(?=b)")' }] }), /cannot run in linear time/);
  // …and a pattern computed from evidence is refused: every pattern is a literal reviewed at save time.
  assert.match(invalidCode({ rules: [{ name: 'a', expr: 'claims.kernelCmdline.matches(claims.composefsDigest)' }] }), /string literal/);
  // A nested-quantifier pattern backtracks exponentially on V8's default engine (50,000 characters
  // would not finish in years); evaluation falls back to the linear engine, so this completes.
  const policy = compilePolicy({ rules: [{ name: 'redos', expr: 'claims.kernelCmdline.matches("^(a+)+$")' }] });
  const failures = policy.check(input(claims({ kernelCmdline: 'a'.repeat(50_000) + '!' })));
  assert.deepEqual(
    failures.map((f) => f.rule),
    ['redos'],
  );
});

test('attack: nested comprehensions over evidence-sized lists are refused (quadratic evaluation)', () => {
  const nested = 'claims.bootApplications.all(a, claims.bootApplications.exists(b, b.event == a.event))';
  assert.match(invalidCode({ rules: [{ name: 'a', expr: nested }] }), /nested comprehensions/);
  assert.equal(invalidCode({ rules: [{ name: 'a', expr: 'claims.bootApplications.all(a, a.event > 0)' }] }), 'compiled');
});
