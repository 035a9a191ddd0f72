// A live Prometheus on the real node, run the way most clusters run it: the Prometheus Operator
// (its own CRDs, from the operator's module zip), a `Prometheus` resource that selects monitors and
// rules by a label, and the operator's StatefulSet of Prometheus and its config reloader. The three
// images hold nothing but the static binaries built with the test binaries; the test reaches
// Prometheus' HTTP API through the relay (network.ts).
import { readdir, readlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { AppsV1Api, CoreV1Api } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import type { TestBinary } from '../cluster/binaries.ts';
import { eventually } from '../cluster/kube-helpers.ts';
import type { RealCluster } from './cluster.ts';
import { staticBinaryImageArchive } from './images.ts';

export const MONITORING_NS = 'monitoring';
/** The label the `Prometheus` resource selects ServiceMonitors, PodMonitors and PrometheusRules by. */
export const SELECTOR_LABEL = { prometheus: 'kube-irsa-e2e' } as const;
const PROMETHEUS_NAME = 'e2e';
const ADDITIONAL_SCRAPE_CONFIGS = 'additional-scrape-configs';
const NOBODY = '65534:65534';

export const MONITORING_IMAGES = {
  prometheus: 'localhost/kube-irsa/prometheus',
  operator: 'localhost/kube-irsa/prometheus-operator',
  reloader: 'localhost/kube-irsa/prometheus-config-reloader',
} as const;

/** What startRealCluster builds and imports for the operator and Prometheus (extraImages). */
export const monitoringImages = {
  binaries: ['prometheus', 'prometheus-operator'] as readonly TestBinary[],
  async make(binDir: string, dir: string): Promise<readonly string[]> {
    const { prometheus, operator } = await versions(binDir);
    const bin = (name: string): string => path.join(binDir, name);
    return [
      // as the official image: the binary as entrypoint, /prometheus its working folder (the operator
      // mounts the data volume there)
      await staticBinaryImageArchive({ name: `${MONITORING_IMAGES.prometheus}:v${prometheus}`, dir, files: { 'bin/prometheus': bin('prometheus') },
        config: { entrypoint: ['/bin/prometheus'], workingDir: '/prometheus', user: NOBODY } }),
      await staticBinaryImageArchive({ name: `${MONITORING_IMAGES.operator}:v${operator}`, dir, files: { 'bin/operator': bin('prometheus-operator') },
        config: { entrypoint: ['/bin/operator'], user: NOBODY } }),
      // the operator runs it as /bin/prometheus-config-reloader
      await staticBinaryImageArchive({ name: `${MONITORING_IMAGES.reloader}:v${operator}`, dir, files: { 'bin/prometheus-config-reloader': bin('prometheus-config-reloader') },
        config: { entrypoint: ['/bin/prometheus-config-reloader'], user: NOBODY } }),
    ];
  },
};

/** The versions built, read from the cache's versioned folders (build-binaries.sh links into them). */
async function versions(binDir: string): Promise<{ prometheus: string; operator: string }> {
  const version = async (link: string, folder: string): Promise<string> => {
    const target = await readlink(path.join(binDir, link)).catch((err: Error) => {
      throw new Error(`${link} in ${binDir} is not a link into the cache's versioned folders (build-binaries.sh makes them): ${err.message}`, { cause: err });
    });
    const v = new RegExp(`/${folder}-v([^/]+)/`).exec(target)?.[1];
    if (!v) throw new Error(`cannot tell the version of ${link} from its link ${target}`);
    return v;
  };
  return { prometheus: await version('prometheus', 'prometheus'), operator: await version('prometheus-operator', 'prometheus-operator') };
}

export interface PrometheusApi {
  /** An instant query's result vector. */
  query(expr: string): Promise<Sample[]>;
  /** The alerts Prometheus has pending or firing. */
  alerts(): Promise<ActiveAlert[]>;
  /** The active scrape targets. */
  targets(): Promise<Target[]>;
  /** The values of a label on the series matching `match`. */
  labelValues(label: string, match: string): Promise<string[]>;
  close(): Promise<void>;
}
export interface Sample { readonly metric: Record<string, string>; readonly value: [number, string] }
export interface ActiveAlert { readonly labels: Record<string, string>; readonly annotations: Record<string, string>; readonly state: 'pending' | 'firing'; readonly activeAt: string }
export interface Target { readonly labels: Record<string, string>; readonly scrapePool: string; readonly health: string; readonly lastError: string }

/**
 * Installs the operator (CRDs, RBAC, Deployment) and a `Prometheus` that selects every namespace's
 * monitors and rules labelled SELECTOR_LABEL, scraping and evaluating every `intervalSeconds`, with
 * `additionalScrapeConfigs` (scrape_configs entries, through a Secret as the operator takes them)
 * beside; waits until its pod is ready and returns its HTTP API.
 */
export async function installPrometheus(cluster: RealCluster, o: { intervalSeconds: number; additionalScrapeConfigs?: readonly object[] }): Promise<PrometheusApi> {
  const { prometheus, operator } = await versions(cluster.binDir);
  const crds = path.join(cluster.binDir, 'prometheus-operator-crds');
  // server-side: the Prometheus CRD is larger than the annotation client-side apply keeps
  await cluster.kubectl(['apply', '--server-side', ...(await readdir(crds)).sort().flatMap((f) => ['-f', path.join(crds, f)])]);
  await cluster.kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/prometheuses.monitoring.coreos.com',
    'crd/servicemonitors.monitoring.coreos.com', 'crd/podmonitors.monitoring.coreos.com', 'crd/prometheusrules.monitoring.coreos.com']);

  const manifests = path.join(cluster.dir, 'monitoring.yaml');
  await writeFile(manifests, [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: MONITORING_NS } },
    ...serviceAccountWithClusterRole('prometheus-operator', OPERATOR_RULES),
    {
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'prometheus-operator', namespace: MONITORING_NS },
      spec: {
        replicas: 1, selector: { matchLabels: { app: 'prometheus-operator' } },
        template: {
          metadata: { labels: { app: 'prometheus-operator' } },
          spec: {
            serviceAccountName: 'prometheus-operator',
            securityContext: { runAsNonRoot: true, runAsUser: 65534, seccompProfile: { type: 'RuntimeDefault' } },
            containers: [{
              name: 'operator', image: `${MONITORING_IMAGES.operator}:v${operator}`, imagePullPolicy: 'Never',
              args: [`--prometheus-config-reloader=${MONITORING_IMAGES.reloader}:v${operator}`],
              ports: [{ name: 'http', containerPort: 8080 }],
              readinessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 2 },
              securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
            }],
          },
        },
      },
    },
    ...serviceAccountWithClusterRole('prometheus', PROMETHEUS_RULES),
    {
      apiVersion: 'v1', kind: 'Secret', metadata: { name: ADDITIONAL_SCRAPE_CONFIGS, namespace: MONITORING_NS },
      stringData: { 'scrape.yaml': stringify(o.additionalScrapeConfigs ?? []) },
    },
  ].map((m) => stringify(m)).join('---\n'));
  await cluster.kubectl(['apply', '-f', manifests]);
  await cluster.kubectl(['rollout', 'status', '-n', MONITORING_NS, 'deployment/prometheus-operator', '--timeout=180s']);

  // the operator's admission is not installed: the resource is created as a user would write it
  const resource = path.join(cluster.dir, 'prometheus.yaml');
  const everywhere = {};
  await writeFile(resource, stringify({
    apiVersion: 'monitoring.coreos.com/v1', kind: 'Prometheus', metadata: { name: PROMETHEUS_NAME, namespace: MONITORING_NS },
    spec: {
      version: `v${prometheus}`, image: `${MONITORING_IMAGES.prometheus}:v${prometheus}`, imagePullPolicy: 'Never', replicas: 1,
      serviceAccountName: 'prometheus', scrapeInterval: `${o.intervalSeconds}s`, evaluationInterval: `${o.intervalSeconds}s`,
      additionalScrapeConfigs: { name: ADDITIONAL_SCRAPE_CONFIGS, key: 'scrape.yaml' },
      serviceMonitorSelector: { matchLabels: SELECTOR_LABEL }, serviceMonitorNamespaceSelector: everywhere,
      podMonitorSelector: { matchLabels: SELECTOR_LABEL }, podMonitorNamespaceSelector: everywhere,
      ruleSelector: { matchLabels: SELECTOR_LABEL }, ruleNamespaceSelector: everywhere,
    },
  }));
  await cluster.kubectl(['apply', '-f', resource]);
  const pod = `prometheus-${PROMETHEUS_NAME}-0`;
  const core = cluster.controlPlane.kubeConfig.makeApiClient(CoreV1Api);
  const apps = cluster.controlPlane.kubeConfig.makeApiClient(AppsV1Api);
  await eventually(async () => (await apps.readNamespacedStatefulSet({ namespace: MONITORING_NS, name: `prometheus-${PROMETHEUS_NAME}` })
    .then((s) => s.status?.readyReplicas === 1, () => false)) ? true : undefined, `the operator's Prometheus StatefulSet to be ready`, 240_000, 1_000)
    .catch(async (err: Error) => { throw new Error(`${err.message}: ${await describe(cluster)}`); });
  const podIp = (await core.readNamespacedPod({ namespace: MONITORING_NS, name: pod })).status?.podIP ?? '';
  const bridge = await cluster.network.hostBridge(podIp, 9090);
  return prometheusApi(`http://127.0.0.1:${bridge.port}`, () => bridge.close());
}

