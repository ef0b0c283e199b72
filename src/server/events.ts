// Node status changes: each is an audit entry (`node.<change>`, subject the node id, details the
// node's new state), written in the transaction that makes the change. That one record feeds the
// dashboard's event stream (which follows the audit log, so it sees the changes every replica
// makes) and the webhooks (delivered by the replica that made the change, after it committed).
import { createHmac } from 'node:crypto';
import type { Logger } from 'pino';
import type { SecretBroker } from '../broker/index.ts';
import type { NodeEvent, NodeEventType } from '../protocol/index.ts';
import { NODE_EVENT_TYPES } from '../protocol/index.ts';
import { webhookSecretOwner, type AuditEntry, type NodeRecord, type Repositories, type WebhookRecord } from '../store/index.ts';
import type { ServerMetrics } from './metrics.ts';

/** The secret name of a webhook's HMAC key (owner `webhook:<id>`). */
export const WEBHOOK_KEY_NAME = 'signing-key';
/** The header carrying `t=<unix seconds>,v1=<hex HMAC-SHA256(key, "<t>.<body>")>`. */
export const WEBHOOK_SIGNATURE_HEADER = 'vouch-signature';

const EVENT_TYPES: ReadonlySet<string> = new Set(NODE_EVENT_TYPES);

/** Appends the audit entry of a node status change (inside the caller's transaction). */
export function recordNodeEvent(
  tx: Repositories,
  type: NodeEventType,
  node: NodeRecord,
  actor: string,
  details: Readonly<Record<string, unknown>> = {},
): Promise<AuditEntry> {
  return tx.audit.append({
    actor,
    action: type,
    subject: node.id,
    details: {
      ...details,
      name: node.name,
      status: node.status,
      ...(node.lastAttestationStatus !== null ? { attestationStatus: node.lastAttestationStatus } : {}),
      release: node.currentRelease,
    },
  });
}

/** The node event an audit entry records, or undefined for any other entry. */
export function nodeEventOf(entry: AuditEntry): NodeEvent | undefined {
  if (!EVENT_TYPES.has(entry.action) || entry.subject === null) return undefined;
  const d = entry.details as { name?: string; status?: NodeEvent['status']; attestationStatus?: NodeEvent['attestationStatus']; release?: string | null };
  if (typeof d.name !== 'string' || typeof d.status !== 'string') return undefined;
  return {
    seq: entry.seq,
    type: entry.action as NodeEventType,
    at: new Date(entry.at).toISOString(),
    nodeId: entry.subject,
    name: d.name,
    status: d.status,
    ...(d.attestationStatus !== undefined ? { attestationStatus: d.attestationStatus } : {}),
    ...(d.release !== undefined ? { release: d.release } : {}),
    actor: entry.actor,
  };
}

/** The signature header value of a delivery. */
export function webhookSignature(key: Uint8Array, unixSeconds: number, body: string): string {
  return `t=${unixSeconds},v1=${createHmac('sha256', key).update(`${unixSeconds}.${body}`).digest('hex')}`;
}

export interface WebhookOptions {
  readonly attempts: number;
  readonly timeoutMs: number;
  /** Waits before a retry (injected: tests do not sleep). */
  readonly sleep: (ms: number) => Promise<void>;
  readonly now: () => number;
}

/** The wait before retry `attempt` (1-based): 1 s, 2 s, 4 s, … at most 5 minutes. */
export function webhookRetryDelayMs(attempt: number): number {
  return Math.min(300_000, 1000 * 2 ** (attempt - 1));
}

/**
 * Delivers node events to the webhooks subscribed to them: a JSON body signed with the webhook's
 * key, retried with backoff until a 2xx or the attempts run out. Deliveries run in the
 * background; drain() waits for those under way (graceful shutdown).
 */
export class WebhookDispatcher {
  readonly #store: Repositories;
  readonly #broker: SecretBroker;
  readonly #options: WebhookOptions;
  readonly #metrics: ServerMetrics;
  readonly #log: Logger;
  readonly #pending = new Set<Promise<void>>();

  constructor(store: Repositories, broker: SecretBroker, options: WebhookOptions, metrics: ServerMetrics, log: Logger) {
    this.#store = store;
    this.#broker = broker;
    this.#options = options;
    this.#metrics = metrics;
    this.#log = log;
  }

  /** Starts delivering the node events among `entries` (audit entries of a committed change). */
  publish(entries: readonly AuditEntry[]): void {
    const events = entries.map(nodeEventOf).filter((e): e is NodeEvent => e !== undefined);
    if (events.length === 0) return;
    const run = this.#deliverAll(events).catch((e: unknown) => {
      this.#log.error({ err: e }, 'webhook deliveries failed');
    });
    this.#pending.add(run);
    void run.finally(() => this.#pending.delete(run));
  }

  async drain(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }

  async #deliverAll(events: readonly NodeEvent[]): Promise<void> {
    const hooks: WebhookRecord[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.#store.webhooks.list({ limit: 1000, ...(cursor ? { cursor } : {}) });
      hooks.push(...page.items.filter((h) => h.disabledAt === null));
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    await Promise.all(hooks.flatMap((hook) => events.filter((e) => hook.events.includes(e.type)).map((e) => this.#deliver(hook, e))));
  }

  async #deliver(hook: WebhookRecord, event: NodeEvent): Promise<void> {
    const body = JSON.stringify(event);
    for (let attempt = 1; attempt <= this.#options.attempts; attempt++) {
      if (attempt > 1) await this.#options.sleep(webhookRetryDelayMs(attempt - 1));
      let status: number | string;
      try {
        using key = await this.#broker.read(webhookSecretOwner(hook.id), WEBHOOK_KEY_NAME);
        if (!key) throw new Error('the webhook has no signing key');
        const response = await fetch(hook.url, {
          method: 'POST',
          redirect: 'manual',
          headers: {
            'content-type': 'application/json',
            [WEBHOOK_SIGNATURE_HEADER]: webhookSignature(key.value, Math.floor(this.#options.now() / 1000), body),
            'vouch-event': event.type,
            'vouch-delivery': `${event.seq}`,
          },
          body,
          signal: AbortSignal.timeout(this.#options.timeoutMs),
        });
        await response.body?.cancel();
        status = response.status;
        if (status >= 200 && status < 300) {
          this.#metrics.webhookDeliveries.inc({ outcome: 'delivered' });
          return;
        }
      } catch (e) {
        status = (e as Error).message;
      }
      this.#metrics.webhookDeliveries.inc({ outcome: 'failed' });
      this.#log.warn({ webhook: hook.id, event: event.type, seq: event.seq, attempt, status }, 'webhook delivery failed');
    }
  }
}
