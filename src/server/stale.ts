// The stale sweep (continuous attestation): an enrolled node whose attestations stopped for longer
// than attestation.staleAfterSeconds is marked stale once, whichever replica sweeps first (the
// store marks each node in one UPDATE), with a `node.stale` event for the dashboard and webhooks.
// Its next attestation clears the mark.
import type { ServerContext } from './context.ts';
import { recordNodeEvent } from './events.ts';

/** Nodes marked per store call: a fleet that went silent at once is marked over several calls. */
const SWEEP_BATCH = 1000;

export class StaleSweep {
  readonly #ctx: ServerContext;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<number> | undefined;

  constructor(ctx: ServerContext) {
    this.#ctx = ctx;
  }

  start(): void {
    if (this.#ctx.config.attestation.staleAfterMs === undefined || this.#timer) return;
    this.#timer = setInterval(() => {
      if (this.#running) return;
      this.#running = this.sweep()
        .catch((e: unknown) => {
          this.#ctx.log.warn({ err: e }, 'stale sweep failed');
          return 0;
        })
        .finally(() => {
          this.#running = undefined;
        });
    }, this.#ctx.config.attestation.staleSweepMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Waits for a sweep under way. */
  async idle(): Promise<void> {
    await this.#running;
  }

  /** One sweep: marks every node silent for too long; returns how many it marked. */
  async sweep(): Promise<number> {
    const staleAfterMs = this.#ctx.config.attestation.staleAfterMs;
    if (staleAfterMs === undefined) return 0;
    const before = this.#ctx.now().getTime() - staleAfterMs;
    let marked = 0;
    for (;;) {
      const events = await this.#ctx.store.transaction(async (tx) => {
        const nodes = await tx.nodes.markStale(before, SWEEP_BATCH);
        const out = [];
        for (const node of nodes) out.push(await recordNodeEvent(tx, 'node.stale', node, 'server', { staleSince: node.staleSince }));
        return out;
      });
      marked += events.length;
      this.#ctx.webhooks.publish(events);
      if (events.length < SWEEP_BATCH) return marked;
    }
  }
}
