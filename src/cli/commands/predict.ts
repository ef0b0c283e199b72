import { createPrivateKey } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { basename, dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { CommandContext, CommandHandler } from '../command.ts';
import { UsageError, optionalString, requireString } from '../command.ts';
import { CliError } from '../errors.ts';
import { ExitCode } from '../exit-codes.ts';
import { CliInput, onFile, readFileAs, readInputFile, DEBIAN_SYSTEMD_STUB } from '../files.ts';
import {
  PredictError,
  isPcrBank,
  matchEventLog,
  parseBootProfile,
  predict,
  profileArtifacts,
  referenceValues,
  buildUki,
  encodeExpectedEventLog,
  type Prediction,
  type ReferenceMatch,
} from '../../predict/index.ts';
import { authenticodeHash, signImage } from '../../secureboot/index.ts';

function writeOutput(ctx: CommandContext, file: string, bytes: Uint8Array): Promise<void> {
  return onFile(file, () => writeFile(resolve(ctx.io.cwd, file), bytes));
}

/** Reads a profile and every artifact it names; relative artifact paths are relative to the profile. */
async function predictProfile(ctx: CommandContext, file: string): Promise<Prediction> {
  const path = resolve(ctx.io.cwd, file);
  const text = new TextDecoder().decode(await readFileAs(path, file, CliInput.document));
  let value: unknown;
  try {
    value = parseYaml(text);
  } catch (e) {
    throw new PredictError('ERR_PREDICT_PROFILE', `${file}: not YAML/JSON: ${(e as Error).message}`, { field: 'profile' });
  }
  const profile = parseBootProfile(value);
  const base = dirname(path);
  const artifacts = new Map<string, Uint8Array>();
  // Artifacts are boot binaries (shim, GRUB, kernels, UKIs, initrds) or variable contents: read as images.
  for (const name of profileArtifacts(profile)) {
    artifacts.set(name, await readFileAs(isAbsolute(name) ? name : resolve(base, name), name, CliInput.image));
  }
  return predict(profile, artifacts);
}

function bankFilter(ctx: CommandContext): string | undefined {
  const bank = optionalString(ctx, 'bank');
  if (bank !== undefined && !isPcrBank(bank)) throw new UsageError(`--bank must be sha1, sha256, sha384 or sha512, not ${JSON.stringify(bank)}`);
  return bank;
}

function pcrFilter(ctx: CommandContext): number[] | undefined {
  const list = optionalString(ctx, 'pcrs');
  if (list === undefined) return undefined;
  const pcrs = list.split(',').map((x) => Number(x.trim()));
  if (pcrs.some((n) => !Number.isInteger(n) || n < 0 || n > 23))
    throw new UsageError(`--pcrs must be a comma-separated list of PCR indexes 0-23, not ${JSON.stringify(list)}`);
  return pcrs;
}

/** The prediction restricted to one bank and/or some PCRs (reference values for just those). */
function restrict(p: Prediction, bank: string | undefined, pcrs: number[] | undefined): Prediction {
  // Otherwise an empty result (and a log without banks) would look like a successful prediction.
  if (bank !== undefined && p.banks[bank as keyof Prediction['banks']] === undefined) {
    throw new UsageError(`--bank ${bank}: the profile predicts ${Object.keys(p.banks).join(', ')} (add ${bank} to its banks)`);
  }
  const keepPcr = (pcr: number): boolean => pcrs === undefined || pcrs.includes(pcr);
  return {
    ...p,
    pcrs: p.pcrs.filter(keepPcr),
    banks: Object.fromEntries(
      Object.entries(p.banks)
        .filter(([b]) => bank === undefined || b === bank)
        .map(([b, values]) => [b, Object.fromEntries(Object.entries(values).filter(([pcr]) => keepPcr(Number(pcr))))]),
    ),
    events: p.events
      .filter((e) => keepPcr(e.pcr))
      .map((e) => (bank === undefined ? e : { ...e, digests: Object.fromEntries(Object.entries(e.digests).filter(([b]) => b === bank)) })),
  };
}

function predictionText(p: Prediction): string {
  const lines: string[] = [];
  for (const [bank, values] of Object.entries(p.banks)) {
    lines.push(`${bank}:`);
    for (const [pcr, hex] of Object.entries(values)) lines.push(`  ${pcr.padStart(2)}: ${hex}`);
  }
  lines.push('', 'events:');
  const firstBank = Object.keys(p.banks)[0];
  for (const e of p.events) {
    const digest = firstBank ? ((e.digests as Record<string, string | undefined>)[firstBank] ?? '') : '';
    const where = e.data === undefined ? '  (extended from userspace: not in the firmware log)' : '';
    lines.push(`  PCR ${String(e.pcr).padStart(2)} ${e.type.padEnd(32)} ${e.by.padEnd(16)} ${digest.slice(0, 16)}…  ${e.description}${where}`);
  }
  if (p.assumptions.length > 0) lines.push('', 'assumptions (review before using these as reference values):', ...p.assumptions.map((a) => `  - ${a}`));
  return lines.join('\n');
}

function matchText(m: ReferenceMatch): string {
  const lines = [m.matched.length > 0 ? `matches: ${m.matched.join(', ')}` : 'matches no reference set'];
  for (const v of m.versions) {
    if (v.matches) continue;
    lines.push(`${v.version}: ${v.mismatches.length} PCR mismatch(es)`);
    for (const x of v.mismatches) {
      lines.push(`  ${x.bank} PCR ${x.pcr}: expected ${x.expected}, got ${x.actual ?? '(absent)'}`);
      const d = x.firstDifference;
      if (d) {
        const expected = d.expected ? `${d.expected.type} ${d.expected.description}` : 'no more events';
        const actual = d.actual ? `event #${d.actual.event} ${d.actual.type} ${d.actual.digest.slice(0, 16)}…` : 'no more events';
        lines.push(`    first difference at its event ${d.position}: expected ${expected}; the log has ${actual}`);
      }
    }
  }
  return lines.join('\n');
}

/** Builds (and with --key/--cert signs) a UKI; the key's passphrase, if any, comes from the environment. */
async function ukiBuild(ctx: CommandContext): Promise<{ result: unknown; text: string }> {
  const optionalFile = async (name: string): Promise<Uint8Array | undefined> => {
    const f = optionalString(ctx, name);
    return f === undefined ? undefined : readInputFile(ctx, f, name === 'initrd' ? CliInput.image : CliInput.document);
  };
  const text = async (name: string): Promise<string | undefined> => {
    const b = await optionalFile(name);
    return b === undefined ? undefined : new TextDecoder().decode(b);
  };
  const stubFile = optionalString(ctx, 'stub') ?? DEBIAN_SYSTEMD_STUB;
  const out = requireString(ctx, 'out');
  const initrd = await optionalFile('initrd');
  const osrel = await text('osrel');
  const cmdline = optionalString(ctx, 'cmdline');
  const uname = optionalString(ctx, 'uname');
  let uki = buildUki({
    stub: await readInputFile(ctx, stubFile, CliInput.image),
    linux: await readInputFile(ctx, requireString(ctx, 'linux'), CliInput.image),
    ...(initrd ? { initrd } : {}),
    ...(osrel !== undefined ? { osrel } : {}),
    ...(cmdline !== undefined ? { cmdline } : {}),
    ...(uname !== undefined ? { uname } : {}),
  });
  const keyFile = optionalString(ctx, 'key');
  const certFile = optionalString(ctx, 'cert');
  if ((keyFile === undefined) !== (certFile === undefined)) throw new UsageError('--key and --cert go together');
  if (keyFile !== undefined && certFile !== undefined) {
    const passphrase = ctx.io.env.VOUCH_SIGNING_KEY_PASSPHRASE;
    let privateKey;
    try {
      privateKey = createPrivateKey({ key: Buffer.from(await readInputFile(ctx, keyFile, CliInput.document)), ...(passphrase ? { passphrase } : {}) });
    } catch (e) {
      throw new CliError('ERR_CLI_IO', `${keyFile}: not a usable private key (${(e as Error).message}); an encrypted key needs VOUCH_SIGNING_KEY_PASSPHRASE`, {
        path: keyFile,
      });
    }
    uki = signImage(uki, { certificate: await readInputFile(ctx, certFile, CliInput.document), privateKey });
  }
  await writeOutput(ctx, out, uki);
  const sha256 = Buffer.from(authenticodeHash(uki, 'sha256')).toString('hex');
  return {
    result: { out, size: uki.length, signed: keyFile !== undefined, authenticodeSha256: sha256 },
    text: `${out}: ${uki.length} bytes${keyFile ? ', signed' : ''}, Authenticode SHA-256 ${sha256}`,
  };
}

export const handlers = {
  'uki build': {
    run: ukiBuild,
  },
  predict: {
    async run(ctx) {
      if (ctx.positionals.length === 0) throw new UsageError('name at least one boot profile (YAML or JSON; see docs/boot-profile.md)');
      const bank = bankFilter(ctx);
      const pcrs = pcrFilter(ctx);
      const logFile = optionalString(ctx, 'match-log');
      const logOut = optionalString(ctx, 'log-out');
      if (logOut !== undefined && (ctx.positionals.length !== 1 || logFile !== undefined))
        throw new UsageError('--log-out writes the expected log of one profile: name exactly one, without --match-log');
      if (ctx.positionals.length === 1 && logFile === undefined) {
        const p = restrict(await predictProfile(ctx, ctx.positionals[0]!), bank, pcrs);
        if (logOut === undefined) return { result: p, text: predictionText(p) };
        const log = encodeExpectedEventLog(p);
        await writeOutput(ctx, logOut, log);
        return {
          result: { ...p, logOut },
          text: `${predictionText(p)}\n\nexpected event log (${log.length} bytes, firmware-logged events only) written to ${logOut}`,
        };
      }
      const versions = [];
      for (const file of ctx.positionals) {
        ctx.log(`predicting ${file}`);
        versions.push({ version: basename(file).replace(/\.(ya?ml|json)$/, ''), prediction: restrict(await predictProfile(ctx, file), bank, pcrs) });
      }
      const references = referenceValues(versions);
      if (logFile === undefined) {
        return { result: references, text: versions.map((v) => `# ${v.version}\n${predictionText(v.prediction)}`).join('\n\n') };
      }
      const match = matchEventLog(references, await readInputFile(ctx, logFile, CliInput.eventLog));
      return { result: { references, match }, text: matchText(match), exitCode: match.matched.length > 0 ? ExitCode.ok : ExitCode.notVerified };
    },
  },
} satisfies Record<string, CommandHandler>;
