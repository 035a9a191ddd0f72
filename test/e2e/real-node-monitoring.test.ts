// What SREs see of kube-irsa in a real Prometheus: on the real single-node cluster (test/node/), the
// Prometheus Operator and a `Prometheus` that selects the chart's ServiceMonitor, PodMonitor and
// PrometheusRule; the chart installed with them on and its alerts' `for` shortened by the chart's
// value. Through Prometheus' HTTP API: every kube-irsa target is scraped with the labels
// docs/metrics.md promises (and docs/metrics.md's scrape config for Prometheus without the operator,
// run beside, gives the same), a broken trust policy fires KubeIrsaIdentityMisconfigured for its
// ServiceAccount and fixing it resolves the alert, every query of the Grafana dashboard returns data,
// a stopped webhook fires KubeIrsaWebhookDown and STS failing fires KubeIrsaStsUnreachable. Root
// only, like the real-node suite; its own cluster (the other suite scales, upgrades and uninstalls
// the chart under its own tests).
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AppsV1Api, CoreV1Api } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { eventually } from '../cluster/kube-helpers.ts';
import { realNodeUnavailable, startRealCluster, type RealCluster } from '../node/cluster.ts';
import { docsScrapeConfig } from '../support/docs-scrape-config.ts';
import { machineDifferences, processesInNamespaces, snapshotMachine, type MachineState } from '../node/machine-state.ts';
import { installPrometheus, monitoringImages, SELECTOR_LABEL, type ActiveAlert, type PrometheusApi } from '../node/monitoring.ts';
import { ACCOUNT, CHART, createAppPod, helmKubeIrsa, setUpShop, trustPolicyFor } from '../node/workloads.ts';

const REGION = 'us-east-1';
const RELEASE = 'kube-irsa';
const RELEASE_NS = 'kube-irsa';
const APP_NS = 'shop';
/** Prometheus' scrape and rule evaluation interval, and the chart's scrape interval. */
const INTERVAL_S = 5;
/** The alerts' `for` in this test (chart value metrics.prometheusRule.for.*). */
const FOR_S = 20;
const WEBHOOK_JOB = `${RELEASE}-webhook`;
const AGENT_JOB = `${RELEASE_NS}/${RELEASE}-agent`;
/**
 * docs/metrics.md's scrape config for Prometheus without the operator runs beside the operator's
 * monitors, its targets told apart by this label (the only one it adds); OPERATOR selects the
 * operator's series.
 */
const FROM_DOCS = { label: 'scrape_config', value: 'docs-metrics-md' } as const;
const OPERATOR = `${FROM_DOCS.label}=""`;
/**
 * Dashboard queries whose empty result is right on this cluster, with why. None today: every panel
 * has data once pods with an identity have been admitted and checked (the sums count 0, the
 * misconfigured count falls back to vector(0)).
 */
const DELIBERATELY_EMPTY: Readonly<Record<string, string>> = {};

const unavailable = realNodeUnavailable();
if (unavailable) console.log(`# real-node monitoring tests skipped: ${unavailable}`);