/** What went wrong, for an error message: the monitoring namespace's pods and the operator's last log lines. */
async function describe(cluster: RealCluster): Promise<string> {
  const pods = await cluster.kubectl(['get', 'pods', '-n', MONITORING_NS, '-o', 'wide']).catch((e: Error) => e.message);
  const log = await cluster.kubectl(['logs', '-n', MONITORING_NS, 'deployment/prometheus-operator', '--tail=20']).catch((e: Error) => e.message);
  return `${pods}\n${log}`;
}

function prometheusApi(base: string, close: () => Promise<void>): PrometheusApi {
  const get = async <T>(route: string, params: Record<string, string> = {}): Promise<T> => {
    const res = await fetch(`${base}/api/v1/${route}?${new URLSearchParams(params).toString()}`, { signal: AbortSignal.timeout(10_000) });
    const body = await res.json() as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`Prometheus ${route} ${JSON.stringify(params)}: ${body.error ?? res.status}`);
    return body.data;
  };
  return {
    // a scalar (time(), vector-less arithmetic) comes back as one unlabelled sample
    query: async (expr) => toSamples(await get('query', { query: expr })),
    alerts: async () => (await get<{ alerts: ActiveAlert[] }>('alerts')).alerts,
    targets: async () => (await get<{ activeTargets: Target[] }>('targets', { state: 'active' })).activeTargets,
    labelValues: (label, match) => get<string[]>(`label/${encodeURIComponent(label)}/values`, { 'match[]': match }),
    close,
  };
}

