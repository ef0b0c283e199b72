// `vouch policy test POLICY --evidence DIR`: dry-runs a policy offline against recorded
// attestations (format vouch.recorded-attestation.v1, as `vouch admin results export` writes them):
// each is appraised again — quote, binding, log replay, reference sets it was recorded with — under
// POLICY instead of the policy of the day. Exit 3 when any would not be affirming.
import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { compileStoredPolicy } from '../../server/catalog.ts';
import { appraiseRecorded, parseRecordedAttestation } from '../../server/recorded.ts';
import { verdictReasons } from '../../server/attestation.ts';
import type { CommandHandler } from '../command.ts';
import { UsageError, requireString } from '../command.ts';
import { ExitCode } from '../exit-codes.ts';
import { CliInput, onFile, readFileAs, readInputFile } from '../files.ts';

export const handlers = {
  'policy test': {
    async run(ctx) {
      if (ctx.positionals.length !== 1) throw new UsageError('give the POLICY file (YAML or JSON)');
      const policyFile = ctx.positionals[0]!;
      const { check } = compileStoredPolicy(Buffer.from(await readInputFile(ctx, policyFile, CliInput.document)).toString('utf8'));
      const dir = resolve(ctx.io.cwd, requireString(ctx, 'evidence'));
      const files = (await onFile(dir, () => readdir(dir))).filter((f) => f.endsWith('.json')).sort();
      if (files.length === 0) throw new UsageError(`${dir} holds no recorded attestations (*.json)`);
      const outcomes = [];
      for (const file of files) {
        const bytes = await readFileAs(join(dir, file), file, CliInput.document);
        let untrusted: unknown;
        try {
          untrusted = JSON.parse(Buffer.from(bytes).toString('utf8'));
        } catch (e) {
          throw new UsageError(`${file}: not JSON: ${(e as Error).message}`);
        }
        const recorded = parseRecordedAttestation(untrusted, file);
        const verdict = appraiseRecorded(recorded, { policy: check });
        outcomes.push({
          file,
          resultId: recorded.resultId,
          node: recorded.node.name,
          before: recorded.status,
          after: verdict.status,
          reasons: verdictReasons(verdict),
        });
      }
      const lines = outcomes.flatMap((o) => [
        `${o.file}  ${o.node}  ${o.before} -> ${o.after}${o.before !== o.after ? '  (changed)' : ''}`,
        ...o.reasons.map((r) => `    ${r.reason}${r.rule ? ` [${r.rule}]` : ''}: ${r.message}`),
      ]);
      const refused = outcomes.filter((o) => o.after !== 'affirming').length;
      return {
        result: { appraised: outcomes.length, changed: outcomes.filter((o) => o.before !== o.after).length, refused, outcomes },
        text: `${lines.join('\n')}\n${outcomes.length} appraised, ${refused} not affirming\n`,
        ...(refused > 0 ? { exitCode: ExitCode.notVerified } : {}),
      };
    },
  },
} satisfies Record<string, CommandHandler>;
