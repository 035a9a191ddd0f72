// The webhook's metrics. The reference's names and labels are kept (existing dashboards keep
// working, latencies in microseconds included); kube-irsa's own follow Prometheus conventions
// (base units, _total counters, bounded labels) and are created at 0 so alerts see them at once.
import { Counter, Gauge, Histogram, type Metric, type MetricValue, type Registry } from 'prom-client';
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
  observeShed(): void;
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
  // the reference's summary has no quantiles, only _sum and _count: prom-client's Summary would
  // still feed a t-digest on every request, the most expensive step of an admission's bookkeeping
  const httpSummary = new SumCountSummary('http_request_duration_microseconds', 'HTTP request latency in microseconds (reference webhook metric).', ['verb', 'path']);
  registry.registerMetric(httpSummary as unknown as Metric);
  const podCount = new Counter({ name: 'pod_identity_webhook_pod_count', help: 'Pods mutated, by method (reference webhook metric).', labelNames: ['method'], registers });
  const missingSa = new Counter({ name: 'pod_identity_webhook_missing_sa_count', help: 'Admissions whose ServiceAccount was not found (reference webhook metric).', registers });
  // with --workers, the primary aggregates: the same value from every worker is not a sum
  const used = new Gauge({ name: 'pod_identity_webhook_used', help: 'Set to 1 once a ServiceAccount is cached (reference webhook metric).', aggregator: 'max', registers });
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
  const cacheSize = new Gauge({ name: 'kube_irsa_webhook_serviceaccount_cache_entries', help: 'ServiceAccounts in the cache.', aggregator: 'max', registers });
  const certExpiry = new Gauge({ name: 'kube_irsa_webhook_certificate_expiry_timestamp_seconds', help: 'When the serving certificate expires (Unix time).', aggregator: 'min', registers });
  const shed = new Counter({ name: 'kube_irsa_webhook_overload_rejections_total', help: 'Admissions refused at once with 503 because too many were in progress (--max-in-flight).', registers });
  const reloads = new Counter({ name: 'kube_irsa_webhook_config_reloads_total', help: 'Reloads of the mapping ConfigMap, the container-credentials file and the certificate, by result.', labelNames: ['source', 'result'], registers });
  // every outcome's series exist from the start: rate() and histogram_quantile() see the first
  // admission of an outcome as an increase (a series born at 1 has none)
  for (const o of OUTCOMES) {
    admissions.inc({ outcome: o }, 0);
    duration.zero({ outcome: o });
  }
  for (const l of LOOKUPS) lookups.inc({ result: l }, 0);
  for (const source of ['config-map', 'container-credentials', 'certificate']) for (const result of ['loaded', 'rejected']) reloads.inc({ source, result }, 0);

  return {
    registry,
    observeHttp(verb, path, code, seconds) {
      httpCount.inc({ verb, path, code: String(code) });
      httpLatency.observe({ verb, path }, seconds * 1e6);
      httpSummary.observe([verb, path], seconds * 1e6);
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
    observeShed() {
      shed.inc();
    },
  };
}

/** A summary with _sum and _count only, in the exposition format of prom-client's Summary. */
class SumCountSummary {
  readonly name: string;
  readonly help: string;
  private readonly labelNames: readonly string[];
  private readonly series = new Map<string, { labels: Record<string, string>; sum: number; count: number }>();

  constructor(name: string, help: string, labelNames: readonly string[]) {
    this.name = name;
    this.help = help;
    this.labelNames = labelNames;
  }

  observe(labelValues: readonly string[], value: number): void {
    const key = labelValues.join('\u0000');
    let s = this.series.get(key);
    if (!s) {
      s = { labels: Object.fromEntries(this.labelNames.map((n, i) => [n, labelValues[i] ?? ''])), sum: 0, count: 0 };
      this.series.set(key, s);
    }
    s.sum += value;
    s.count++;
  }

  get(): Promise<unknown> {
    const values: Array<MetricValue<string> & { metricName: string }> = [];
    for (const s of this.series.values()) {
      values.push({ labels: s.labels, value: s.sum, metricName: `${this.name}_sum` }, { labels: s.labels, value: s.count, metricName: `${this.name}_count` });
    }
    return Promise.resolve({ name: this.name, help: this.help, type: 'summary', aggregator: 'sum', values });
  }

  reset(): void {
    this.series.clear();
  }
}
