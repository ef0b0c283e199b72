// One node: what it is, what an operator may do to it, its timeline, and for the attestation
// shown (the latest, or the one picked) every reason with expected vs actual, where the logged
// events depart from the predicted ones for each differing PCR, and every quoted PCR against the
// releases.
import type { ResultView } from '../../protocol/admin.ts';
import { ApiError, call, canAct, paths, type NodeDetailBody, type ResultDetailBody } from './api.ts';
import { badge, confirmDialog, h, hex, show, when } from './dom.ts';

/** The parts of a verdict (src/verifier/verdict.ts) the page draws; the server sends it whole. */
interface EventSummary {
  readonly index?: number;
  readonly event?: number;
  readonly pcr?: number;
  readonly type: string;
  readonly description?: string;
  readonly digest?: string;
  readonly certificates?: readonly string[];
}
interface Reason {
  readonly reason: string;
  readonly message: string;
  readonly pcr?: number;
  readonly bank?: string;
  readonly rule?: string;
  readonly expected?: string;
  readonly actual?: string;
  readonly events?: readonly EventSummary[];
  readonly differences?: readonly { readonly position: number; readonly expected?: EventSummary; readonly actual?: EventSummary }[];
}
interface Verdict {
  readonly status: string;
  readonly matchedReleases?: readonly string[];
  readonly nearestRelease?: string;
  readonly reasons?: readonly Reason[];
  readonly warnings?: readonly Reason[];
  readonly pcrs?: readonly { bank: string; pcr: number; value: string; outcome: string; rule: string }[];
  readonly releaseComparisons?: readonly {
    version: string;
    matches: boolean;
    mismatches: readonly { bank: string; pcr: number; expected?: string; actual?: string }[];
    notAppraised: readonly { bank: string; pcr: number; reason: string }[];
  }[];
}

function eventCell(e: EventSummary | undefined): HTMLElement {
  if (!e) return h('td', { class: 'muted' }, 'none');
  const number = e.index ?? e.event;
  return h(
    'td',
    {},
    h('div', {}, number !== undefined ? `#${number} ` : '', h('strong', {}, e.type)),
    e.description && h('div', { class: 'description' }, e.description),
    h('div', {}, hex(e.digest, 24)),
    e.certificates?.length ? h('div', { class: 'muted' }, 'signer: ', e.certificates.join('; ')) : null,
  );
}

function reasonView(r: Reason): HTMLElement {
  return h(
    'li',
    { class: 'reason' },
    h(
      'p',
      {},
      h('strong', {}, r.reason),
      r.pcr !== undefined ? ` · PCR ${r.pcr}${r.bank ? ` (${r.bank})` : ''}` : '',
      r.rule ? ` · rule ${r.rule}` : '',
      ': ',
      r.message,
    ),
    r.expected !== undefined || r.actual !== undefined
      ? h(
          'dl',
          { class: 'expected-actual' },
          h('dt', {}, 'expected'),
          h('dd', {}, h('code', {}, r.expected ?? '—')),
          h('dt', {}, 'actual'),
          h('dd', {}, h('code', {}, r.actual ?? '—')),
        )
      : null,
    r.differences?.length
      ? h(
          'div',
          { class: 'table-wrap' },
          h(
            'table',
            { class: 'events' },
            h('caption', {}, `Where the log departs from the prediction${r.pcr !== undefined ? ` in PCR ${r.pcr}` : ''}`),
            h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, '#'), h('th', { scope: 'col' }, 'predicted'), h('th', { scope: 'col' }, 'logged'))),
            h(
              'tbody',
              {},
              r.differences.map((d) => h('tr', {}, h('td', {}, String(d.position)), eventCell(d.expected), eventCell(d.actual))),
            ),
          ),
        )
      : null,
    r.events?.length && !r.differences?.length
      ? h(
          'details',
          {},
          h('summary', {}, `${r.events.length} events involved`),
          h(
            'ul',
            { class: 'plain' },
            r.events.map((e) => h('li', {}, `#${e.index ?? e.event ?? '?'} ${e.type} `, e.description ?? '', ' ', hex(e.digest, 24))),
          ),
        )
      : null,
  );
}

