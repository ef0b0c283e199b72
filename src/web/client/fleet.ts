// The fleet: counts per status and per release, then the nodes a page at a time (keyset-paged by
// the server, so the 10,000th node costs what the first does), with search, a status filter and
// the sort orders the store's indexes serve. Node status changes arrive over the admin API's event
// stream and update the rows and counts in place.
import type { NodeEvent, NodeView } from '../../protocol/admin.ts';
import { ApiError, call, paths } from './api.ts';
import { badge, h, show, when } from './dom.ts';

/** The fleet's counts, as GET /v1/admin/nodes/summary answers. */
export interface FleetSummary {
  readonly total: number;
  readonly byStatus: Readonly<Record<string, number>>;
  readonly byAttestation: Readonly<Record<string, number>>;
  readonly byRelease: Readonly<Record<string, number>>;
}

const PAGE_SIZE = 100;
const STATUSES = ['pending-approval', 'pending-activation', 'enrolled', 'revoked'] as const;
const SORTS = { name: 'Name', 'last-attestation': 'Last attestation', created: 'Enrolled' } as const;

interface Filter {
  search: string;
  status: string;
  sort: string;
}

function readFilter(): Filter {
  const params = new URLSearchParams(location.hash.split('?')[1] ?? '');
  return { search: params.get('search') ?? '', status: params.get('status') ?? '', sort: params.get('sort') ?? 'last-attestation' };
}

function nodeRow(node: NodeView): HTMLTableRowElement {
  return h(
    'tr',
    { 'data-node': node.id },
    h('td', {}, h('a', { href: `#/node/${node.id}` }, node.name)),
    h('td', {}, badge(node.status), node.stale && ' ', node.stale && badge('stale')),
    h('td', {}, node.lastAttestationStatus ? badge(node.lastAttestationStatus) : h('span', { class: 'muted' }, 'none')),
    h('td', {}, node.currentRelease ?? h('span', { class: 'muted' }, '—')),
    h('td', {}, when(node.lastAttestationAt)),
    h('td', { class: 'narrow-hide' }, node.ekKind.toUpperCase(), node.ekCertified ? ' · certified' : ''),
  );
}

function countsView(summary: FleetSummary | undefined): HTMLElement {
  if (!summary) return h('p', { class: 'muted' }, 'Counts are unavailable from this server.');
  const tiles = (title: string, counts: Readonly<Record<string, number>>, link: (key: string) => string | undefined) =>
    h(
      'section',
      { class: 'counts', 'aria-label': title },
      h('h2', {}, title),
      h(
        'ul',
        {},
        Object.entries(counts).map(([key, n]) => {
          const href = link(key);
          const content = [h('span', { class: 'count' }, n.toLocaleString('en')), ' ', badge(key)];
          return h('li', {}, href ? h('a', { href }, content) : content);
        }),
      ),
    );
  return h(
    'div',
    { class: 'summary' },
    h('p', { class: 'total' }, h('strong', {}, summary.total.toLocaleString('en')), ' nodes'),
    tiles('Status', summary.byStatus, (key) => ((STATUSES as readonly string[]).includes(key) ? `#/fleet?status=${key}` : undefined)),
    tiles('Last attestation', summary.byAttestation, () => undefined),
    tiles('Release', summary.byRelease, () => undefined),
  );
}

async function fetchSummary(): Promise<FleetSummary | undefined> {
  try {
    return await call<FleetSummary>('GET', `${paths.nodes}/summary`);
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return undefined;
    throw e;
  }
}

