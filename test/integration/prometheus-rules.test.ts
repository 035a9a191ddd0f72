// What SREs load into Prometheus, checked with the real promtool and no cluster: the chart's rendered
// alert rules (`promtool check rules`, then the unit tests in test/prometheus/ with `promtool test
// rules`, which must cover every alert: silent before its `for`, firing at it, silent on the series
// it is not for, resolved after a fix), the Grafana dashboard's queries, and the scrape config that
// docs/metrics.md gives for Prometheus without the operator. The unit tests live under test/, not in
// the chart: helm packages every file of a chart folder, and a chart's tests are `helm test` hooks.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { Registry } from 'prom-client';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { createAgentMetrics } from '../../agent/metrics.ts';
import { createWebhookMetrics } from '../../webhook/metrics.ts';
import { ensureBinaries } from '../cluster/binaries.ts';
import { docsScrapeConfig } from '../support/docs-scrape-config.ts';

const run = promisify(execFile);
const ROOT = path.join(import.meta.dirname, '..', '..');
const CHART = path.join(ROOT, 'deploy', 'kube-irsa');
const UNIT_TESTS = path.join(ROOT, 'test', 'prometheus');
// the name the unit tests' rule_files give the rendered rules
const RULES_FILE = 'kube-irsa.rules.yaml';
// the release the unit tests' series are labelled for (job, namespace, pod names)
const RELEASE = 'kube-irsa';
// the labels the Prometheus Operator's PodMonitor and ServiceMonitor give every scraped series
const TARGET_LABELS = ['namespace', 'pod', 'container', 'endpoint', 'job', 'instance'];

interface AlertRule { alert?: string; expr: string; for?: string; labels?: Record<string, string>; annotations?: Record<string, string> }
interface ExpectedAlert { exp_labels?: Record<string, string>; exp_annotations?: Record<string, string> }
interface AlertCheck { eval_time: string; alertname: string; exp_alerts?: ExpectedAlert[] }
interface UnitTest { name?: string; input_series?: Array<{ series: string; values: string }>; alert_rule_test?: AlertCheck[] }
interface UnitTestFile { file: string; rule_files: string[]; tests: UnitTest[] }

/** Seconds in a Prometheus duration such as 90s, 10m, 1h30m, 7d. */
function seconds(duration: string): number {
  const units: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };
  const parts = [...duration.matchAll(/(\d+)([smhdw])/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== duration) throw new Error(`not a Prometheus duration: ${duration}`);
  return parts.reduce((sum, [, n, unit]) => sum + Number(n) * units[unit!]!, 0);
}

/** The label names of a series written in PromQL selector syntax, e.g. `up{job="x",pod="y"}`. */
function labelNames(series: string): string[] {
  return [...series.matchAll(/([a-zA-Z_]\w*)="/g)].map((m) => m[1]!);
}

/** The label names of every kube-irsa metric, from the components' own registries. */
function metricLabels(): Map<string, readonly string[]> {
  const out = new Map<string, readonly string[]>();
  for (const registry of [createAgentMetrics(new Registry(), 'n').registry, createWebhookMetrics(new Registry()).registry]) {
    for (const m of registry.getMetricsAsArray()) out.set(m.name, (m as unknown as { labelNames?: string[] }).labelNames ?? []);
  }
  return out;
}

/** Labels a PromQL expression selects or groups kube-irsa metrics by that those metrics do not have. */
function unknownLabels(expr: string, labels: ReadonlyMap<string, readonly string[]>): string[] {
  const base = (name: string) => labels.has(name) ? name : name.replace(/_(bucket|sum|count)$/, '');
  const metrics = [...expr.matchAll(/\b(kube_irsa_\w+)/g)].map((m) => base(m[1]!));
  if (metrics.length === 0) return [];
  const problems = metrics.filter((m) => !labels.has(m)).map((m) => `${m}: no such metric`);
  const known = new Set(['le', ...metrics.flatMap((m) => labels.get(m) ?? [])]);
  for (const [, list] of expr.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g)) {
    for (const l of list!.split(',').map((x) => x.trim()).filter((x) => x !== '')) if (!known.has(l)) problems.push(`grouped by ${l}`);
  }
  for (const [, name, matchers] of expr.matchAll(/\b(kube_irsa_\w+)\{([^}]*)\}/g)) {
    for (const [, l] of matchers!.matchAll(/(\w+)\s*(?:=~|!~|!=|=)/g)) if (!labels.get(base(name!))?.includes(l!)) problems.push(`${name}{${l}}`);
  }
  return problems;
}

