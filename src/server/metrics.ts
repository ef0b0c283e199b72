// Prometheus metrics (prom-client), one registry per server instance: requests, verdicts by status,
// appraisal latency, releases, enrollments, plus the process's own (memory, event loop, handles).
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class ServerMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'vouch_http_requests_total',
    help: 'HTTP requests answered, by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });
  readonly attestations = new Counter({
    name: 'vouch_attestations_total',
    help: 'Attestations appraised, by EAR status',
    labelNames: ['status'] as const,
    registers: [this.registry],
  });
  readonly appraisalSeconds = new Histogram({
    name: 'vouch_appraisal_seconds',
    help: 'Time to appraise one attestation (quote, event log replay, claims, reference values, policy)',
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });
  readonly releases = new Counter({
    name: 'vouch_releases_total',
    help: 'Secrets released to nodes after an affirming attestation',
    registers: [this.registry],
  });
  readonly enrollments = new Counter({
    name: 'vouch_enrollments_total',
    help: 'Enrollment steps, by outcome',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly webhookDeliveries = new Counter({
    name: 'vouch_webhook_deliveries_total',
    help: 'Webhook delivery attempts, by outcome',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'vouch_' });
  }
}
