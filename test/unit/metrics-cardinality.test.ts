// No metric label grows with pods or requests: the agent exports one series per ServiceAccount with
// pods on its node and a fixed set besides; the webhook's series are fixed once every outcome has
// been seen. docs/metrics.md (Cardinality) has the measured numbers.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { REASONS, type Reason } from '../../agent/core/reasons.ts';
import { createAgentMetrics } from '../../agent/metrics.ts';
import { createWebhookMetrics } from '../../webhook/metrics.ts';
import { countSeries, reportNode } from '../support/metric-series.ts';

const REASON_LIST = Object.keys(REASONS) as Reason[];

/** n ServiceAccounts in a few namespaces, their verdicts spread over the catalogue (shifted by `shift`). */
function serviceAccounts(n: number, shift = 0): Map<string, Reason> {
  return new Map(Array.from({ length: n }, (_, i) => [`team-${i % 4}/sa-${i}`, REASON_LIST[(i + shift) % REASON_LIST.length]!]));
}

test('agent: one series per ServiceAccount on the node, none per pod, check, STS call or Event', async () => {
  const m = createAgentMetrics(new Registry(), 'node-a');
  const series = () => countSeries(m.registry);
  const health = () => countSeries(m.registry, (n) => n === 'kube_irsa_agent_serviceaccount_health');
  reportNode(m, { serviceAccounts: serviceAccounts(10), pods: 10, checks: 40 });
  const base = await series();
  assert.equal(await health(), 10);

  reportNode(m, { serviceAccounts: serviceAccounts(10), pods: 5_000, checks: 5_000 });
  assert.equal(await series(), base, 'more pods, checks, STS calls and Events add no series');
  reportNode(m, { serviceAccounts: serviceAccounts(10, 5), pods: 10, checks: 40 });
  assert.equal(await series(), base, 'a changed verdict replaces its series');
  reportNode(m, { serviceAccounts: serviceAccounts(30), pods: 30, checks: 40 });
  assert.equal(await series(), base + 20, 'each ServiceAccount adds one series');
  for (const key of [...serviceAccounts(30).keys()].slice(0, 5)) m.clearServiceAccount(...(key.split('/') as [string, string]));
  assert.equal(await series(), base + 15, 'a ServiceAccount gone from the node takes its series away');
});

test('agent: every label takes its values from a fixed catalogue, the node name or the ServiceAccounts on the node', async () => {
  const m = createAgentMetrics(new Registry(), 'node-a');
  const sas = serviceAccounts(25);
  reportNode(m, { serviceAccounts: sas, pods: 3_000, checks: 3_000 });
  const keys = [...sas.keys()].map((k) => k.split('/') as [string, string]);
  const domains: Record<string, ReadonlySet<string>> = {
    serviceaccount_namespace: new Set(keys.map(([ns]) => ns)),
    serviceaccount: new Set(keys.map(([, name]) => name)),
    reason: new Set(REASON_LIST),
    status: new Set(['healthy', 'misconfigured', 'unknown']),
    result: new Set(['healthy', 'misconfigured', 'inconclusive']),
    outcome: new Set(['answered', 'unreachable']),
    node: new Set(['node-a']),
    type: new Set(['Normal', 'Warning']),
    cause: new Set(['rate-limited', 'queue-full', 'api-error']),
    // histogram buckets: fixed by the metric's definition
    le: new Set(['0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '5', '10', '+Inf']),
  };
  const problems: string[] = [];
  for (const metric of await m.registry.getMetricsAsJSON()) {
    for (const { labels } of metric.values) {
      for (const [name, value] of Object.entries(labels)) {
        if (!domains[name]?.has(String(value))) problems.push(`${metric.name}{${name}="${String(value)}"}`);
      }
    }
  }
  assert.deepEqual(problems, []);
});

test('webhook: no series per request once every outcome has been seen', async () => {
  const m = createWebhookMetrics(new Registry());
  const requests = (n: number) => {
    for (let i = 0; i < n; i++) {
      for (const code of [200, 400, 500]) m.observeHttp('POST', '/mutate', code, i / 1000);
      for (const outcome of ['mutated', 'unchanged', 'no-identity', 'not-a-pod-create', 'rejected'] as const) m.observeAdmission(outcome, i / 1000, 'web-identity', i % 2);
      for (const outcome of ['hit', 'live-found', 'live-not-found', 'live-error', 'live-timeout', 'miss'] as const) m.observeLookup(outcome);
      m.setCacheSize(i);
      m.observeShed();
    }
  };
  requests(1);
  const base = await countSeries(m.registry);
  requests(2_000);
  assert.equal(await countSeries(m.registry), base);
});
