// The Helm chart: lint, render every TLS and token mode, apply each rendering to the real API
// server (CRDs for real, the rest as a server-side dry run; the monitors and rules also against the
// Prometheus Operator's real CRDs, strictly), check every container's security
// context, the values schema's messages, least-privilege RBAC (kubectl auth can-i --list against
// the expected lists in test/fixtures/rbac), and the admission policy on the agent's TokenRequests.
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { KubernetesObjectApi, type KubernetesObject, type V1PodSpec } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { ensureBinaries } from '../cluster/binaries.ts';
import { startControlPlane, type ControlPlane } from '../cluster/control-plane.ts';
import { eventually, KubeHelpers } from '../cluster/kube-helpers.ts';
import { applyManifestFile } from '../cluster/manifests.ts';

const run = promisify(execFile);
const ROOT = path.join(import.meta.dirname, '..', '..');
const CHART = path.join(ROOT, 'deploy', 'kube-irsa');
const FIXTURES = path.join(ROOT, 'test', 'fixtures');

const VARIANTS: Record<string, string[]> = {
  default: [],
  'tls-cert-manager': ['--set', 'tls.mode=certManager'],
  'tls-existing-secret': ['--set', 'tls.mode=existingSecret', '--set', 'tls.existingSecret.name=my-tls', '--set', 'tls.existingSecret.caBundle=Zm9v'],
  'token-kubelet': ['--set', 'agent.tokenSource=kubelet'],
  'agent-iam': ['--set', 'agent.iamRoleArn=arn:aws:iam::111122223333:role/kube-irsa-agent', '--set', 'agent.iamReads.cacheTTL=10m',
    '--set-json', 'agent.serviceAccount.annotations={"team":"platform"}'],
  everything: ['--set', 'metrics.serviceMonitor.enabled=true', '--set', 'metrics.prometheusRule.enabled=true', '--set', 'metrics.grafanaDashboard.enabled=true',
    '--set', 'networkPolicy.enabled=true', '--set-json', 'identity.mappings={"team-*/app":{"RoleARN":"arn:aws:iam::111122223333:role/app"}}',
    '--set-json', 'webhook.containerCredentials.identities=[{"namespace":"a","serviceAccount":"b"}]', '--set', 'agent.systemNodeCritical=true'],
};