function pcrTable(verdict: Verdict): HTMLElement | null {
  if (!verdict.pcrs?.length) return null;
  const banks = [...new Set(verdict.pcrs.map((p) => p.bank))];
  return h(
    'section',
    {},
    h('h3', {}, 'PCR values'),
    banks.map((bank) =>
      h(
        'div',
        { class: 'table-wrap' },
        h(
          'table',
          { class: 'pcrs' },
          h('caption', {}, `${bank} bank, against ${verdict.matchedReleases?.join(', ') || verdict.nearestRelease || 'no release'}`),
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ['PCR', 'value', 'outcome', 'rule'].map((t) => h('th', { scope: 'col' }, t)),
            ),
          ),
          h(
            'tbody',
            {},
            verdict
              .pcrs!.filter((p) => p.bank === bank)
              .map((p) =>
                h(
                  'tr',
                  { class: `o-${p.outcome}` },
                  h('td', {}, String(p.pcr)),
                  h('td', {}, hex(p.value, 20)),
                  h('td', {}, badge(p.outcome)),
                  h('td', { class: 'rule' }, p.rule),
                ),
              ),
          ),
        ),
      ),
    ),
  );
}

function releasesTable(verdict: Verdict): HTMLElement | null {
  if (!verdict.releaseComparisons?.length) return null;
  return h(
    'section',
    {},
    h('h3', {}, 'Against each release'),
    h(
      'ul',
      { class: 'plain' },
      verdict.releaseComparisons.map((c) =>
        h(
          'li',
          {},
          h('strong', {}, c.version),
          ' ',
          badge(c.matches ? 'matches' : 'differs'),
          c.mismatches.length ? ` · differs in ${c.mismatches.map((m) => `${m.bank}:${m.pcr}`).join(', ')}` : '',
          c.notAppraised.length ? h('span', { class: 'muted' }, ` · not appraised: ${c.notAppraised.map((n) => `${n.bank}:${n.pcr}`).join(', ')}`) : '',
        ),
      ),
    ),
  );
}

function resultView(detail: ResultDetailBody): HTMLElement {
  const verdict = detail.verdict as Verdict;
  const reasons = verdict.reasons ?? detail.result.reasons;
  return h(
    'section',
    { class: 'result', 'aria-labelledby': 'result-title' },
    h('h2', { id: 'result-title' }, 'Attestation ', when(detail.result.createdAt), ' ', badge(detail.result.status)),
    h(
      'p',
      {},
      detail.result.release ? `Booted release ${detail.result.release}. ` : 'Matched no release. ',
      detail.result.policyVersion !== null ? `Policy version ${detail.result.policyVersion}.` : 'No policy was active.',
    ),
    reasons.length
      ? [
          h('h3', {}, `${reasons.length} reason${reasons.length > 1 ? 's' : ''}`),
          h(
            'ol',
            { class: 'reasons' },
            reasons.map((r) => reasonView(r as Reason)),
          ),
        ]
      : h('p', {}, 'Every rule held.'),
    verdict.warnings?.length ? [h('h3', {}, 'Warnings'), h('ol', { class: 'reasons' }, verdict.warnings.map(reasonView))] : null,
    pcrTable(verdict),
    releasesTable(verdict),
  );
}