describe('a real Prometheus and the Prometheus Operator on the real node: kube-irsa\'s monitors, alerts and dashboard', { skip: unavailable, concurrency: false }, () => {
  let cluster: RealCluster;
  let machineBefore: MachineState;
  let core: CoreV1Api;
  let apps: AppsV1Api;
  let prometheus: PrometheusApi;

  const alertsNamed = async (name: string): Promise<ActiveAlert[]> => (await prometheus.alerts()).filter((a) => a.labels.alertname === name);
  /** Waits for the alert to fire, and checks it was pending for its `for` first. */
  async function firing(name: string, matches: (a: ActiveAlert) => boolean, timeoutMs: number): Promise<ActiveAlert> {
    const alert = await eventually(async () => (await alertsNamed(name)).find((a) => a.state === 'firing' && matches(a)), `${name} to fire`, timeoutMs, 1_000);
    const pendingFor = (Date.now() - Date.parse(alert.activeAt)) / 1000;
    assert.ok(pendingFor >= FOR_S - INTERVAL_S, `${name} fired ${pendingFor} s after it became active; its for is ${FOR_S} s`);
    return alert;
  }
  const upByJob = async (job: string): Promise<string[]> => (await prometheus.query(`up{job="${job}", namespace="${RELEASE_NS}", ${OPERATOR}}`)).map((s) => s.value[1]);

  before(async () => {
    cluster = await startRealCluster({ onLocked: async () => { machineBefore = await snapshotMachine(); }, extraImages: monitoringImages });
    core = cluster.controlPlane.kubeConfig.makeApiClient(CoreV1Api);
    apps = cluster.controlPlane.kubeConfig.makeApiClient(AppsV1Api);
    // payments' role trusts another namespace: the agent finds TrustPolicyDenied
    await setUpShop(cluster, core, APP_NS);
  }, { timeout: 60 * 60_000 });

  after(async () => {
    await prometheus?.close();
    await cluster?.stop();
  });

  test('the operator runs Prometheus; the chart installed with its ServiceMonitor, PodMonitor and PrometheusRule: the webhook and every agent are scraped (up == 1)', { timeout: 10 * 60_000 }, async () => {
    const docs = parse(await docsScrapeConfig()) as { scrape_configs: Array<{ relabel_configs?: object[] }> };
    prometheus = await installPrometheus(cluster, { intervalSeconds: INTERVAL_S, additionalScrapeConfigs: docs.scrape_configs.map((c) => ({
      ...c, relabel_configs: [...(c.relabel_configs ?? []), { target_label: FROM_DOCS.label, replacement: FROM_DOCS.value }],
    })) });
    const selector = Object.entries(SELECTOR_LABEL).flatMap(([k, v]) => ['--set', `metrics.serviceMonitor.labels.${k}=${v}`, '--set', `metrics.prometheusRule.labels.${k}=${v}`]);
    await helmKubeIrsa(cluster, 'install', { tokenSource: 'kubelet', region: REGION, extra: [
      '--set', 'agent.recheckInterval=20s', '--set', 'agent.misconfiguredRecheckInterval=5s', '--set', 'agent.retryInterval=2s',
      '--set', 'metrics.serviceMonitor.enabled=true', '--set', `metrics.serviceMonitor.interval=${INTERVAL_S}s`,
      '--set', 'metrics.prometheusRule.enabled=true', '--set', 'metrics.grafanaDashboard.enabled=true', ...selector,
      ...['KubeIrsaIdentityMisconfigured', 'KubeIrsaWebhookDown', 'KubeIrsaStsUnreachable'].flatMap((a) => ['--set', `metrics.prometheusRule.for.${a}=${FOR_S}s`]),
    ] });
    const webhookReplicas = (await apps.readNamespacedDeployment({ namespace: RELEASE_NS, name: `${RELEASE}-webhook` })).spec?.replicas ?? 0;
    const agents = await eventually(async () => {
      const ds = await apps.readNamespacedDaemonSet({ namespace: RELEASE_NS, name: `${RELEASE}-agent` });
      return ds.status?.numberReady === ds.status?.desiredNumberScheduled ? ds.status?.numberReady : undefined;
    }, 'every agent pod to be ready', 120_000, 1_000);
    assert.equal(webhookReplicas, 2);
    assert.equal(agents, 1, 'one agent per node');
    await eventually(async () => {
      const [webhook, agent] = [await upByJob(WEBHOOK_JOB), await upByJob(AGENT_JOB)];
      return webhook.length === webhookReplicas && webhook.every((v) => v === '1') && agent.length === agents && agent.every((v) => v === '1') ? true : undefined;
    }, `up == 1 for ${webhookReplicas} webhook and ${agents} agent targets`, 180_000, 1_000)
      .catch(async (err: Error) => { throw new Error(`${err.message}; targets: ${JSON.stringify(await prometheus.targets())}`); });
    // the target labels docs/metrics.md gives (Scrape labels), on the series of each component
    const [webhookSeries] = await prometheus.query(`kube_irsa_build_info{component="webhook", ${OPERATOR}}`);
    assert.deepEqual(pick(webhookSeries?.metric, ['job', 'namespace', 'service', 'container', 'endpoint']),
      { job: WEBHOOK_JOB, namespace: RELEASE_NS, service: `${RELEASE}-webhook`, container: 'webhook', endpoint: 'metrics' });
    const [agentSeries] = await prometheus.query(`kube_irsa_build_info{component="agent", ${OPERATOR}}`);
    assert.deepEqual(pick(agentSeries?.metric, ['job', 'namespace', 'container', 'endpoint']), { job: AGENT_JOB, namespace: RELEASE_NS, container: 'agent', endpoint: 'metrics' });
    assert.equal(agentSeries?.metric.service, undefined);
  });

  test('docs/metrics.md\'s scrape config for Prometheus without the operator gives every target the labels the operator\'s monitors give', { timeout: 3 * 60_000 }, async () => {
    const labelSets = async (selector: string): Promise<string[]> => (await prometheus.query(`up{${selector}}`))
      .map((s) => JSON.stringify(Object.fromEntries(Object.entries(s.metric).filter(([k]) => k !== '__name__' && k !== FROM_DOCS.label).sort())))
      .sort();
    for (const job of [WEBHOOK_JOB, AGENT_JOB]) {
      const operator = await labelSets(`job="${job}", ${OPERATOR}`);
      assert.ok(operator.length > 0, `the operator's ${job} targets`);
      const fromDocs = await eventually(async () => {
        const sets = await labelSets(`job="${job}", ${FROM_DOCS.label}="${FROM_DOCS.value}"`);
        return sets.length === operator.length ? sets : undefined;
      }, `docs/metrics.md's ${job} targets`, 60_000, 1_000);
      assert.deepEqual(fromDocs, operator, job);
    }
  });

  test('a ServiceAccount whose trust policy is broken fires KubeIrsaIdentityMisconfigured with its namespace and name; the healthy one does not', { timeout: 6 * 60_000 }, async () => {
    await createAppPod(core, cluster, APP_NS, 'orders', 'orders');
    await createAppPod(core, cluster, APP_NS, 'payments', 'payments');
    const alert = await firing('KubeIrsaIdentityMisconfigured', (a) => a.labels.serviceaccount === 'payments', 240_000);
    assert.deepEqual(pick(alert.labels, ['namespace', 'serviceaccount', 'serviceaccount_namespace', 'reason', 'severity']),
      { namespace: APP_NS, serviceaccount: 'payments', serviceaccount_namespace: APP_NS, reason: 'TrustPolicyDenied', severity: 'warning' });
    assert.match(alert.annotations.summary ?? '', new RegExp(`^AWS identity of ${APP_NS}/payments is misconfigured \\(TrustPolicyDenied\\)`));
    // the series as scraped: the ServiceAccount's namespace in its own label, the agent's in `namespace`
    const health = await prometheus.query(`kube_irsa_agent_serviceaccount_health{serviceaccount="payments", ${OPERATOR}}`);
    assert.deepEqual(health.map((s) => pick(s.metric, ['namespace', 'serviceaccount_namespace', 'status', 'exported_namespace'])),
      [{ namespace: RELEASE_NS, serviceaccount_namespace: APP_NS, status: 'misconfigured' }]);
    const orders = await prometheus.query(`kube_irsa_agent_serviceaccount_health{serviceaccount="orders", ${OPERATOR}}`);
    assert.deepEqual(orders.map((s) => s.metric.status), ['healthy']);
    assert.deepEqual((await alertsNamed('KubeIrsaIdentityMisconfigured')).filter((a) => a.labels.serviceaccount !== 'payments'), []);
  });

  test('fixing the trust policy resolves KubeIrsaIdentityMisconfigured', { timeout: 5 * 60_000 }, async () => {
    await cluster.emulator.apply({ op: 'putRole', account: ACCOUNT, spec: { name: 'payments', trustPolicy: trustPolicyFor(cluster, `system:serviceaccount:${APP_NS}:payments`) } });
    await eventually(async () => (await alertsNamed('KubeIrsaIdentityMisconfigured')).length === 0 ? true : undefined, 'KubeIrsaIdentityMisconfigured to resolve', 180_000, 1_000);
    const health = await prometheus.query(`kube_irsa_agent_serviceaccount_health{serviceaccount="payments", ${OPERATOR}}`);
    assert.deepEqual(health.map((s) => s.metric.status), ['healthy']);
  });

  test('every query of the Grafana dashboard returns data (or a deliberate empty result)', { timeout: 3 * 60_000 }, async () => {
    const queries = await dashboardQueries(prometheus);
    assert.ok(queries.length >= 9, `${queries.length} queries`);
    // the rate() panels need two scrapes of counters that moved; the probes' histogram fills as the agent rechecks
    const results = await eventually(async () => {
      const out = await Promise.all(queries.map(async (q) => ({ ...q, values: (await prometheus.query(q.expr)).map((s) => s.value[1]) })));
      return out.every((q) => DELIBERATELY_EMPTY[q.title] !== undefined || (q.values.length > 0 && q.values.every((v) => v !== 'NaN'))) ? out : undefined;
    }, 'every dashboard query to return data', 120_000, 2_000).catch(async (err: Error) => {
      const out = await Promise.all(queries.map(async (q) => `${q.title}: ${JSON.stringify((await prometheus.query(q.expr)).map((s) => s.value[1]))}`));
      throw new Error(`${err.message}:\n${out.join('\n')}`);
    });
    for (const q of results) {
      if (DELIBERATELY_EMPTY[q.title] !== undefined) assert.deepEqual(q.values, [], `${q.title} is empty here: ${DELIBERATELY_EMPTY[q.title]}`);
    }
    const byTitle = Object.fromEntries(results.map((q) => [q.title, q.values]));
    assert.deepEqual(byTitle['Misconfigured ServiceAccounts'], ['0'], 'payments was fixed');
    assert.ok(Number(byTitle['Webhook certificate expires in']?.[0]) > 7 * 86_400, 'a fresh certificate');
  });

  test('stopping the webhook fires KubeIrsaWebhookDown; it resolves when the webhook is back', { timeout: 6 * 60_000 }, async () => {
    assert.deepEqual(await alertsNamed('KubeIrsaWebhookDown'), []);
    await cluster.kubectl(['scale', '-n', RELEASE_NS, `deployment/${RELEASE}-webhook`, '--replicas=0']);
    const alert = await firing('KubeIrsaWebhookDown', () => true, 180_000);
    assert.equal(alert.labels.severity, 'critical');
    await cluster.kubectl(['scale', '-n', RELEASE_NS, `deployment/${RELEASE}-webhook`, '--replicas=2']);
    await cluster.kubectl(['rollout', 'status', '-n', RELEASE_NS, `deployment/${RELEASE}-webhook`, '--timeout=180s']);
    await eventually(async () => (await alertsNamed('KubeIrsaWebhookDown')).length === 0 ? true : undefined, 'KubeIrsaWebhookDown to resolve', 120_000, 1_000);
  });

  test('STS failing every probe fires KubeIrsaStsUnreachable naming the node, not KubeIrsaIdentityMisconfigured; it resolves when STS answers', { timeout: 5 * 60_000 }, async () => {
    assert.deepEqual(await alertsNamed('KubeIrsaStsUnreachable'), []);
    // STS answers 500 InternalFailure: unreachable for the agent, an inconclusive verdict
    await cluster.emulator.setFaults({ internalError: true });
    try {
      const alert = await firing('KubeIrsaStsUnreachable', () => true, 180_000);
      assert.deepEqual(pick(alert.labels, ['node', 'severity']), { node: cluster.node.name, severity: 'warning' });
      assert.deepEqual(await alertsNamed('KubeIrsaIdentityMisconfigured'), [], 'an STS outage is inconclusive, not a misconfiguration');
    } finally {
      await cluster.emulator.setFaults({});
    }
    await eventually(async () => (await alertsNamed('KubeIrsaStsUnreachable')).length === 0 ? true : undefined, 'KubeIrsaStsUnreachable to resolve', 120_000, 1_000);
  });

  test('stopping the cluster leaves the machine as it was', { timeout: 5 * 60_000 }, async () => {
    await prometheus.close();
    const { namespaces, dir } = cluster;
    await cluster.stop();
    assert.deepEqual(await processesInNamespaces(namespaces), [], 'no process is left in the cluster namespaces');
    assert.deepEqual(machineDifferences(machineBefore, await snapshotMachine()), []);
    assert.equal(await stat(dir).then(() => true, () => false), false, 'the run folder is gone');
  });
});

