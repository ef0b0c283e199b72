// The audit log, newest first, with the state of its hash chain (each entry hashes the previous:
// an edited, removed or reordered entry breaks it).
import type { AuditEntryView, AuditVerifyReport } from '../../protocol/admin.ts';
import { call, paths } from './api.ts';
import { badge, h, hex, show, when } from './dom.ts';

export async function auditPage(main: HTMLElement): Promise<undefined> {
  const cursors: (string | undefined)[] = [undefined];
  let page = 0;
  const body = h('tbody');
  const previous = h('button', { type: 'button', disabled: true }, '← Newer');
  const next = h('button', { type: 'button', disabled: true }, 'Older →');
  const load = async () => {
    const result = await call<{ items: AuditEntryView[]; nextCursor?: string }>('GET', paths.audit, { query: { limit: 100, cursor: cursors[page] } });
    show(
      body,
      result.items.map((e) =>
        h(
          'tr',
          {},
          h('td', {}, String(e.seq)),
          h('td', {}, when(e.at)),
          h('td', {}, e.actor),
          h('td', {}, h('strong', {}, e.action)),
          h('td', {}, e.subject ? h('a', { href: `#/node/${e.subject}` }, e.subject.slice(0, 8)) : '—'),
          h('td', { class: 'narrow-hide' }, hex(e.hash)),
        ),
      ),
    );
    cursors[page + 1] = result.nextCursor;
    previous.disabled = page === 0;
    next.disabled = result.nextCursor === undefined;
  };
  previous.addEventListener('click', () => {
    page--;
    void load();
  });
  next.addEventListener('click', () => {
    page++;
    void load();
  });
  const chain = h('div', { class: 'chain', 'aria-live': 'polite' }, h('p', { class: 'muted' }, 'Checking the hash chain…'));
  show(
    main,
    h('h1', {}, 'Audit'),
    chain,
    h(
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
            ['#', 'When', 'Who', 'What', 'Node'].map((t) => h('th', { scope: 'col' }, t)),
            h('th', { scope: 'col', class: 'narrow-hide' }, 'Hash'),
          ),
        ),
        body,
      ),
    ),
    h('div', { class: 'pager' }, previous, next),
  );
  const [report] = await Promise.all([call<AuditVerifyReport>('GET', paths.auditVerify), load()]);
  show(
    chain,
    h(
      'p',
      {},
      badge(report.ok ? 'intact' : 'broken'),
      ` ${report.entries} entries checked; head #${report.head.seq} `,
      hex(report.head.hash),
      '. Record the head outside the database and check against it later (vouch audit verify --anchor).',
    ),
    report.problems.length
      ? h(
          'ul',
          { class: 'problems' },
          report.problems.map((p) => h('li', {}, h('strong', {}, p.kind), ` at #${p.seq}: ${p.message}`)),
          report.problemsTruncated && h('li', {}, '…and more'),
        )
      : null,
  );
  return undefined;
}
