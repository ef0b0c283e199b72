// Webhook subscriptions. A webhook's signing secret is a secret like any other: the key broker
// keeps it encrypted in `secrets` under the owner `webhook:<id>`.
import type { Selectable } from 'kysely';
import { StoreError } from '../errors.ts';
import type { Page, PageRequest } from '../paging.ts';
import { endOnce, listOldestFirst } from './ended-once.ts';
import type { WebhooksTable } from '../schema.ts';
import { checkText, isId, jsonText, LABEL, newId, parseJson, type StoreContext } from '../values.ts';

const MAX_URL_CHARS = 2048;
const MAX_EVENTS = 64;

export interface WebhookRecord {
  readonly id: string;
  readonly url: string;
  /** Event names the webhook receives (the server defines them). */
  readonly events: readonly string[];
  readonly createdAt: number;
  readonly disabledAt: number | null;
}

function toWebhook(r: Selectable<WebhooksTable>): WebhookRecord {
  return { id: r.id, url: r.url, events: parseJson(r.events) as string[], createdAt: r.created_at, disabledAt: r.disabled_at };
}

/** The secrets owner under which a webhook's signing secret is kept. */
export function webhookSecretOwner(webhookId: string): string {
  return `webhook:${webhookId}`;
}

export class WebhookRepository {
  readonly #ctx: StoreContext;

  constructor(ctx: StoreContext) {
    this.#ctx = ctx;
  }

  async create(input: { readonly url: string; readonly events: readonly string[] }): Promise<WebhookRecord> {
    const url = checkText(input.url, 'url', MAX_URL_CHARS);
    let protocol: string;
    try {
      protocol = new URL(url).protocol;
    } catch {
      throw new StoreError('ERR_STORE_INVALID', 'url is not a URL', { field: 'url' });
    }
    if (protocol !== 'https:' && protocol !== 'http:') throw new StoreError('ERR_STORE_INVALID', `url must be http(s), got ${protocol}`, { field: 'url' });
    if (!Array.isArray(input.events) || input.events.length === 0 || input.events.length > MAX_EVENTS) {
      throw new StoreError('ERR_STORE_INVALID', `events must list 1..${MAX_EVENTS} event names`, { field: 'events' });
    }
    for (const e of input.events) checkText(e, 'events', 128, LABEL);
    const row = { id: newId(), url, events: jsonText(input.events, 'events', 16 * 1024), created_at: this.#ctx.now(), disabled_at: null };
    await this.#ctx.db.insertInto('webhooks').values(row).execute();
    return toWebhook(row);
  }

  async get(id: string): Promise<WebhookRecord | undefined> {
    if (!isId(id)) return undefined;
    const row = await this.#ctx.db.selectFrom('webhooks').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toWebhook(row);
  }

  list(request: PageRequest = {}): Promise<Page<WebhookRecord>> {
    return listOldestFirst(this.#ctx, 'webhooks', request, toWebhook);
  }

  /** Stops deliveries to a webhook (its record stays, for the audit log's references). */
  disable(id: string): Promise<WebhookRecord> {
    return endOnce(this.#ctx, 'webhooks', id, 'webhook', toWebhook);
  }
}
