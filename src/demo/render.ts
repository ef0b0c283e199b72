// The demo's human output: the reference releases, a fleet table readable at a glance, then every
// reason of every node that is not trusted. Hex is shortened here only; --json keeps it whole.
import type { EventDifference, EventSummary, Reason } from '../verifier/index.ts';
import type { WrittenArtifacts } from './artifacts.ts';
import { TAMPER_DESCRIPTIONS } from './fleet.ts';
import type { DemoResult, NodeOutcome } from './run-demo.ts';

const EK_LABEL = { rsa: 'RSA-2048', ecc: 'ECC P-256' } as const;
const JOIN_LABEL: Readonly<Record<string, string>> = { 'kubeadm-bootstrap-token': 'join token', 'kubelet-client-certificate': 'kubelet cert' };

function short(hex: string | undefined): string {
  return hex === undefined ? '(none)' : hex.length > 16 ? `${hex.slice(0, 16)}…` : hex;
}

function table(rows: readonly (readonly string[])[]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) =>
    r
      .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd(),
  );
}

function imageColumn(node: NodeOutcome): string {
  if (!node.verdict) return '-';
  if (node.verdict.matchedReleases.length > 0) return node.verdict.matchedReleases.join(',');
  return node.verdict.nearestRelease ? `none (nearest ${node.verdict.nearestRelease})` : 'none';
}

function secretsColumn(node: NodeOutcome): string {
  if (!node.secrets) return node.status === undefined ? '-' : 'none';
  if (!node.secrets.decrypted) return 'UNDECRYPTABLE';
  return node.secrets.diskKeyMatches ? `disk key${node.secrets.join ? ` + ${JOIN_LABEL[node.secrets.join] ?? node.secrets.join}` : ''}` : 'WRONG DISK KEY';
}

/** The common name in a subject line ("O=…, CN=x" → "x"). */
function commonName(subject: string): string {
  return /CN=([^,]+)/.exec(subject)?.[1] ?? subject;
}

/** One short line for the fleet table. */
function reasonHeadline(reason: { reason: string; message: string; pcr?: number; actual?: string; differences?: Reason['differences'] }): string {
  switch (reason.reason) {
    case 'pcr-not-in-reference': {
      const logged = reason.differences?.[0]?.actual;
      const what = logged?.certificates?.length ? `signer ${commonName(logged.certificates[0]!)}` : logged ? logged.type : 'log not evidence';
      return `PCR ${reason.pcr} differs from the reference (${what})`;
    }
    case 'log-does-not-replay':
      return `event log does not replay to quoted PCR ${reason.pcr}`;
    case 'unknown-root-image':
      return `root image ${short(reason.actual)} is no release's`;
    default:
      return reason.message;
  }
}

function eventLine(label: string, e: EventSummary): string {
  const where = e.index === undefined ? '' : `#${e.index} `;
  const certs = e.certificates?.length ? ` [${e.certificates.join('; ')}]` : '';
  return `${label} ${where}${e.type} ${JSON.stringify(e.description)}${certs} digest ${short(e.digest)}`;
}

function differenceLines(d: EventDifference): string[] {
  return [
    `       event ${d.position + 1} of the PCR:`,
    `         ${d.expected ? eventLine('expected', d.expected) : 'expected (no event)'}`,
    `         ${d.actual ? eventLine('logged  ', d.actual) : 'logged   (no event)'}`,
  ];
}

function reasonLines(reason: Reason, n: number): string[] {
  const lines = [`  ${n}. ${reason.reason}: ${reason.message}`];
  if (reason.expected !== undefined || reason.actual !== undefined) {
    lines.push(
      `       expected ${reason.reason === 'unknown-root-image' ? reason.expected : short(reason.expected)}`,
      `       actual   ${reason.reason === 'unknown-root-image' ? reason.actual : short(reason.actual)}`,
    );
  }
  for (const e of reason.events ?? []) lines.push(`       ${eventLine('event', e)}`);
  for (const d of reason.differences ?? []) lines.push(...differenceLines(d));
  return lines;
}

export function renderDemo(result: DemoResult, artifacts: WrittenArtifacts | undefined, elapsedSeconds: number): string {
  const out: string[] = [];
  out.push(
    `Vouch demo: ${result.summary.nodes} simulated nodes, seed ${result.seed} (rerun with --seed ${result.seed}), against vouch serve at ${result.server.url}`,
    '',
  );
  out.push('Reference releases (A/B: both accepted at once)');
  for (const r of result.releases) {
    out.push(`  ${r.version}  composefs ${r.composefsDigest}`);
    out.push(`      UKI ${r.uki.file}, signed by ${r.uki.signer}`);
    out.push(
      `      PCRs ${Object.entries(r.pcrs)
        .map(([pcr, v]) => `${pcr}=${v.slice(0, 8)}`)
        .join(' ')}`,
    );
  }
  out.push(
    `  root image files: ${result.store.objects} objects published to the composefs store, ${result.store.problems === 0 ? 'all read back with their fs-verity digests' : `${result.store.problems} PROBLEMS`}`,
  );
  out.push(`  (not released: ${result.unreleasedImage.name}, composefs ${result.unreleasedImage.composefsDigest})`, '');

  const rows = [['NODE', 'EK', 'IMAGE', 'VERDICT', 'SECRETS', 'FIRST REASON']];
  for (const node of result.fleet) {
    const first = node.verdict?.reasons[0] ?? node.reasons[0];
    rows.push([
      node.node,
      EK_LABEL[node.ekAlg],
      imageColumn(node),
      node.status ?? 'error',
      secretsColumn(node),
      node.error ? `${node.error.code}: ${node.error.message}` : first ? reasonHeadline(first) : '-',
    ]);
  }
  out.push(...table(rows), '');
  const enrolled = result.fleet.filter((n) => n.nodeId !== undefined).length;
  out.push(
    `${result.summary.affirming} affirming, ${result.summary.contraindicated} contraindicated; ${enrolled} of ${result.fleet.length} nodes enrolled by credential activation over HTTP; quotes of all 24 sha256 PCRs bound to a fresh nonce and an ephemeral key; ${result.summary.keysReleased} nodes decrypted their secrets and hold the disk key the server sealed`,
  );

  for (const node of result.fleet.filter((n) => n.status !== 'affirming')) {
    out.push('', `${node.node}: ${node.status ?? 'error'}${node.tamper ? `  (what the demo did to it: ${TAMPER_DESCRIPTIONS[node.tamper]})` : ''}`);
    if (node.verdict?.claims?.kernelCmdline) out.push(`  measured command line: ${node.verdict.claims.kernelCmdline}`);
    (node.verdict?.reasons ?? []).forEach((reason, i) => out.push(...reasonLines(reason, i + 1)));
  }

  const broken = result.fleet.filter((n) => n.unmet.length > 0);
  out.push('', broken.length === 0 ? `every expectation held (${result.summary.asExpected} of ${result.summary.nodes} nodes)` : 'EXPECTATIONS NOT MET:');
  for (const node of broken) for (const unmet of node.unmet) out.push(`  ${node.node}: ${unmet}`);

  if (artifacts) {
    out.push('', `Artefacts kept in ${artifacts.dataDir}; re-check them:`);
    for (const c of artifacts.commands) out.push(`  # ${c.what}`, `  ${c.command}`);
  } else {
    out.push('', 'Keep the artefacts (logs, quotes, images) to re-check them with vouch and tpm2-tools: --data-dir DIR');
  }
  out.push('', `done in ${elapsedSeconds.toFixed(1)} s`);
  return out.join('\n') + '\n';
}