function toSamples(data: { resultType: string; result: unknown }): Sample[] {
  if (data.resultType === 'vector') return data.result as Sample[];
  if (data.resultType === 'scalar') return [{ metric: {}, value: data.result as [number, string] }];
  throw new Error(`unexpected result type ${data.resultType}`);
}

type PolicyRule = { apiGroups?: string[]; resources?: string[]; nonResourceURLs?: string[]; verbs: string[] };

// the operator's ClusterRole as its example/rbac bundle has it, less what this test never uses
// (Alertmanager, Thanos, ingresses)
const OPERATOR_RULES: PolicyRule[] = [
  { apiGroups: ['monitoring.coreos.com'], resources: ['prometheuses', 'prometheuses/finalizers', 'prometheusagents', 'prometheusagents/finalizers'], verbs: ['patch', 'update'] },
  { apiGroups: ['monitoring.coreos.com'], resources: ['prometheuses/status', 'prometheusagents/status', 'servicemonitors/status', 'podmonitors/status', 'probes/status', 'scrapeconfigs/status', 'prometheusrules/status'], verbs: ['create', 'update', 'patch', 'delete'] },
  { apiGroups: ['monitoring.coreos.com'], resources: ['alertmanagers', 'alertmanagerconfigs', 'podmonitors', 'probes', 'prometheusagents', 'prometheuses', 'prometheusrules', 'servicemonitors', 'scrapeconfigs', 'thanosrulers'], verbs: ['get', 'list', 'watch'] },
  { apiGroups: ['apps'], resources: ['statefulsets'], verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'] },
  { apiGroups: [''], resources: ['configmaps', 'secrets'], verbs: ['get', 'list', 'watch', 'create', 'update', 'delete'] },
  { apiGroups: [''], resources: ['pods'], verbs: ['list', 'delete'] },
  { apiGroups: [''], resources: ['services', 'services/finalizers', 'endpoints'], verbs: ['get', 'create', 'update', 'delete'] },
  { apiGroups: [''], resources: ['nodes'], verbs: ['list', 'watch'] },
  { apiGroups: [''], resources: ['namespaces'], verbs: ['get', 'list', 'watch'] },
  { apiGroups: ['events.k8s.io'], resources: ['events'], verbs: ['patch', 'create'] },
  { apiGroups: ['storage.k8s.io'], resources: ['storageclasses'], verbs: ['get'] },
];

// what Prometheus' Kubernetes service discovery reads (the operator's example/rbac/prometheus)
const PROMETHEUS_RULES: PolicyRule[] = [
  { apiGroups: [''], resources: ['nodes', 'nodes/metrics', 'services', 'endpoints', 'pods'], verbs: ['get', 'list', 'watch'] },
  { apiGroups: [''], resources: ['configmaps'], verbs: ['get'] },
  { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['get', 'list', 'watch'] },
  { nonResourceURLs: ['/metrics'], verbs: ['get'] },
];

function serviceAccountWithClusterRole(name: string, rules: PolicyRule[]): object[] {
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace: MONITORING_NS } },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: `e2e-${name}` }, rules },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: `e2e-${name}` },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: `e2e-${name}` },
      subjects: [{ kind: 'ServiceAccount', name, namespace: MONITORING_NS }],
    },
  ];
}
