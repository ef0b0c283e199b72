// `vouch agent run`'s schedule, driven round by round with an injected sleep and randomness: answers
// (affirming, refused, revoked) wait the interval with jitter; failures back off exponentially,
// capped, growing with each failure in a row and reset by the next answer; a node that is not
// enrolled stops the loop; an abort ends it between rounds. And the exit codes each failure maps to.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AgentError } from '../../src/agent/errors.ts';
import { abortableSleep, classify, runSchedule, scheduledWaitMs, type RoundReport } from '../../src/agent/schedule.ts';
import { ExitCode, exitCodeForError } from '../../src/cli/exit-codes.ts';
import { ProtocolError } from '../../src/protocol/index.ts';
import { TpmError } from '../../src/tpm/index.ts';

const unreachable = (): ProtocolError => new ProtocolError('ERR_CLIENT_UNREACHABLE', 'connection refused');

test('rounds: answers keep the schedule, failures back off (capped, reset by an answer), refusals and revocations are said', async () => {
  const script: (Error | undefined)[] = [
    undefined,
    unreachable(),
    unreachable(),
    unreachable(),
    unreachable(),
    undefined,
    new AgentError('ERR_AGENT_REFUSED', 'refused: pcr-mismatch'),
    new ProtocolError('ERR_NODE_REVOKED', 'revoked'),
    new AgentError('ERR_AGENT_TPM', 'TPM busy'),
    undefined,
  ];
  let calls = 0;
  const waits: number[] = [];
  const reports: RoundReport[] = [];
  const last = await runSchedule(
    () => {
      const next = script[calls++];
      return next ? Promise.reject(next) : Promise.resolve();
    },
    {
      intervalMs: 300_000,
      jitter: 0.1,
      backoff: { baseMs: 1000, capMs: 5000 },
      random: () => 0.5,
      sleep: (ms) => {
        waits.push(ms);
        return Promise.resolve();
      },
      rounds: script.length,
      onRound: (r) => reports.push(r),
    },
  );
  assert.equal(calls, script.length);
  assert.deepEqual(
    reports.map((r) => r.outcome),
    ['affirming', 'failed', 'failed', 'failed', 'failed', 'affirming', 'refused', 'revoked', 'failed', 'affirming'],
  );
  assert.deepEqual(
    reports.map((r) => r.failuresInARow),
    [0, 1, 2, 3, 4, 0, 0, 0, 1, 0],
  );
  // Interval 300 s ± 10% at random 0.5: exactly 300 s; backoff with full jitter at 0.5: half of min(cap, base·2^n).
  assert.deepEqual(waits, [300_000, 500, 1000, 2000, 2500, 300_000, 300_000, 300_000, 500]);
  assert.equal(last?.round, script.length);
  assert.equal(last.nextInMs, undefined, 'no wait after the last round');
});

test('the interval is jittered uniformly within ±jitter', () => {
  assert.equal(scheduledWaitMs({ intervalMs: 1000, jitter: 0.2, random: () => 0 }), 800);
  assert.equal(scheduledWaitMs({ intervalMs: 1000, jitter: 0.2, random: () => 0.999999 }), 1200);
  assert.equal(scheduledWaitMs({ intervalMs: 1000, jitter: 0, random: () => 0.3 }), 1000);
});

test('a node that is not enrolled (or whose state is broken) stops the loop; an abort ends it between rounds', async () => {
  let calls = 0;
  await assert.rejects(
    runSchedule(
      () => {
        calls++;
        return Promise.reject(new AgentError('ERR_AGENT_NOT_ENROLLED', 'no enrollment'));
      },
      { intervalMs: 1, jitter: 0, backoff: { baseMs: 1, capMs: 1 }, random: () => 0, sleep: () => Promise.resolve() },
    ),
    { code: 'ERR_AGENT_NOT_ENROLLED' },
  );
  assert.equal(calls, 1);
  assert.equal(classify(new Error('a bug')), 'fatal', 'an unexpected error is not retried for ever');

  const stop = new AbortController();
  let rounds = 0;
  const last = await runSchedule(
    () => {
      rounds++;
      return Promise.resolve();
    },
    {
      intervalMs: 3_600_000,
      jitter: 0,
      backoff: { baseMs: 1, capMs: 1 },
      random: () => 0,
      // Rounds 1 and 2 wait nothing; after round 3 the real hour-long sleep starts and is aborted while it runs.
      sleep: (ms, signal) => {
        if (rounds < 3) return Promise.resolve();
        const sleeping = abortableSleep(ms, signal);
        setImmediate(() => stop.abort());
        return sleeping;
      },
      signal: stop.signal,
    },
  );
  assert.equal(rounds, 3, 'the hour-long sleep after round 3 ended with the abort');
  assert.equal(last?.round, 3);
});

test('exit codes: one per failure a script must tell apart; 0-4 unchanged', () => {
  assert.deepEqual(ExitCode, { ok: 0, error: 1, cancelled: 2, notVerified: 3, auth: 4, unreachable: 5, notEnrolled: 6, revoked: 7, tpm: 8 });
  const cases: [string, number][] = [
    ['ERR_CLIENT_UNREACHABLE', 5],
    ['ERR_SERVER_UNAVAILABLE', 5],
    ['ERR_AGENT_NOT_ENROLLED', 6],
    ['ERR_AGENT_ENROLLMENT_PENDING', 6],
    ['ERR_NODE_UNKNOWN', 6],
    ['ERR_AGENT_REFUSED', 3],
    ['ERR_ENROLL_DENIED', 3],
    ['ERR_AGENT_REVOKED', 7],
    ['ERR_NODE_REVOKED', 7],
    ['ERR_AGENT_TPM', 8],
    ['ERR_AUTH_TOKEN_INVALID', 4],
    ['ERR_CLI_CANCELLED', 2],
    ['ERR_CLI_USAGE', 1],
    ['ERR_AGENT_LUKS', 1],
    // The TPM layer's own codes keep exit 1 for `vouch tpm …`; the agent wraps them as ERR_AGENT_TPM.
    [new TpmError('ERR_TPM_TRANSPORT', 'x').code, 1],
  ];
  for (const [code, exit] of cases) assert.equal(exitCodeForError(code), exit, code);
});