describe('Prometheus rules, dashboard and scrape config (promtool)', () => {
  let bin: string;
  let dir: string;
  let alerts: AlertRule[];
  let unitTests: UnitTestFile[];
  const promtool = async (...args: string[]) => {
    try {
      return await run(path.join(bin, 'promtool'), args, { cwd: dir, maxBuffer: 8 << 20 });
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; message: string };
      throw new Error(`promtool ${args.join(' ')} failed:\n${e.stdout ?? ''}${e.stderr ?? e.message}`, { cause: err });
    }
  };

  before(async () => {
    bin = await ensureBinaries(['helm', 'promtool']);
    dir = await mkdtemp(path.join(os.tmpdir(), 'kube-irsa-rules-'));
    const { stdout } = await run(path.join(bin, 'helm'), ['template', RELEASE, CHART, '-n', RELEASE, '--kube-version', '1.37.2',
      '--set', 'metrics.prometheusRule.enabled=true', '--show-only', 'templates/monitoring.yaml'], { maxBuffer: 8 << 20 });
    const rule = parseAllDocuments(stdout).map((d) => d.toJS() as { kind?: string; spec?: { groups: Array<{ rules: AlertRule[] }> } } | null)
      .find((o) => o?.kind === 'PrometheusRule');
    assert.ok(rule?.spec, 'the chart renders a PrometheusRule');
    // a PrometheusRule's spec is a Prometheus rule file
    await writeFile(path.join(dir, RULES_FILE), stringify({ groups: rule.spec.groups }));
    alerts = rule.spec.groups.flatMap((g) => g.rules).filter((r) => r.alert !== undefined);
    unitTests = [];
    for (const file of (await readdir(UNIT_TESTS)).filter((f) => f.endsWith('.test.yaml')).sort()) {
      await copyFile(path.join(UNIT_TESTS, file), path.join(dir, file));
      unitTests.push({ file, ...(parse(await readFile(path.join(UNIT_TESTS, file), 'utf8')) as Omit<UnitTestFile, 'file'>) });
    }
  });
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('promtool check rules accepts the rendered rule groups, lint included', async () => {
    const { stdout } = await promtool('check', 'rules', '--lint=all', '--lint-fatal', RULES_FILE);
    assert.match(stdout, new RegExp(`SUCCESS: ${alerts.length} rules found`));
    assert.ok(alerts.length >= 6, `${alerts.length} alerts`);
  });

  test('promtool test rules passes every unit test in test/prometheus', async () => {
    assert.ok(unitTests.length > 0);
    for (const t of unitTests) assert.deepEqual(t.rule_files, [RULES_FILE], `${t.file} tests the rendered rules`);
    const { stdout } = await promtool('test', 'rules', ...unitTests.map((t) => t.file));
    assert.equal([...stdout.matchAll(/^\s*SUCCESS\s*$/gm)].length, unitTests.length, stdout);
  });

  test('every alert is unit-tested: silent before its for, firing at it, and silent on series it is not for', () => {
    const problems: string[] = [];
    for (const rule of alerts) {
      const name = rule.alert!;
      const hold = seconds(rule.for ?? '0s');
      const tests = unitTests.flatMap((f) => f.tests.map((t) => ({ ...t, checks: (t.alert_rule_test ?? []).filter((c) => c.alertname === name) })))
        .filter((t) => t.checks.length > 0);
      const firesAtFor = tests.some((t) => t.checks.some((c) => seconds(c.eval_time) === hold && (c.exp_alerts ?? []).length > 0)
        && t.checks.some((c) => seconds(c.eval_time) < hold && (c.exp_alerts ?? []).length === 0));
      if (!firesAtFor) problems.push(`${name}: no test where it is silent before ${rule.for} and fires at ${rule.for}`);
      const silent = tests.filter((t) => t.checks.every((c) => (c.exp_alerts ?? []).length === 0) && t.checks.some((c) => seconds(c.eval_time) >= hold));
      if (silent.length === 0) problems.push(`${name}: no test where it stays silent past ${rule.for}`);
      const resolves = tests.some((t) => {
        const firing = t.checks.findIndex((c) => (c.exp_alerts ?? []).length > 0);
        return firing >= 0 && t.checks.slice(firing + 1).some((c) => (c.exp_alerts ?? []).length === 0);
      });
      if (!resolves) problems.push(`${name}: no test where it resolves after firing`);
    }
    assert.deepEqual(problems, []);
  });

  test('unit-test series carry the scrape target labels, and the identity alert the ServiceAccount\'s namespace', () => {
    const problems: string[] = [];
    for (const f of unitTests) {
      for (const t of f.tests) {
        for (const { series } of t.input_series ?? []) {
          const missing = TARGET_LABELS.filter((l) => !labelNames(series).includes(l));
          if (missing.length > 0) problems.push(`${f.file}: ${series} lacks ${missing.join(', ')}`);
          if (series.startsWith('kube_irsa_agent_') && !series.includes(`job="${RELEASE}/${RELEASE}-agent"`)) problems.push(`${f.file}: ${series} is not the PodMonitor's job`);
        }
        for (const c of (t.alert_rule_test ?? []).filter((x) => x.alertname === 'KubeIrsaIdentityMisconfigured')) {
          for (const a of c.exp_alerts ?? []) {
            const labels = a.exp_labels ?? {};
            if (!labels.serviceaccount || labels.namespace !== labels.serviceaccount_namespace || labels.namespace === RELEASE) {
              problems.push(`${f.file} "${t.name}": the alert must carry the ServiceAccount's namespace and name, not the agent pod's: ${JSON.stringify(labels)}`);
            }
            const summary = a.exp_annotations?.summary ?? '';
            if (!summary.includes(`${labels.namespace}/${labels.serviceaccount}`)) problems.push(`${f.file} "${t.name}": the summary must name ${labels.namespace}/${labels.serviceaccount}`);
          }
        }
      }
    }
    assert.deepEqual(problems, []);
  });

  test('the scrape config in docs/metrics.md for Prometheus without the operator passes promtool check config and gives the alerts\' job labels', async () => {
    const block = await docsScrapeConfig();
    await writeFile(path.join(dir, 'prometheus.yml'), block);
    const { stdout } = await promtool('check', 'config', 'prometheus.yml');
    assert.match(stdout, /SUCCESS: prometheus\.yml is valid prometheus config file syntax/);
    // the webhook's job is its Service's name (KubeIrsaWebhookDown), the agents' the PodMonitor's
    assert.match(block, new RegExp(`regex: ${RELEASE}-webhook;metrics\n[\\s\\S]*target_label: job}`));
    assert.ok(block.includes(`{target_label: job, replacement: ${RELEASE}/${RELEASE}-agent}`));
  });

  test('the alerts and the Grafana dashboard\'s queries parse, and use only labels their metrics have', async () => {
    const dashboard = JSON.parse(await readFile(path.join(CHART, 'dashboards', 'kube-irsa.json'), 'utf8')) as { panels: Array<{ title: string; targets: Array<{ expr: string }> }> };
    const queries = dashboard.panels.flatMap((p) => p.targets.map((t) => ({ where: `dashboard "${p.title}"`, expr: t.expr })));
    assert.ok(queries.length >= 9, `${queries.length} dashboard queries`);
    // promtool parses a rule file's expressions: the dashboard's become recording rules
    await writeFile(path.join(dir, 'dashboard.rules.yaml'), stringify({ groups: [{ name: 'dashboard', rules: queries.map((q, i) => ({ record: `kube_irsa:dashboard_query_${i}`, expr: q.expr })) }] }));
    assert.match((await promtool('check', 'rules', 'dashboard.rules.yaml')).stdout, new RegExp(`SUCCESS: ${queries.length} rules found`));
    const labels = metricLabels();
    const problems = [...queries, ...alerts.map((a) => ({ where: `alert ${a.alert}`, expr: a.expr }))]
      .flatMap((q) => unknownLabels(q.expr, labels).map((p) => `${q.where}: ${p}`));
    assert.deepEqual(problems, []);
    assert.deepEqual(unknownLabels('max by (namespace) (kube_irsa_agent_serviceaccount_health{status="misconfigured"})', labels), ['grouped by namespace'], 'the check finds the target label');
  });

  test('docs/metrics.md lists every alert with its for and the promtool test that proves it', async () => {
    const docs = await readFile(path.join(ROOT, 'docs', 'metrics.md'), 'utf8');
    const problems: string[] = [];
    for (const rule of alerts) {
      const row = docs.split('\n').find((l) => l.startsWith(`| \`${rule.alert}\` |`));
      const file = unitTests.find((f) => f.tests.some((t) => t.alert_rule_test?.some((c) => c.alertname === rule.alert)))?.file;
      if (!row) problems.push(`${rule.alert}: no row`);
      else if (!row.includes(`| ${rule.for} |`) || !file || !row.includes(`test/prometheus/${file}`)) problems.push(`${rule.alert}: the row lacks its for (${rule.for}) or test/prometheus/${file}`);
    }
    assert.deepEqual(problems, []);
  });
});
