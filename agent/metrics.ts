// The agent's metrics. Labels are bounded: namespace and ServiceAccount (only those with pods on
// this node), reason (a fixed catalogue), status; never pod names, tokens, role ARNs or request IDs.
// The ServiceAccount's namespace is `serviceaccount_namespace`: a label named `namespace` would
// collide with the scrape target's (the agent pod's) and be renamed `exported_namespace`.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { REASONS, type Reason, type Verdict } from './core/reasons.ts';

export type HealthStatus = 'healthy' | 'misconfigured' | 'unknown';

export interface AgentMetrics {
  readonly registry: Registry;
  setServiceAccountHealth(namespace: string, serviceAccount: string, reason: Reason, status: HealthStatus): void;
  clearServiceAccount(namespace: string, serviceAccount: string): void;
  observeProbe(verdict: Verdict, reason: Reason): void;
  observeSts(outcome: 'answered' | 'unreachable', seconds: number): void;
  setPodCounts(counts: ReadonlyMap<Reason, number>): void;
  setCacheSize(n: number): void;
  observeCacheLookup(hit: boolean): void;
  observeEvent(type: string, reason: string): void;
  observeEventDropped(cause: string): void;
}

export function createAgentMetrics(registry: Registry, nodeName: string): AgentMetrics {
  const registers = [registry];
  const reasons = Object.keys(REASONS) as Reason[];
  const health = new Gauge({
    name: 'kube_irsa_agent_serviceaccount_health',
    help: 'Health of each ServiceAccount identity used by pods on this node: 1 for its current reason and status (status: healthy, misconfigured, unknown).',
    labelNames: ['serviceaccount_namespace', 'serviceaccount', 'reason', 'status'], registers,
  });
  const probes = new Counter({ name: 'kube_irsa_agent_probes_total', help: 'Identity checks by result (healthy, misconfigured, inconclusive) and reason.', labelNames: ['result', 'reason'], registers });
  const stsDuration = new Histogram({
    name: 'kube_irsa_agent_sts_request_duration_seconds', help: 'Latency of AssumeRoleWithWebIdentity probes, by outcome (answered, unreachable).',
    labelNames: ['outcome'], buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers,
  });
  const stsReachable = new Gauge({ name: 'kube_irsa_agent_sts_reachable', help: 'Whether STS answered the last probe from this node (1) or could not be reached (0).', labelNames: ['node'], registers });
  const pods = new Gauge({ name: 'kube_irsa_agent_pods', help: 'Pods with an AWS identity on this node, by current reason.', labelNames: ['reason'], registers });
  const notMutated = new Gauge({ name: 'kube_irsa_agent_pods_not_mutated', help: 'Pods on this node whose ServiceAccount has a role but which were not mutated.', registers });
  const staleRole = new Gauge({ name: 'kube_irsa_agent_pods_stale_role', help: 'Pods on this node whose AWS_ROLE_ARN differs from their ServiceAccount\'s current role.', registers });
  const cacheEntries = new Gauge({ name: 'kube_irsa_agent_cache_entries', help: 'Identities in the health cache.', registers });
  const cacheHits = new Counter({ name: 'kube_irsa_agent_cache_hits_total', help: 'Checks answered from the health cache.', registers });
  const cacheMisses = new Counter({ name: 'kube_irsa_agent_cache_misses_total', help: 'Checks that had to run (new identity, due, or a new signing key).', registers });
  const events = new Counter({ name: 'kube_irsa_agent_events_total', help: 'Kubernetes Events recorded, by type and reason.', labelNames: ['type', 'reason'], registers });
  const dropped = new Counter({ name: 'kube_irsa_agent_events_dropped_total', help: 'Events not recorded, by cause (rate-limited, queue-full, api-error).', labelNames: ['cause'], registers });
  for (const r of reasons) {
    pods.set({ reason: r }, 0);
    for (const result of ['healthy', 'misconfigured', 'inconclusive']) if (REASONS[r].verdict === result) probes.inc({ result, reason: r }, 0);
  }
  for (const cause of ['rate-limited', 'queue-full', 'api-error']) dropped.inc({ cause }, 0);
  // from the start, so the first probe of an outcome counts in rate() and histogram_quantile()
  for (const outcome of ['answered', 'unreachable']) stsDuration.zero({ outcome });
  notMutated.set(0);
  staleRole.set(0);

  const current = new Map<string, { reason: Reason; status: HealthStatus }>();
  return {
    registry,
    setServiceAccountHealth(namespace, serviceAccount, reason, status) {
      const key = `${namespace}/${serviceAccount}`;
      const prev = current.get(key);
      if (prev && (prev.reason !== reason || prev.status !== status)) health.remove({ serviceaccount_namespace: namespace, serviceaccount: serviceAccount, reason: prev.reason, status: prev.status });
      current.set(key, { reason, status });
      health.set({ serviceaccount_namespace: namespace, serviceaccount: serviceAccount, reason, status }, 1);
    },
    clearServiceAccount(namespace, serviceAccount) {
      const key = `${namespace}/${serviceAccount}`;
      const prev = current.get(key);
      if (prev) health.remove({ serviceaccount_namespace: namespace, serviceaccount: serviceAccount, reason: prev.reason, status: prev.status });
      current.delete(key);
    },
    observeProbe(verdict, reason) {
      probes.inc({ result: verdict, reason });
    },
    observeSts(outcome, seconds) {
      stsDuration.observe({ outcome }, seconds);
      stsReachable.set({ node: nodeName }, outcome === 'answered' ? 1 : 0);
    },
    setPodCounts(counts) {
      for (const r of reasons) pods.set({ reason: r }, counts.get(r) ?? 0);
      notMutated.set(counts.get('PodNotMutated') ?? 0);
      staleRole.set(counts.get('StaleRole') ?? 0);
    },
    setCacheSize(n) {
      cacheEntries.set(n);
    },
    observeCacheLookup(hit) {
      (hit ? cacheHits : cacheMisses).inc();
    },
    observeEvent(type, reason) {
      events.inc({ type, reason });
    },
    observeEventDropped(cause) {
      dropped.inc({ cause });
    },
  };
}
