// The EK approval queue: nodes whose EK neither chains to a configured root nor is allowlisted wait
// here until an operator approves or denies them.
import type { NodeView } from '../../protocol/admin.ts';
import { call, canAct, paths } from './api.ts';
import { confirmDialog, h, hex, show, when } from './dom.ts';

export async function approvalsPage(main: HTMLElement): Promise<undefined> {
  const page = await call<{ items: NodeView[]; nextCursor?: string }>('GET', paths.nodes, {
    query: { status: 'pending-approval', sort: 'created', limit: 1000 },
  });
  const decide = (node: NodeView, action: 'approve' | 'deny') => () => {
    void confirmDialog(
      action === 'approve' ? 'Approve' : 'Deny',
      action === 'approve' ? `Trust the EK of ${node.name} (${node.ekName.slice(0, 16)}…)?` : `Refuse the enrollment of ${node.name}?`,
      action === 'approve' ? 'Approve' : 'Deny',
      true,
    ).then(async ({ confirmed, reason }) => {
      if (!confirmed) return;
      await call('POST', paths.nodeAction(node.id, action), { body: reason ? { reason } : {} });
      await approvalsPage(main);
    });
  };
  show(
    main,
    h('h1', {}, 'Approvals'),
    page.items.length
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
                ['Node', 'EK', 'Asked', ''].map((t) => h('th', { scope: 'col' }, t)),
              ),
            ),
            h(
              'tbody',
              {},
              page.items.map((n) =>
                h(
                  'tr',
                  {},
                  h('td', {}, h('a', { href: `#/node/${n.id}` }, n.name)),
                  h('td', {}, n.ekKind.toUpperCase(), n.ekCertified ? ' certified ' : ' no certificate ', hex(n.ekName)),
                  h('td', {}, when(n.createdAt)),
                  h(
                    'td',
                    {},
                    canAct() && [
                      h('button', { type: 'button', onclick: decide(n, 'approve') }, 'Approve'),
                      ' ',
                      h('button', { type: 'button', class: 'danger', onclick: decide(n, 'deny') }, 'Deny'),
                    ],
                  ),
                ),
              ),
            ),
          ),
        )
      : h('p', {}, 'No enrollment waits for approval.'),
    page.nextCursor && h('p', { class: 'muted' }, 'More wait than this page shows.'),
  );
  return undefined;
}
