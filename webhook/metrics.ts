// The webhook's metrics. The reference's names and labels are kept (existing dashboards keep
// working, latencies in microseconds included); kube-irsa's own follow Prometheus conventions
// (base units, _total counters, bounded labels) and are created at 0 so alerts see them at once.
import { Counter, Gauge, Histogram, Summary, type Registry } from 'prom-client';
import type { AdmissionOutcome } from './admission/handler.ts';
import type { LookupOutcome } from '../shared/identity/service-account-cache.ts';

export interface WebhookMetrics {
  readonly registry: Registry;
  /** One finished HTTP request on the admission server (reference metrics). */
  observeHttp(verb: string, path: string, code: number, seconds: number): void;
  observeAdmission(outcome: AdmissionOutcome, seconds: number, mode: 'web-identity' | 'container-credentials' | undefined, warnings: number): void;
  observeLookup(outcome: LookupOutcome): void;
  setCacheSize(size: number): void;
  setCertificateExpiry(notAfter: Date): void;
  observeReload(source: 'config-map' | 'container-credentials' | 'certificate', result: 'loaded' | 'rejected'): void;
}

const OUTCOMES: readonly AdmissionOutcome[] = ['mutated', 'unchanged', 'no-identity', 'not-a-pod-create', 'rejected'];
const LOOKUPS: readonly LookupOutcome[] = ['hit', 'live-found', 'live-not-found', 'live-error', 'live-timeout', 'miss'];

export function createWebhookMetrics(registry: Registry): WebhookMetrics {
  const registers = [registry];
  // reference metrics
  const httpCount = new Counter({ name: 'http_request_count', help: 'Counts HTTP requests (reference webhook metric).', labelNames: ['verb', 'path', 'code'], registers });
  const httpLatency = new Histogram({
    name: 'http_request_latencies', help: 'Response latency distribution in microseconds for each verb and path (reference webhook metric).',
    labelNames: ['verb', 'path'], buckets: [125_000, 250_000, 500_000, 1_000_000, 2_000_000, 4_000_000, 8_000_000], registers,
  });
  const httpSummary = new Summary({ name: 'http_request_duration_microseconds', help: 'HTTP request latency in microseconds (reference webhook metric).', labelNames: ['verb', 'path'], maxAgeSeconds: 3600, ageBuckets: 5, percentiles: [], registers });
  const podCount = new Counter({ name: 'pod_identity_webhook_pod_count', help: 'Pods mutated, by method (reference webhook metric).', labelNames: ['method'], registers });
  const missingSa = new Counter({ name: 'pod_identity_webhook_missing_sa_count', help: 'Admissions whose ServiceAccount was not found (reference webhook metric).', registers });
  const used = new Gauge({ name: 'pod_identity_webhook_used', help: 'Set to 1 once a ServiceAccount is cached (reference webhook metric).', registers });
  podCount.inc({ method: 'sts_web_identity' }, 0);
  podCount.inc({ method: 'container_credentials' }, 0);

  // kube-irsa metrics
  const admissions = new Counter({ name: 'kube_irsa_webhook_admissions_total', help: 'Admission requests by outcome.', labelNames: ['outcome'], registers });
  const duration = new Histogram({
    name: 'kube_irsa_webhook_admission_duration_seconds', help: 'Time to answer an admission request, in seconds.', labelNames: ['outcome'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers,
  });
  const warnings = new Counter({ name: 'kube_irsa_webhook_admission_warnings_total', help: 'Admission warnings returned to clients.', registers });
  const lookups = new Counter({ name: 'kube_irsa_webhook_serviceaccount_lookups_total', help: 'ServiceAccount lookups by result (hit: from the cache; live-*: read from the API server within the grace period).', labelNames: ['result'], registers });
  const cacheSize = new Gauge({ name: 'kube_irsa_webhook_serviceaccount_cache_entries', help: 'ServiceAccounts in the cache.', registers });
  const certExpiry = new Gauge({ name: 'kube_irsa_webhook_certificate_expiry_timestamp_seconds', help: 'When the serving certificate expires (Unix time).', registers });
  const reloads = new Counter({ name: 'kube_irsa_webhook_config_reloads_total', help: 'Reloads of the mapping ConfigMap, the container-credentials file and the certificate, by result.', labelNames: ['source', 'result'], registers });
  for (const o of OUTCOMES) admissions.inc({ outcome: o }, 0);
  for (const l of LOOKUPS) lookups.inc({ result: l }, 0);
  for (const source of ['config-map', 'container-credentials', 'certificate']) for (const result of ['loaded', 'rejected']) reloads.inc({ source, result }, 0);

  return {
    registry,
    observeHttp(verb, path, code, seconds) {
      httpCount.inc({ verb, path, code: String(code) });
      httpLatency.observe({ verb, path }, seconds * 1e6);
      httpSummary.observe({ verb, path }, seconds * 1e6);
    },
    observeAdmission(outcome, seconds, mode, warningCount) {
      admissions.inc({ outcome });
      duration.observe({ outcome }, seconds);
      if (warningCount > 0) warnings.inc(warningCount);
      if (outcome === 'mutated' && mode) podCount.inc({ method: mode === 'web-identity' ? 'sts_web_identity' : 'container_credentials' });
    },
    observeLookup(outcome) {
      lookups.inc({ result: outcome });
      if (outcome !== 'hit' && outcome !== 'live-found') missingSa.inc();
    },
    setCacheSize(size) {
      cacheSize.set(size);
      if (size > 0) used.set(1);
    },
    setCertificateExpiry(notAfter) {
      certExpiry.set(notAfter.getTime() / 1000);
    },
    observeReload(source, result) {
      reloads.inc({ source, result });
    },
  };
}
