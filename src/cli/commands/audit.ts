// `vouch audit verify`: checks the audit log's hash chain — every entry's hash over its content and
// the previous hash, no sequence number missing, the head naming the last entry — and, given an
// anchor recorded earlier outside the database (`--anchor SEQ:HASH`), that the log was not rewritten
// up to it. Directly on the database (--data-dir, with the server stopped, or --database), or
// through a running server's admin API (--server/--token). Exit 3 when anything is wrong.
import { openStore, type StoreLocation } from '../../store/index.ts';
import { toHex } from '../../bytes/index.ts';
import type { AuditVerifyReport } from '../../protocol/index.ts';
import type { CommandContext, CommandHandler } from '../command.ts';
import { UsageError, optionalString } from '../command.ts';
import { ExitCode } from '../exit-codes.ts';
import { adminCall, adminConnection } from './admin.ts';

function anchorOf(ctx: CommandContext): { seq: number; hash: string } | undefined {
  const text = optionalString(ctx, 'anchor');
  if (text === undefined) return undefined;
  const m = /^(\d+):([0-9a-f]{64})$/.exec(text);
  if (!m) throw new UsageError('--anchor is SEQ:HASH as a previous verify printed it (the head)');
  return { seq: Number(m[1]), hash: m[2]! };
}

async function verifyStore(location: StoreLocation, anchor: { seq: number; hash: string } | undefined): Promise<AuditVerifyReport> {
  await using store = await openStore(location);
  const report = await store.audit.verify({ anchors: anchor ? [{ seq: anchor.seq, hash: new Uint8Array(Buffer.from(anchor.hash, 'hex')) }] : [] });
  return {
    ok: report.ok,
    entries: report.entries,
    head: { seq: report.last.seq, hash: toHex(report.last.hash) },
    problems: report.problems.map((p) => ({ kind: p.kind, seq: p.seq, message: p.message })),
    problemsTruncated: report.problemsTruncated,
  };
}

export const handlers = {
  'audit verify': {
    async run(ctx) {
      if (ctx.positionals.length > 0) throw new UsageError('vouch audit verify takes no positional arguments');
      const anchor = anchorOf(ctx);
      const dataDir = optionalString(ctx, 'data-dir');
      const database = optionalString(ctx, 'database');
      if (dataDir !== undefined && database !== undefined) throw new UsageError('give --data-dir or --database, not both');
      let report: AuditVerifyReport;
      if (dataDir !== undefined || database !== undefined) {
        report = await verifyStore(dataDir !== undefined ? { dataDir } : { databaseUrl: database! }, anchor);
      } else {
        const q = anchor ? `?anchorSeq=${anchor.seq}&anchorHash=${anchor.hash}` : '';
        report = (await adminCall(adminConnection(ctx), 'GET', `/v1/admin/audit/verify${q}`)) as AuditVerifyReport;
      }
      const lines = report.problems.map((p) => `  ${p.kind} at seq ${p.seq}: ${p.message}`);
      const text = report.ok
        ? `audit log intact: ${report.entries} entries; head ${report.head.seq}:${report.head.hash} (keep it as a future --anchor)\n`
        : `audit log damaged: ${report.problems.length}${report.problemsTruncated ? '+' : ''} problem(s) in ${report.entries} entries\n${lines.join('\n')}\n`;
      return { result: report, text, ...(report.ok ? {} : { exitCode: ExitCode.notVerified }) };
    },
  },
} satisfies Record<string, CommandHandler>;
