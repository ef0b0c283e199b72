// Releases: each reference set (its PCR rules, the predicted events they came from, its root image
// digest), which nodes run it, and which sets an A/B rollout accepts now.
import type { NodeView, ReferenceSetView } from '../../protocol/admin.ts';
import { call, canAct, paths, type ReferenceSetDetailBody } from './api.ts';
import { badge, confirmDialog, h, hex, show, when } from './dom.ts';

interface StoredSet {
  readonly pcrs?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  readonly events?: readonly { pcr: number; type: string; by: string; description: string }[];
  readonly assumptions?: readonly string[];
}

function rule(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && 'oneOf' in value) return `one of ${(value as { oneOf: string[] }).oneOf.join(', ')}`;
  if (value && typeof value === 'object' && 'notAppraised' in value) return `not appraised: ${(value as { notAppraised: string }).notAppraised}`;
  return JSON.stringify(value);
}

function setContent(detail: ReferenceSetDetailBody, nodes: readonly NodeView[], more: boolean): HTMLElement {
  const content = detail.content as StoredSet;
  return h(
    'div',
    { class: 'set-detail' },
    h('h3', {}, `Nodes running ${detail.set.name}`),
    nodes.length
      ? h(
          'p',
          {},
          nodes.map((n, i) => [i ? ', ' : '', h('a', { href: `#/node/${n.id}` }, n.name)]),
          more ? ' and more' : '',
        )
      : h('p', { class: 'muted' }, 'none on this page of the fleet'),
    Object.entries(content.pcrs ?? {}).map(([bank, pcrs]) =>
      h(
        'details',
        {},
        h('summary', {}, `${bank}: ${Object.keys(pcrs).length} PCR rules`),
        h(
          'table',
          { class: 'pcrs' },
          h(
            'tbody',
            {},
            Object.entries(pcrs).map(([pcr, value]) => h('tr', {}, h('td', {}, pcr), h('td', { class: 'rule' }, rule(value)))),
          ),
        ),
      ),
    ),
    content.events?.length
      ? h(
          'details',
          {},
          h('summary', {}, `${content.events.length} predicted events`),
          h(
            'ol',
            { class: 'plain' },
            content.events.map((e) => h('li', {}, `PCR ${e.pcr} · ${e.type} · ${e.description}`, h('span', { class: 'muted' }, ` (${e.by})`))),
          ),
        )
      : null,
    content.assumptions?.length
      ? h(
          'details',
          {},
          h('summary', {}, 'Assumptions'),
          h(
            'ul',
            {},
            content.assumptions.map((a) => h('li', {}, a)),
          ),
        )
      : null,
  );
}

export async function releasesPage(main: HTMLElement): Promise<undefined> {
  const sets = await call<{ items: ReferenceSetView[] }>('GET', paths.referenceSets, { query: { limit: 1000 } });
  const active = sets.items.filter((s) => s.active);
  const detailBox = h('div', { 'aria-live': 'polite' });
  const open = async (s: ReferenceSetView) => {
    const [detail, fleet] = await Promise.all([
      call<ReferenceSetDetailBody>('GET', paths.referenceSet(s.name, s.version)),
      call<{ items: NodeView[]; nextCursor?: string }>('GET', paths.nodes, { query: { limit: 1000, sort: 'last-attestation' } }),
    ]);
    const running = fleet.items.filter((n) => n.currentRelease === s.name);
    show(detailBox, setContent(detail, running, fleet.nextCursor !== undefined));
  };
  show(
    main,
    h('h1', {}, 'Releases'),
    h(
      'p',
      {},
      active.length
        ? [
            'An attestation is accepted when it matches any of: ',
            active.map((s, i) => [i ? ', ' : '', h('strong', {}, `${s.name} v${s.version}`)]),
            active.length > 1 ? ' (an A/B rollout).' : '.',
          ]
        : 'No reference set is accepted: every attestation is refused.',
    ),
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
            ['Release', 'Version', 'Accepted', 'Root image', 'Imported', ''].map((t) => h('th', { scope: 'col' }, t)),
          ),
        ),
        h(
          'tbody',
          {},
          sets.items.map((s) =>
            h(
              'tr',
              {},
              h(
                'td',
                {},
                h(
                  'button',
                  {
                    type: 'button',
                    class: 'link',
                    onclick: () => {
                      void open(s);
                    },
                  },
                  s.name,
                ),
              ),
              h('td', {}, String(s.version)),
              h('td', {}, s.active ? badge('accepted') : h('span', { class: 'muted' }, 'no')),
              h('td', {}, hex(s.composefsDigest ?? undefined)),
              h('td', {}, when(s.createdAt), ` by ${s.createdBy}`),
              h(
                'td',
                {},
                canAct() && !s.active
                  ? h(
                      'button',
                      {
                        type: 'button',
                        onclick: () => {
                          void confirmDialog(
                            'Accept this release',
                            `Nodes booting ${s.name} v${s.version} will be trusted (alongside the other accepted releases).`,
                            'Accept',
                          ).then(async ({ confirmed }) => {
                            if (!confirmed) return;
                            await call('POST', paths.activateReferenceSet(s.name, s.version), { body: {} });
                            await releasesPage(main);
                          });
                        },
                      },
                      'Accept',
                    )
                  : null,
              ),
            ),
          ),
        ),
      ),
    ),
    detailBox,
  );
  return undefined;
}
