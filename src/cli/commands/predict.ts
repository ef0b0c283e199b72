import { readFile } from 'node:fs/promises';
import { basename, dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { Command, CommandContext } from '../command.ts';
import { UsageError, optionalString } from '../command.ts';
import { CliError } from '../errors.ts';
import { ExitCode } from '../exit-codes.ts';
import {
  PredictError,
  isPcrBank,
  matchEventLog,
  parseBootProfile,
  predict,
  profileArtifacts,
  referenceValues,
  type Prediction,
  type ReferenceMatch,
} from '../../predict/index.ts';

async function readInput(path: string, shownAs: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CliError('ERR_CLI_IO', `${shownAs}: ${(e as Error).message}`, { path: shownAs, ...(code ? { errno: code } : {}) });
  }
}

/** Reads a profile and every artifact it names; relative artifact paths are relative to the profile. */
async function predictProfile(ctx: CommandContext, file: string): Promise<Prediction> {
  const path = resolve(ctx.io.cwd, file);
  const text = new TextDecoder().decode(await readInput(path, file));
  let value: unknown;
  try {
    value = parseYaml(text);
  } catch (e) {
    throw new PredictError('ERR_PREDICT_PROFILE', `${file}: not YAML/JSON: ${(e as Error).message}`, { field: 'profile' });
  }
  const profile = parseBootProfile(value);
  const base = dirname(path);
  const artifacts = new Map<string, Uint8Array>();
  for (const name of profileArtifacts(profile)) {
    artifacts.set(name, await readInput(isAbsolute(name) ? name : resolve(base, name), name));
  }
  return predict(profile, artifacts);
}

function bankFilter(ctx: CommandContext): string | undefined {
  const bank = optionalString(ctx, 'bank');
  if (bank !== undefined && !isPcrBank(bank)) throw new UsageError(`--bank must be sha1, sha256, sha384 or sha512, not ${JSON.stringify(bank)}`);
  return bank;
}

function onlyBank(p: Prediction, bank: string | undefined): Prediction {
  if (bank === undefined) return p;
  return {
    ...p,
    banks: Object.fromEntries(Object.entries(p.banks).filter(([b]) => b === bank)),
    events: p.events.map((e) => ({ ...e, digests: Object.fromEntries(Object.entries(e.digests).filter(([b]) => b === bank)) })),
  };
}

function predictionText(p: Prediction): string {
  const lines: string[] = [];
  for (const [bank, values] of Object.entries(p.banks)) {
    lines.push(`${bank}:`);
    for (const [pcr, hex] of Object.entries(values ?? {})) lines.push(`  ${pcr.padStart(2)}: ${hex}`);
  }
  lines.push('', 'events:');
  const firstBank = Object.keys(p.banks)[0];
  for (const e of p.events) {
    const digest = firstBank ? (e.digests as Record<string, string | undefined>)[firstBank] ?? '' : '';
    lines.push(`  PCR ${String(e.pcr).padStart(2)} ${e.type.padEnd(32)} ${e.by.padEnd(16)} ${digest.slice(0, 16)}…  ${e.description}`);
  }
  return lines.join('\n');
}

function matchText(m: ReferenceMatch): string {
  const lines = [m.matched.length > 0 ? `matches: ${m.matched.join(', ')}` : 'matches no reference set'];
  for (const v of m.versions) {
    if (v.matches) continue;
    lines.push(`${v.version}: ${v.mismatches.length} PCR mismatch(es)`);
    for (const x of v.mismatches) lines.push(`  ${x.bank} PCR ${x.pcr}: expected ${x.expected}, got ${x.actual ?? '(absent)'}`);
  }
  return lines.join('\n');
}

export const commands: Command[] = [
  {
    path: ['predict'],
    summary: 'Predict PCR values and the event list of a boot from a boot profile (several profiles: A/B reference sets; --match-log: which one a log matches)',
    usage: 'PROFILE... [--bank sha256] [--match-log FILE]',
    positionals: true,
    options: { bank: { type: 'string' }, 'match-log': { type: 'string' } },
    async run(ctx) {
      if (ctx.positionals.length === 0) throw new UsageError('name at least one boot profile (YAML or JSON; see docs/boot-profile.md)');
      const bank = bankFilter(ctx);
      const logFile = optionalString(ctx, 'match-log');
      if (ctx.positionals.length === 1 && logFile === undefined) {
        const p = onlyBank(await predictProfile(ctx, ctx.positionals[0]!), bank);
        return { result: p, text: predictionText(p) };
      }
      const versions = [];
      for (const file of ctx.positionals) {
        ctx.log(`predicting ${file}`);
        versions.push({ version: basename(file).replace(/\.(ya?ml|json)$/, ''), prediction: onlyBank(await predictProfile(ctx, file), bank) });
      }
      const references = referenceValues(versions);
      if (logFile === undefined) {
        return { result: references, text: versions.map((v) => `# ${v.version}\n${predictionText(v.prediction)}`).join('\n\n') };
      }
      const match = matchEventLog(references, await readInput(resolve(ctx.io.cwd, logFile), logFile));
      return { result: { references, match }, text: matchText(match), exitCode: match.matched.length > 0 ? ExitCode.ok : ExitCode.notVerified };
    },
  },
];