describe('Helm chart', () => {
  let cp: ControlPlane;
  let bin: string;
  const rendered = new Map<string, KubernetesObject[]>();
  const helm = (...args: string[]) => run(path.join(bin, 'helm'), args, { maxBuffer: 32 << 20 });
  const render = async (release: string, namespace: string, extra: string[]) =>
    parseAllDocuments((await helm('template', release, CHART, '-n', namespace, '--kube-version', '1.37.2', ...extra)).stdout)
      .map((d) => d.toJS() as KubernetesObject | null).filter((o): o is KubernetesObject => o !== null);

  before(async () => {
    bin = await ensureBinaries(['kube-apiserver', 'etcd', 'helm', 'kubectl', 'prometheus-operator-crds']);
    cp = await startControlPlane();
    await applyManifestFile(cp.kubeConfig, path.join(CHART, 'crds', 'irsachecks.kube-irsa.io.yaml'));
    await applyManifestFile(cp.kubeConfig, path.join(FIXTURES, 'crds', 'operator-stubs.yaml'));
    // the Prometheus Operator's real CRDs: their schemas check the chart's monitors and rules
    for (const kind of ['servicemonitors', 'podmonitors', 'prometheusrules']) {
      await applyManifestFile(cp.kubeConfig, path.join(bin, 'prometheus-operator-crds', `monitoring.coreos.com_${kind}.yaml`));
    }
    for (const [name, args] of Object.entries(VARIANTS)) rendered.set(name, await render('rel', 'kube-irsa', args));
  });
  after(async () => {
    await cp?.stop();
  });

  test('helm lint passes for every variant', async () => {
    for (const args of Object.values(VARIANTS)) {
      const { stdout } = await helm('lint', CHART, '--kube-version', '1.37.2', ...args);
      assert.match(stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
    }
  });

  test('every rendering is accepted by the real API server (server-side dry run)', async () => {
    const kube = new KubeHelpers(cp.kubeConfig);
    await kube.core.createNamespace({ body: { metadata: { name: 'kube-irsa' } } });
    const client = KubernetesObjectApi.makeApiClient(cp.kubeConfig);
    for (const [variant, objects] of rendered) {
      for (const obj of objects) {
        try {
          await client.create(obj, undefined, 'All');
        } catch (err) {
          assert.fail(`${variant}: ${obj.kind}/${obj.metadata?.name} was refused: ${(err as { body?: string }).body ?? (err as Error).message}`);
        }
      }
    }
  });

  test('the ServiceMonitor, PodMonitor and PrometheusRule pass the Prometheus Operator\'s real CRD schemas (strict field validation)', async () => {
    const ns = 'monitoring-schemas';
    await new KubeHelpers(cp.kubeConfig).core.createNamespace({ body: { metadata: { name: ns } } });
    const monitoring = rendered.get('everything')!.filter((o) => o.apiVersion === 'monitoring.coreos.com/v1')
      .map((o) => ({ ...o, metadata: { ...o.metadata, namespace: ns } }));
    assert.deepEqual(monitoring.map((o) => o.kind).sort(), ['PodMonitor', 'PrometheusRule', 'ServiceMonitor']);
    const strictDryRun = (objects: readonly KubernetesObject[]) => spawnSync(path.join(bin, 'kubectl'),
      ['--kubeconfig', cp.kubeconfigPath, 'create', '--dry-run=server', '--validate=strict', '-f', '-', '-o', 'name'],
      { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }), encoding: 'utf8' });
    const accepted = strictDryRun(monitoring);
    assert.equal(accepted.status, 0, accepted.stderr);
    assert.equal(accepted.stdout.trim().split('\n').length, 3, accepted.stdout);
    // the check has teeth: a misspelt field of the operator's schema is refused
    const misspelt = monitoring.map((o) => o.kind === 'ServiceMonitor'
      ? { ...o, spec: { ...(o as { spec?: object }).spec, endpoints: [{ port: 'metrics', intervall: '5s' }] } } : o);
    const refused = strictDryRun(misspelt);
    assert.notEqual(refused.status, 0);
    assert.match(refused.stderr, /unknown field "intervall"/);
    assert.doesNotMatch(refused.stderr, /missing required field/);
  });

  test('the default rendering has the parts a cluster admin expects', () => {
    const objs = rendered.get('default')!;
    const kinds = objs.map((o) => o.kind).sort();
    for (const k of ['Deployment', 'DaemonSet', 'Service', 'PodDisruptionBudget', 'MutatingWebhookConfiguration', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding', 'Secret']) assert.ok(kinds.includes(k), k);
    const mwc = objs.find((o) => o.kind === 'MutatingWebhookConfiguration') as unknown as { webhooks: Array<Record<string, unknown> & { failurePolicy: string; objectSelector: { matchExpressions: Array<{ key: string; operator: string; values?: string[] }> }; namespaceSelector: { matchExpressions: Array<{ values: string[] }> } }> };
    assert.deepEqual(mwc.webhooks.map((w) => w.failurePolicy), ['Ignore', 'Fail']);
    for (const w of mwc.webhooks) {
      assert.equal(w.reinvocationPolicy, 'IfNeeded');
      assert.equal(w.sideEffects, 'None');
      assert.deepEqual(w.admissionReviewVersions, ['v1', 'v1beta1']);
      assert.ok((w.timeoutSeconds as number) <= 10);
      assert.deepEqual(w.namespaceSelector.matchExpressions[0]!.values, ['kube-system', 'kube-irsa']);
      assert.ok(w.objectSelector.matchExpressions.some((e) => e.key === 'eks.amazonaws.com/skip-pod-identity-webhook' && e.operator === 'DoesNotExist'));
    }
    assert.deepEqual(mwc.webhooks[1]!.objectSelector.matchExpressions[1], { key: 'kube-irsa.io/require-identity', operator: 'In', values: ['true'] }, 'Fail applies only to opted-in pods');
    const ds = objs.find((o) => o.kind === 'DaemonSet') as unknown as { spec: { updateStrategy: { rollingUpdate: { maxUnavailable: string } }; template: { spec: V1PodSpec } } };
    assert.equal(ds.spec.updateStrategy.rollingUpdate.maxUnavailable, '10%');
    assert.deepEqual(ds.spec.template.spec.tolerations, [{ operator: 'Exists' }]);
    assert.equal(ds.spec.template.spec.containers[0]!.env?.find((e) => e.name === 'NODE_NAME')?.valueFrom?.fieldRef?.fieldPath, 'spec.nodeName');
    assert.equal(ds.spec.template.spec.volumes, undefined, 'no host path in token-request mode');
    const kubelet = rendered.get('token-kubelet')!.find((o) => o.kind === 'DaemonSet') as unknown as { spec: { template: { spec: V1PodSpec } } };
    assert.equal(kubelet.spec.template.spec.volumes?.[0]?.hostPath?.path, '/var/lib/kubelet/pods');
    assert.deepEqual(kubelet.spec.template.spec.containers[0]!.volumeMounts?.[0], { name: 'kubelet-pods', mountPath: '/host/kubelet/pods', readOnly: true, mountPropagation: 'HostToContainer' });
    assert.equal(rendered.get('token-kubelet')!.some((o) => o.kind === 'ValidatingAdmissionPolicy'), false, 'no TokenRequest policy when the agent cannot mint');
    const certManager = rendered.get('tls-cert-manager')!;
    assert.ok(certManager.some((o) => o.kind === 'Certificate'));
    assert.match(JSON.stringify(certManager.find((o) => o.kind === 'MutatingWebhookConfiguration')?.metadata?.annotations), /cert-manager\.io\/inject-ca-from/);
    const everything = rendered.get('everything')!.map((o) => o.kind);
    for (const k of ['ServiceMonitor', 'PodMonitor', 'PrometheusRule', 'NetworkPolicy', 'ConfigMap']) assert.ok(everything.includes(k), k);
  });

  test('agent.iamRoleArn: the agent\'s ServiceAccount annotated, its own web-identity token and variables (its pods skip the webhook), IAM reads on', () => {
    const objs = rendered.get('agent-iam')!;
    const sa = objs.find((o) => o.kind === 'ServiceAccount' && o.metadata?.name?.endsWith('-agent'));
    assert.deepEqual(sa?.metadata?.annotations, { team: 'platform', 'eks.amazonaws.com/role-arn': 'arn:aws:iam::111122223333:role/kube-irsa-agent' });
    const ds = objs.find((o) => o.kind === 'DaemonSet') as unknown as { spec: { template: { metadata: { labels: Record<string, string> }; spec: V1PodSpec } } };
    const pod = ds.spec.template.spec;
    const c = pod.containers[0]!;
    assert.equal(ds.spec.template.metadata.labels['eks.amazonaws.com/skip-pod-identity-webhook'], 'true');
    assert.ok(c.args?.includes('--iam-reads') && c.args.includes('--iam-cache-ttl=10m'), String(c.args));
    const env = Object.fromEntries((c.env ?? []).filter((e) => e.value !== undefined).map((e) => [e.name, e.value]));
    assert.deepEqual(env, { AWS_ROLE_ARN: 'arn:aws:iam::111122223333:role/kube-irsa-agent', AWS_WEB_IDENTITY_TOKEN_FILE: '/var/run/secrets/eks.amazonaws.com/serviceaccount/token', AWS_REGION: 'us-east-1', AWS_STS_REGIONAL_ENDPOINTS: 'regional' });
    assert.deepEqual(pod.volumes?.map((v) => v.name), ['aws-iam-token']);
    assert.deepEqual(pod.volumes?.[0]?.projected?.sources?.[0]?.serviceAccountToken, { audience: 'sts.amazonaws.com', expirationSeconds: 86400, path: 'token' });
    assert.deepEqual(c.volumeMounts?.map((m) => m.mountPath), ['/var/run/secrets/eks.amazonaws.com/serviceaccount']);
    const plain = (rendered.get('default')!.find((o) => o.kind === 'DaemonSet') as unknown as { spec: { template: { spec: V1PodSpec } } }).spec.template.spec.containers[0]!;
    assert.ok(!plain.args?.some((a) => a.startsWith('--iam')), 'IAM reads are off by default');
  });

  test('every container is non-root, read-only, without capabilities, with RuntimeDefault seccomp (kubelet mode: the documented exception)', () => {
    for (const [variant, objects] of rendered) {
      for (const o of objects.filter((x) => x.kind === 'Deployment' || x.kind === 'DaemonSet')) {
        const spec = (o as unknown as { spec: { template: { spec: V1PodSpec } } }).spec.template.spec;
        for (const c of spec.containers) {
          const sc = c.securityContext!;
          const where = `${variant} ${o.kind} ${c.name}`;
          assert.equal(sc.readOnlyRootFilesystem, true, where);
          assert.equal(sc.allowPrivilegeEscalation, false, where);
          assert.deepEqual(sc.capabilities?.drop, ['ALL'], where);
          assert.equal(sc.seccompProfile?.type, 'RuntimeDefault', where);
          assert.equal(sc.privileged, undefined, where);
          if (variant === 'token-kubelet' && o.kind === 'DaemonSet') {
            assert.deepEqual(sc.capabilities?.add, ['DAC_READ_SEARCH'], `${where}: only read and traverse`);
          } else {
            assert.equal(sc.runAsNonRoot, true, where);
            assert.equal(sc.capabilities?.add, undefined, where);
          }
        }
      }
    }
  });

  test('values.schema.json rejects wrong values with a clear message', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--set', 'tls.mode=letsencrypt'], /at '\/tls\/mode': value must be one of 'certManager', 'selfSigned', 'existingSecret'/],
      [['--set', 'tls.mode=existingSecret'], /at '\/tls\/existingSecret\/name': minLength/],
      [['--set', 'agent.tokenSource=file'], /at '\/agent\/tokenSource'/],
      [['--set', 'webhook.replicaCount=0'], /at '\/webhook\/replicaCount': minimum/],
      [['--set', 'identity.tokenExpiration=60'], /at '\/identity\/tokenExpiration': minimum/],
      [['--set', 'agent.recheckInterval=soon'], /at '\/agent\/recheckInterval'/],
      [['--set', 'agent.iamRoleArn=payments'], /at '\/agent\/iamRoleArn'/],
      [['--set', 'webhook.typo=1'], /additional properties 'typo' not allowed/],
      [['--set', 'metrics.prometheusRule.for.KubeIrsaWebhookDown=1.5m'], /at '\/metrics\/prometheusRule\/for\/KubeIrsaWebhookDown': '1\.5m' does not match pattern/],
      [['--set', 'metrics.prometheusRule.for.KubeIrsaWebhookGone=5m'], /additional properties 'KubeIrsaWebhookGone' not allowed/],
      [['--set-json', 'identity.mappings={"no-slash":{"RoleARN":"x"}}'], /identity\/mappings/],
    ];
    for (const [args, message] of cases) {
      await assert.rejects(helm('template', 'rel', CHART, '--kube-version', '1.37.2', ...args), (err: { stderr?: string }) => {
        assert.match(err.stderr ?? '', message, args.join(' '));
        return true;
      });
    }
  });

  describe('least-privilege RBAC', () => {
    const modes: Array<[string, string[], string]> = [
      ['webhook', [], 'webhook'],
      ['agent-token-request', [], 'agent'],
      ['agent-kubelet', ['--set', 'agent.tokenSource=kubelet'], 'agent'],
      ['agent-env-from-secrets', ['--set', 'agent.envFromSecrets=true'], 'agent'],
      ['webhook-mappings', ['--set-json', 'identity.mappings={"a/b":{"RoleARN":"arn:aws:iam::111122223333:role/x"}}'], 'webhook'],
    ];
    for (const [name, args, component] of modes) {
      test(`${name}: kubectl auth can-i --list matches test/fixtures/rbac/${name}.txt`, async () => {
        const ns = `rbac-${name}`;
        const kube = new KubeHelpers(cp.kubeConfig);
        await kube.core.createNamespace({ body: { metadata: { name: ns } } });
        const client = KubernetesObjectApi.makeApiClient(cp.kubeConfig);
        const objects = await render(name, ns, args);
        for (const obj of objects.filter((o) => ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding'].includes(o.kind ?? ''))) await client.create(obj);
        const sa = `${name}-kube-irsa-${component}`;
        const listFor = async (namespace: string) => (await run(path.join(bin, 'kubectl'), ['--kubeconfig', cp.kubeconfigPath, 'auth', 'can-i', '--list', '-n', namespace, `--as=system:serviceaccount:${ns}:${sa}`])).stdout;
        // RBAC is eventually consistent: wait until the rules show
        const actual = await eventually(async () => {
          const out = `# in the release namespace\n${normalise(await listFor(ns))}# in any other namespace\n${normalise(await listFor('default'))}`;
          return out.includes(component === 'agent' ? 'pods' : 'serviceaccounts') ? out : undefined;
        }, 'RBAC to apply');
        const file = path.join(FIXTURES, 'rbac', `${name}.txt`);
        // golden files: KUBE_IRSA_UPDATE_FIXTURES=1 rewrites them; review the diff before committing
        if (process.env.KUBE_IRSA_UPDATE_FIXTURES === '1') await writeFile(file, actual);
        assert.equal(actual, await readFile(file, 'utf8'));
      });
    }
  });

  test('the agent in token-request mode cannot mint a token for the API server (ValidatingAdmissionPolicy)', async () => {
    const ns = 'vap';
    const kube = new KubeHelpers(cp.kubeConfig);
    await kube.core.createNamespace({ body: { metadata: { name: ns } } });
    const client = KubernetesObjectApi.makeApiClient(cp.kubeConfig);
    const objects = await render('vap', ns, []);
    for (const obj of objects.filter((o) => ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding'].includes(o.kind ?? ''))) await client.create(obj);
    const app = await kube.createNamespace('workload');
    await kube.createServiceAccount(app, 'app');
    const pod = await kube.createPod(app, 'app-0', { serviceAccountName: 'app' });
    const asAgent = new KubeHelpers(cp.impersonating(`system:serviceaccount:${ns}:vap-kube-irsa-agent`));
    const mint = (spec: Record<string, unknown>) => asAgent.core.createNamespacedServiceAccountToken({ namespace: app, name: 'app', body: { spec } });
    const bound = { apiVersion: 'v1', kind: 'Pod', name: 'app-0', uid: pod.metadata!.uid! };
    // the policy is picked up asynchronously: wait for the first refusal
    await eventually(async () => {
      try {
        await mint({ audiences: [cp.issuer], boundObjectRef: bound });
        return undefined;
      } catch (err) {
        return (err as { code?: number }).code === 422 || (err as { code?: number }).code === 403 ? true : undefined;
      }
    }, 'the admission policy to take effect');
    await assert.rejects(mint({ audiences: [cp.issuer], boundObjectRef: bound }), (err: { body?: string }) => /may only mint tokens for sts\.amazonaws\.com/.test(err.body ?? ''));
    await assert.rejects(mint({ audiences: ['sts.amazonaws.com'] }), (err: { body?: string }) => /may only mint tokens bound to a Pod/.test(err.body ?? ''));
    await assert.rejects(mint({ audiences: ['sts.amazonaws.com'], boundObjectRef: bound, expirationSeconds: 86400 }), (err: { body?: string }) => /short-lived/.test(err.body ?? ''));
    const ok = await mint({ audiences: ['sts.amazonaws.com'], boundObjectRef: bound, expirationSeconds: 600 });
    assert.ok(ok.status?.token, 'a pod-bound STS token is allowed');
    // the admin (and kubelets) are not affected
    assert.ok((await kube.core.createNamespacedServiceAccountToken({ namespace: app, name: 'app', body: { spec: { audiences: [cp.issuer] } } })).status?.token);
  });
});

/** kubectl's table without column alignment, so the expected files are readable and stable. */
function normalise(table: string): string {
  return table.trim().split('\n').slice(1).map((l) => l.trim().split(/\s{2,}/).join(' | ')).sort().join('\n') + '\n';
}
