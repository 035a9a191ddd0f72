// Counts the series a registry exports and drives an agent's metrics the way the agent does for the
// pods on its node, for the cardinality test and measurement.
import type { Registry } from 'prom-client';
import type { AgentMetrics } from '../../agent/metrics.ts';
import { REASONS, type Reason } from '../../agent/core/reasons.ts';

/** Series by metric name: a histogram's buckets, _sum and _count each count, as Prometheus stores them. */
export async function seriesByMetric(registry: Registry): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const m of await registry.getMetricsAsJSON()) out.set(m.name, m.values.length);
  return out;
}

export async function countSeries(registry: Registry, only?: (name: string) => boolean): Promise<number> {
  let n = 0;
  for (const [name, count] of await seriesByMetric(registry)) if (!only || only(name)) n += count;
  return n;
}

export interface NodeWorkload {
  /** ServiceAccounts with pods on the node, each `namespace/name`, and the reason of its verdict. */
  readonly serviceAccounts: ReadonlyMap<string, Reason>;
  /** Pods with an AWS identity on the node. */
  readonly pods: number;
  /** Identity checks, STS calls and Events in this round (as after one recheck interval). */
  readonly checks: number;
}

/**
 * One round of what the agent reports for a node: each ServiceAccount's health, a check, an STS call
 * and an Event per check, pod counts by reason, cache size and lookups. Every reason and both STS
 * outcomes are reported over the checks, so the per-node series are all present.
 */
export function reportNode(metrics: AgentMetrics, w: NodeWorkload): void {
  const reasons = Object.keys(REASONS) as Reason[];
  for (const [key, reason] of w.serviceAccounts) {
    const [namespace, name] = key.split('/') as [string, string];
    const verdict = REASONS[reason].verdict;
    metrics.setServiceAccountHealth(namespace, name, reason, verdict === 'healthy' ? 'healthy' : verdict === 'misconfigured' ? 'misconfigured' : 'unknown');
  }
  for (let i = 0; i < w.checks; i++) {
    const reason = reasons[i % reasons.length]!;
    metrics.observeProbe(REASONS[reason].verdict, reason);
    metrics.observeSts(i % 7 === 0 ? 'unreachable' : 'answered', (i % 100) / 40);
    metrics.observeEvent(reason === 'Healthy' ? 'Normal' : 'Warning', reason);
    metrics.observeCacheLookup(i % 3 !== 0);
  }
  for (const cause of ['rate-limited', 'queue-full', 'api-error']) metrics.observeEventDropped(cause);
  const counts = new Map<Reason, number>();
  reasons.forEach((r, i) => counts.set(r, Math.floor(w.pods / reasons.length) + (i < w.pods % reasons.length ? 1 : 0)));
  metrics.setPodCounts(counts);
  metrics.setCacheSize(w.serviceAccounts.size);
}