function pick(labels: Readonly<Record<string, string>> | undefined, names: readonly string[]): Record<string, string> {
  return Object.fromEntries(names.filter((n) => labels?.[n] !== undefined).map((n) => [n, labels?.[n] ?? '']));
}

interface Dashboard {
  templating?: { list?: Array<{ name: string; type: string; query?: string | { query?: string } }> };
  panels: Array<{ title: string; targets?: Array<{ expr: string }> }>;
}

/**
 * The dashboard's queries as Grafana would send them: each template variable replaced by its first
 * value (a `query` variable's label_values() asked of Prometheus; a datasource variable is not in
 * expressions).
 */
async function dashboardQueries(prometheus: PrometheusApi): Promise<Array<{ title: string; expr: string }>> {
  const dashboard = JSON.parse(await readFile(path.join(CHART, 'dashboards', 'kube-irsa.json'), 'utf8')) as Dashboard;
  const values = new Map<string, string>();
  for (const v of dashboard.templating?.list ?? []) {
    if (v.type !== 'query') continue;
    const query = typeof v.query === 'string' ? v.query : v.query?.query ?? '';
    const m = /^label_values\((?:(.+),\s*)?(\w+)\)$/.exec(query.trim());
    if (!m) throw new Error(`dashboard variable ${v.name}: unsupported query ${query}`);
    const found = await prometheus.labelValues(m[2] ?? '', m[1] ?? '{__name__=~".+"}');
    if (found[0] === undefined) throw new Error(`dashboard variable ${v.name}: ${query} has no value`);
    values.set(v.name, found[0]);
  }
  const substitute = (expr: string): string => expr.replace(/\$\{(\w+)(?::\w+)?\}|\$(\w+)/g, (whole, a?: string, b?: string) => {
    const value = values.get(a ?? b ?? '');
    if (value === undefined) throw new Error(`dashboard query uses ${whole}, which is not one of its variables: ${expr}`);
    return value;
  });
  return dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ title: p.title, expr: substitute(t.expr) })));
}
