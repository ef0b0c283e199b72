// The policy: the active CEL rules, and a dry run of an edited text against recorded attestations
// (which nodes would change verdict, and why) before it is saved.
import type { DryRunReport, PolicyView } from '../../protocol/admin.ts';
import { ApiError, call, canAct, paths } from './api.ts';
import { badge, h, show, when } from './dom.ts';

function reportView(report: DryRunReport): HTMLElement {
  const changed = report.outcomes.filter((o) => o.before !== o.after);
  return h(
    'section',
    { class: 'dry-run', 'aria-labelledby': 'dry-run-title' },
    h('h2', { id: 'dry-run-title' }, 'Dry run'),
    h('p', { class: 'dry-run-summary' }, `${report.appraised} recorded attestations appraised again; ${report.changed} would change verdict.`),
    changed.length
      ? h(
          'div',
          { class: 'table-wrap' },
          h(
            'table',
            {},
            h(
              'thead',
              {},
              h(
                'tr',
                {},
                ['Node', 'Recorded', 'Before', 'After', 'Why'].map((t) => h('th', { scope: 'col' }, t)),
              ),
            ),
            h(
              'tbody',
              {},
              changed.map((o) =>
                h(
                  'tr',
                  {},
                  h('td', {}, h('a', { href: `#/node/${o.nodeId}` }, o.nodeId.slice(0, 8))),
                  h('td', {}, when(o.recordedAt)),
                  h('td', {}, badge(o.before)),
                  h('td', {}, badge(o.after)),
                  h(
                    'td',
                    {},
                    h(
                      'ul',
                      { class: 'plain' },
                      o.reasons.map((r) => h('li', {}, h('strong', {}, r.rule ?? r.reason), ': ', r.message)),
                    ),
                  ),
                ),
              ),
            ),
          ),
        )
      : null,
  );
}

export async function policyPage(main: HTMLElement): Promise<undefined> {
  const policies = await call<{ items: PolicyView[] }>('GET', paths.policies, { query: { limit: 100 } });
  const active = policies.items.find((p) => p.active);
  const text = h('textarea', { id: 'policy-text', name: 'text', rows: 18, spellcheck: 'false', 'aria-label': 'Policy document (YAML or JSON)' });
  text.value = active?.text ?? 'rules:\n  - name: secure-boot\n    expr: claims.secureBoot.enabled\n';
  const description = h('input', {
    type: 'text',
    name: 'description',
    maxlength: 1024,
    placeholder: 'What changed (kept with the version)',
    'aria-label': 'Description',
  });
  const out = h('div', { 'aria-live': 'polite' });
  const fail = (e: unknown) => {
    show(out, h('p', { class: 'error', role: 'alert' }, e instanceof ApiError ? `${e.code}: ${e.message}` : String(e)));
  };
  const save = h(
    'button',
    {
      type: 'button',
      disabled: true,
      onclick: () => {
        call<PolicyView>('POST', paths.policies, { body: { text: text.value, description: description.value, activate: true } })
          .then(() => policyPage(main))
          .catch(fail);
      },
    },
    'Save and activate',
  );
  text.addEventListener('input', () => {
    save.disabled = true;
  });
  const dryRun = h(
    'button',
    {
      type: 'button',
      onclick: () => {
        show(out, h('p', { class: 'muted' }, 'Appraising recorded attestations…'));
        call<DryRunReport>('POST', paths.policyDryRun, { body: { text: text.value } })
          .then((report) => {
            show(out, reportView(report));
            save.disabled = !canAct();
          })
          .catch(fail);
      },
    },
    'Dry run',
  );
  show(
    main,
    h('h1', {}, 'Policy'),
    h(
      'p',
      {},
      active
        ? [`Active: version ${active.version}, `, when(active.createdAt), ` by ${active.createdBy}. `, active.description]
        : 'No policy is active: reference values alone decide.',
    ),
    h(
      'form',
      { class: 'policy', onsubmit: (e: Event) => e.preventDefault() },
      text,
      canAct() && description,
      h('div', { class: 'actions' }, dryRun, canAct() && save),
    ),
    h('p', { class: 'muted' }, 'Save is offered after a dry run of the text as it stands.'),
    out,
    h(
      'details',
      {},
      h('summary', {}, `${policies.items.length} versions`),
      h(
        'ol',
        { class: 'plain' },
        policies.items.map((p) => h('li', {}, `v${p.version} `, p.active ? badge('active') : '', ' ', when(p.createdAt), ` ${p.createdBy}: ${p.description}`)),
      ),
    ),
  );
  return undefined;
}
