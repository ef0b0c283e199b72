// Building the page from data: every text goes in as a text node (never parsed as HTML), so a node
// name or an event description cannot inject markup or script.
type Child = Node | string | number | null | undefined | false | readonly Child[];
type Attributes = Readonly<Record<string, string | number | boolean | undefined | ((event: Event) => void)>>;

/** An element with attributes (on* entries become listeners) and children. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attributes: Attributes = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    if (typeof value === 'function') element.addEventListener(name.slice(2), value);
    else if (value === true) element.setAttribute(name, '');
    else element.setAttribute(name, String(value));
  }
  append(element, children);
  return element;
}

export function append(parent: Node, children: readonly Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, child as readonly Child[]);
    else parent.appendChild(typeof child === 'object' ? (child as Node) : document.createTextNode(String(child)));
  }
}

/** Replaces an element's content. */
export function show(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, children);
}

/** "3 min ago"-style age of an ISO time, with the exact time as its title. */
export function when(iso: string | null | undefined): HTMLElement | string {
  if (!iso) return '—';
  const seconds = Math.round((Date.now() - Date.parse(iso)) / 1000);
  const text =
    seconds < 60
      ? `${Math.max(seconds, 0)} s ago`
      : seconds < 3600
        ? `${Math.floor(seconds / 60)} min ago`
        : seconds < 86_400
          ? `${Math.floor(seconds / 3600)} h ago`
          : iso.slice(0, 10);
  return h('time', { datetime: iso, title: iso }, text);
}

/** A status word as a coloured badge (the colour repeats the word, it never replaces it). */
export function badge(status: string): HTMLElement {
  return h('span', { class: `badge s-${status}` }, status);
}

/** A long hex value, shortened, with the whole value on hover and for copying. */
export function hex(value: string | undefined, keep = 16): HTMLElement {
  if (value === undefined) return h('span', { class: 'muted' }, '—');
  return h('code', { class: 'hex', title: value }, value.length > keep ? `${value.slice(0, keep)}…` : value);
}

/** A modal confirmation; resolves true when the user confirms. */
export function confirmDialog(title: string, message: string, confirmLabel: string, withReason = false): Promise<{ confirmed: boolean; reason: string }> {
  return new Promise((resolve) => {
    const reason = h('input', {
      type: 'text',
      name: 'reason',
      maxlength: 1024,
      'aria-label': 'Reason (recorded in the audit log)',
      placeholder: 'Reason (audit log)',
    });
    const dialog = h(
      'dialog',
      { class: 'confirm', 'aria-labelledby': 'confirm-title' },
      h(
        'form',
        { method: 'dialog' },
        h('h2', { id: 'confirm-title' }, title),
        h('p', {}, message),
        withReason && reason,
        h(
          'div',
          { class: 'actions' },
          h('button', { value: 'cancel', type: 'submit' }, 'Cancel'),
          h('button', { value: 'confirm', type: 'submit', class: 'danger' }, confirmLabel),
        ),
      ),
    );
    dialog.addEventListener('close', () => {
      resolve({ confirmed: dialog.returnValue === 'confirm', reason: reason.value.trim() });
      dialog.remove();
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}