export async function fleetPage(main: HTMLElement): Promise<() => void> {
  const filter = readFilter();
  const cursors: (string | undefined)[] = [undefined];
  const summaryBox = h('div', { class: 'summary-box' });
  const body = h('tbody');
  const status = h('p', { class: 'muted', role: 'status', 'aria-live': 'polite' });
  const previous = h('button', { type: 'button', disabled: true }, '← Previous');
  const next = h('button', { type: 'button', disabled: true }, 'Next →');
  const live = h('span', { class: 'live', title: 'live updates from the server' }, 'connecting…');

  const setHash = (f: Filter) => {
    const params = new URLSearchParams();
    if (f.search) params.set('search', f.search);
    if (f.status) params.set('status', f.status);
    if (f.sort !== 'last-attestation') params.set('sort', f.sort);
    const text = params.toString();
    location.hash = `#/fleet${text ? `?${text}` : ''}`;
  };

  const search = h('input', { type: 'search', name: 'search', value: filter.search, placeholder: 'Name starts with…', 'aria-label': 'Search by name prefix' });
  const statusSelect = h(
    'select',
    { name: 'status', 'aria-label': 'Status' },
    h('option', { value: '' }, 'Every status'),
    STATUSES.map((s) => h('option', { value: s, selected: s === filter.status }, s)),
  );
  const sortSelect = h(
    'select',
    { name: 'sort', 'aria-label': 'Sort by' },
    Object.entries(SORTS).map(([value, label]) => h('option', { value, selected: value === filter.sort }, `Sort: ${label}`)),
  );
  const controls = h(
    'form',
    {
      class: 'controls',
      role: 'search',
      onsubmit: (e: Event) => {
        e.preventDefault();
        setHash({ search: search.value.trim().toLowerCase(), status: statusSelect.value, sort: sortSelect.value });
      },
    },
    search,
    statusSelect,
    sortSelect,
    h('button', { type: 'submit' }, 'Apply'),
  );
  statusSelect.addEventListener('change', () => controls.requestSubmit());
  sortSelect.addEventListener('change', () => controls.requestSubmit());

  let page = 0;
  const load = async () => {
    const started = performance.now();
    const result = await call<{ items: NodeView[]; nextCursor?: string }>('GET', paths.nodes, {
      query: { limit: PAGE_SIZE, search: filter.search || undefined, status: filter.status || undefined, sort: filter.sort, cursor: cursors[page] },
    });
    show(body, result.items.length ? result.items.map(nodeRow) : h('tr', {}, h('td', { colspan: 6, class: 'muted' }, 'No nodes match.')));
    cursors[page + 1] = result.nextCursor;
    previous.disabled = page === 0;
    next.disabled = result.nextCursor === undefined;
    status.textContent = `Page ${page + 1} · ${result.items.length} nodes · ${Math.round(performance.now() - started)} ms`;
  };
  previous.addEventListener('click', () => {
    page = Math.max(0, page - 1);
    void load();
  });
  next.addEventListener('click', () => {
    page++;
    void load();
  });

  show(
    main,
    h('div', { class: 'title-row' }, h('h1', {}, 'Fleet'), live),
    summaryBox,
    controls,
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        { class: 'fleet' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ['Node', 'Status', 'Attestation', 'Release', 'Last attestation'].map((t) => h('th', { scope: 'col' }, t)),
            h('th', { scope: 'col', class: 'narrow-hide' }, 'EK'),
          ),
        ),
        body,
      ),
    ),
    h('div', { class: 'pager' }, previous, next, status),
  );
  const [summary] = await Promise.all([fetchSummary(), load()]);
  show(summaryBox, countsView(summary));

  // Live updates: a changed node's row is redrawn in place; counts are refreshed at most once a second.
  let refreshing: ReturnType<typeof setTimeout> | undefined;
  const events = new EventSource(paths.events);
  const onEvent = (message: MessageEvent<string>) => {
    const event = JSON.parse(message.data) as NodeEvent;
    const row = body.querySelector<HTMLTableRowElement>(`tr[data-node="${CSS.escape(event.nodeId)}"]`);
    if (row) {
      void call<{ node: NodeView }>('GET', paths.node(event.nodeId)).then(({ node }) => {
        row.replaceWith(nodeRow(node));
      });
    }
    refreshing ??= setTimeout(() => {
      refreshing = undefined;
      void fetchSummary().then((s) => {
        show(summaryBox, countsView(s));
      });
    }, 1000);
  };
  events.onmessage = onEvent;
  for (const type of [
    'node.pending-approval',
    'node.enrolled',
    'node.approved',
    'node.denied',
    'node.revoked',
    'node.unrevoked',
    'node.attestation-changed',
    'node.stale',
  ]) {
    events.addEventListener(type, onEvent);
  }
  events.onopen = () => {
    live.textContent = '● live';
    live.classList.add('on');
  };
  events.onerror = () => {
    live.textContent = 'reconnecting…';
    live.classList.remove('on');
  };
  return () => {
    events.close();
    clearTimeout(refreshing);
  };
}
