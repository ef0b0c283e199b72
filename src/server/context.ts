// What every handler works with: the store, the key broker, the signing keys, the compiled
// catalogue, the configuration and an injected clock, assembled once per server (app.ts).
import type { Logger } from 'pino';
import type { SecretBroker } from '../broker/index.ts';
import type { Repositories } from '../store/index.ts';
import type { RandomSource } from '../tpm/crypto/index.ts';
import type { CatalogCache } from './catalog.ts';
import type { ServerConfig } from './config.ts';
import type { WebhookDispatcher } from './events.ts';
import type { ClusterCa } from './join.ts';
import type { EarKeys } from './keys.ts';
import type { ServerMetrics } from './metrics.ts';

export interface ServerContext {
  readonly config: ServerConfig;
  readonly store: Repositories;
  readonly broker: SecretBroker;
  readonly keys: EarKeys;
  readonly catalog: CatalogCache;
  readonly webhooks: WebhookDispatcher;
  readonly metrics: ServerMetrics;
  readonly log: Logger;
  /** The cluster CA, when join credentials are kubelet certificates. */
  readonly clusterCa?: ClusterCa;
  /** The store's clock: expiry, appraisal time and token lifetimes all read this one. */
  now(): Date;
  readonly random: RandomSource;
  /** This build, as EARs name their verifier. */
  readonly verifierBuild: string;
}

export const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64url');
export const unb64 = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'base64url'));
