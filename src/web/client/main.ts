// The dashboard's entry: sign-in, the navigation, and the hash router (#/fleet, #/node/<id>, …), so
// the server serves one page and every view has an address to bookmark or share.
import { ApiError, canAct, resume, session, signIn, signOut, whenSignedOut } from './api.ts';
import { h, show } from './dom.ts';
import { approvalsPage } from './approvals.ts';
import { auditPage } from './audit.ts';
import { fleetPage } from './fleet.ts';
import { nodePage } from './node.ts';
import { policyPage } from './policy.ts';
import { releasesPage } from './releases.ts';

/** A page draws into `main` and returns what stops its live updates when the user leaves. */
export type Page = (main: HTMLElement, argument: string | undefined) => Promise<(() => void) | undefined>;

const PAGES: Readonly<Record<string, { title: string; page: Page; nav: boolean }>> = {
  fleet: { title: 'Fleet', page: fleetPage, nav: true },
  node: { title: 'Node', page: nodePage, nav: false },
  releases: { title: 'Releases', page: releasesPage, nav: true },
  policy: { title: 'Policy', page: policyPage, nav: true },
  approvals: { title: 'Approvals', page: approvalsPage, nav: true },
  audit: { title: 'Audit', page: auditPage, nav: true },
};

const main = document.getElementById('main')!;
const nav = document.getElementById('nav')!;
const who = document.getElementById('who')!;
let leave: (() => void) | undefined;

function renderChrome(): void {
  const s = session();
  nav.hidden = s === undefined;
  const here = location.hash.split('/')[1] ?? 'fleet';
  show(
    nav,
    Object.entries(PAGES)
      .filter(([, p]) => p.nav)
      .map(([key, p]) => h('a', { href: `#/${key}`, 'aria-current': key === here ? 'page' : undefined }, p.title)),
  );
  show(
    who,
    s && [
      h('span', { class: 'role', title: canAct() ? 'may act' : 'may only look' }, `${s.name} · ${s.role}`),
      h(
        'button',
        {
          type: 'button',
          class: 'link',
          onclick: () => {
            void signOut().finally(() => {
              location.hash = '#/fleet';
              void route();
            });
          },
        },
        'Sign out',
      ),
    ],
  );
}

function signInForm(): HTMLElement {
  const input = h('input', {
    type: 'password',
    id: 'token',
    name: 'token',
    autocomplete: 'off',
    required: true,
    spellcheck: 'false',
    'aria-describedby': 'token-help',
  });
  const error = h('p', { class: 'error', role: 'alert' });
  const form = h(
    'form',
    {
      class: 'sign-in',
      onsubmit: (event: Event) => {
        event.preventDefault();
        error.textContent = '';
        signIn(input.value)
          .then(() => {
            input.value = '';
            void route();
          })
          .catch((e: unknown) => {
            error.textContent = e instanceof ApiError ? `${e.code}: ${e.message}` : String(e);
            input.focus();
          });
      },
    },
    h('h1', {}, 'Sign in'),
    h('label', { for: 'token' }, 'Admin token'),
    input,
    h(
      'p',
      { id: 'token-help', class: 'muted' },
      'The token `vouch serve` printed at first start, or one from `vouch admin tokens create`. It is exchanged for a session cookie and not kept by the browser.',
    ),
    h('button', { type: 'submit' }, 'Sign in'),
    error,
  );
  queueMicrotask(() => {
    input.focus();
  });
  return form;
}

async function route(): Promise<void> {
  leave?.();
  leave = undefined;
  if (!session()) {
    renderChrome();
    show(main, signInForm());
    document.title = 'Sign in · Vouch';
    return;
  }
  const [, key = 'fleet', argument] = location.hash.split('/');
  const entry = PAGES[key] ?? PAGES.fleet!;
  document.title = `${entry.title} · Vouch`;
  renderChrome();
  show(main, h('p', { class: 'muted' }, 'Loading…'));
  try {
    leave = await entry.page(main, argument === undefined ? undefined : decodeURIComponent(argument));
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return;
    show(main, h('h1', {}, entry.title), h('p', { class: 'error', role: 'alert' }, e instanceof ApiError ? `${e.code}: ${e.message}` : String(e)));
  }
  main.focus({ preventScroll: true });
}

whenSignedOut(() => {
  void route();
});
window.addEventListener('hashchange', () => {
  void route();
});
void resume()
  .catch(() => undefined)
  .then(route);