function actions(detail: NodeDetailBody, reload: () => void): HTMLElement | null {
  if (!canAct()) return null;
  const node = detail.node;
  const act = (action: 'approve' | 'deny' | 'revoke' | 'unrevoke', title: string, message: string) =>
    h(
      'button',
      {
        type: 'button',
        class: action === 'revoke' || action === 'deny' ? 'danger' : undefined,
        onclick: () => {
          void confirmDialog(title, message, title, true).then(async ({ confirmed, reason }) => {
            if (!confirmed) return;
            await call('POST', paths.nodeAction(node.id, action), { body: reason ? { reason } : {} });
            reload();
          });
        },
      },
      title,
    );
  const buttons =
    node.status === 'pending-approval'
      ? [act('approve', 'Approve', `Trust ${node.name}'s EK and let it finish enrollment.`), act('deny', 'Deny', `Refuse ${node.name}'s enrollment.`)]
      : node.status === 'revoked'
        ? [act('unrevoke', 'Unrevoke', `${node.name} will receive its secrets again at its next trusted attestation.`)]
        : [act('revoke', 'Revoke', `${node.name} will be appraised but never receive its disk key or join credential until unrevoked.`)];
  return h('div', { class: 'actions' }, buttons);
}

export async function nodePage(main: HTMLElement, id: string | undefined): Promise<undefined> {
  if (!id) throw new ApiError(404, 'ERR_RESOURCE_NOT_FOUND', 'no node named');
  const detail = await call<NodeDetailBody>('GET', paths.node(id));
  const node = detail.node;
  const pick = (results: readonly ResultView[]) => results[0];
  const resultBox = h('div', { class: 'result-box' });
  const showResult = async (resultId: string) => {
    show(resultBox, h('p', { class: 'muted' }, 'Loading the attestation…'));
    show(resultBox, resultView(await call<ResultDetailBody>('GET', paths.result(resultId))));
  };
  const reload = () => {
    void nodePage(main, id);
  };
  show(
    main,
    h('p', {}, h('a', { href: '#/fleet' }, '← Fleet')),
    h(
      'div',
      { class: 'title-row' },
      h('h1', {}, node.name),
      badge(node.status),
      node.stale && badge('stale'),
      node.lastAttestationStatus && badge(node.lastAttestationStatus),
    ),
    actions(detail, reload),
    h(
      'dl',
      { class: 'facts' },
      h('dt', {}, 'Release'),
      h('dd', {}, node.currentRelease ?? '—'),
      h('dt', {}, 'Last attestation'),
      h('dd', {}, when(node.lastAttestationAt)),
      h('dt', {}, 'Enrolled'),
      h('dd', {}, when(node.createdAt), node.boundAt ? [' · AK bound ', when(node.boundAt)] : ''),
      h('dt', {}, 'EK'),
      h('dd', {}, node.ekKind.toUpperCase(), node.ekCertified ? ' (certificate presented) ' : ' ', hex(node.ekName)),
      h('dt', {}, 'AK'),
      h('dd', {}, hex(node.akName)),
      h('dt', {}, 'Id'),
      h('dd', {}, h('code', {}, node.id)),
    ),
    resultBox,
    h(
      'section',
      { 'aria-labelledby': 'results-title' },
      h('h2', { id: 'results-title' }, 'Attestations'),
      detail.results.length
        ? h(
            'ul',
            { class: 'plain results' },
            detail.results.map((r) =>
              h(
                'li',
                {},
                h(
                  'button',
                  {
                    type: 'button',
                    class: 'link',
                    onclick: () => {
                      void showResult(r.id);
                    },
                  },
                  when(r.createdAt),
                ),
                ' ',
                badge(r.status),
                r.release ? ` ${r.release}` : '',
                r.reasons.length ? h('span', { class: 'muted' }, ` · ${r.reasons.map((x) => x.reason).join(', ')}`) : '',
              ),
            ),
          )
        : h('p', { class: 'muted' }, 'No attestation yet.'),
    ),
    h(
      'section',
      { 'aria-labelledby': 'timeline-title' },
      h('h2', { id: 'timeline-title' }, 'Timeline'),
      h(
        'ol',
        { class: 'timeline' },
        detail.timeline.map((e) => h('li', {}, when(e.at), ' ', h('strong', {}, e.action), ' by ', e.actor, ' ', h('span', { class: 'muted' }, `#${e.seq}`))),
      ),
    ),
  );
  const latest = pick(detail.results);
  if (latest) await showResult(latest.id);
  return undefined;
}
