// The webhook as a cluster admin runs it: called by the real API server over TLS for pods created
// through the API, fed by real ServiceAccounts, the mapping ConfigMap and the container-credentials
// file, surviving certificate rotation under load.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AdmissionregistrationV1Api, type V1Pod } from '@kubernetes/client-node';
import { startControlPlane, type ControlPlane } from '../cluster/control-plane.ts';
import { httpsRequest } from '../cluster/https.ts';
import { eventually, KubeHelpers, uniqueName } from '../cluster/kube-helpers.ts';
import { issueCertificate } from '../cluster/pki.ts';
import { findSecrets } from '../support/log-capture.ts';
import { startWebhookHarness, TEST_NAMESPACE_LABEL, waitForMutation, type WebhookHarness } from '../support/webhook-harness.ts';

const ROLE = (n: string) => `arn:aws:iam::111122223333:role/${n}`;
const envOf = (pod: V1Pod, container = 0) => Object.fromEntries((pod.spec?.containers[container]?.env ?? []).map((e) => [e.name, e.value]));

describe('webhook through the real API server', () => {
  let cp: ControlPlane;
  let kube: KubeHelpers;
  let hook: WebhookHarness;
  let ns: string;
  let mappingNs: string;
  let ccFile: string;

  before(async () => {
    cp = await startControlPlane();
    kube = new KubeHelpers(cp.kubeConfig);
    mappingNs = await kube.createNamespace('irsa-system');
    ccFile = path.join(cp.dir, 'pod-identity-associations.json');
    await writeFile(ccFile, JSON.stringify({ identities: [] }));
    hook = await startWebhookHarness(cp, [
      '--aws-default-region=us-west-2', '--watch-config-map', `--namespace=${mappingNs}`,
      `--watch-container-credentials-config=${ccFile}`,
    ]);
    await hook.register({
      name: 'a-kube-irsa',
      rules: [{ operations: ['CREATE', 'UPDATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods', 'configmaps'] }],
    });
    ns = await kube.createNamespace('app', { [TEST_NAMESPACE_LABEL]: 'on' });
    await kube.createServiceAccount(ns, 'app', { 'eks.amazonaws.com/role-arn': ROLE('app'), 'eks.amazonaws.com/sts-regional-endpoints': 'true' });
    await waitForMutation(kube, ns, 'app');
  });
  after(async () => {
    await hook?.stop();
    await cp?.stop();
  });

  test('a pod of an annotated ServiceAccount gets env, volume, mount and the injected annotation', async () => {
    const pod = await kube.createPod(ns, 'web-0', { serviceAccountName: 'app' });
    const stored = await kube.core.readNamespacedPod({ namespace: ns, name: 'web-0' });
    for (const p of [pod, stored]) {
      assert.deepEqual(envOf(p), {
        AWS_STS_REGIONAL_ENDPOINTS: 'regional', AWS_DEFAULT_REGION: 'us-west-2', AWS_REGION: 'us-west-2',
        AWS_ROLE_ARN: ROLE('app'), AWS_WEB_IDENTITY_TOKEN_FILE: '/var/run/secrets/eks.amazonaws.com/serviceaccount/token',
      });
    }
    const volume = stored.spec?.volumes?.find((v) => v.name === 'aws-iam-token');
    assert.deepEqual({ ...volume?.projected?.sources?.[0]?.serviceAccountToken }, { audience: 'sts.amazonaws.com', expirationSeconds: 86400, path: 'token' });
    assert.ok(stored.spec?.containers[0]?.volumeMounts?.some((m) => m.name === 'aws-iam-token' && m.readOnly && m.mountPath === '/var/run/secrets/eks.amazonaws.com/serviceaccount'));
    assert.deepEqual(JSON.parse(stored.metadata?.annotations?.['kube-irsa.io/injected'] ?? '{}'), { mode: 'web-identity', roleArn: ROLE('app'), audience: 'sts.amazonaws.com', source: 'service-account' });
  });

  test('a ServiceAccount created immediately before its pod is honoured', async () => {
    for (let i = 0; i < 5; i++) {
      const sa = `fresh-${i}`;
      await kube.createServiceAccount(ns, sa, { 'eks.amazonaws.com/role-arn': ROLE(sa) });
      const pod = await kube.createPod(ns, `fresh-pod-${i}`, { serviceAccountName: sa });
      assert.equal(envOf(pod).AWS_ROLE_ARN, ROLE(sa), `pod ${i} got its role`);
    }
    const metrics = await (await fetch(`http://127.0.0.1:${hook.webhook.metricsPort}/metrics`)).text();
    assert.match(metrics, /kube_irsa_webhook_serviceaccount_lookups_total\{result="hit"\} [1-9]/);
  });

  test('the mapping ConfigMap maps ServiceAccounts, with namespace globs', async () => {
    const teamNs = await kube.createNamespace('team-x', { [TEST_NAMESPACE_LABEL]: 'on' });
    await kube.createServiceAccount(ns, 'mapped');
    await kube.createServiceAccount(teamNs, 'worker');
    await kube.core.createNamespacedConfigMap({
      namespace: mappingNs,
      body: {
        metadata: { name: 'pod-identity-webhook' },
        data: { config: JSON.stringify({ [`${ns}/mapped`]: { RoleARN: ROLE('mapped'), UseRegionalSTS: false }, 'team-x-*/worker': { RoleARN: ROLE('team-worker'), TokenExpiration: 3600 } }) },
      },
    });
    const pod = await eventually(async () => {
      const p = await kube.createPod(ns, uniqueName('mapped'), { serviceAccountName: 'mapped' }, {}, true);
      return envOf(p).AWS_ROLE_ARN ? p : undefined;
    }, 'the ConfigMap to be picked up');
    assert.equal(envOf(pod).AWS_ROLE_ARN, ROLE('mapped'));
    assert.equal(envOf(pod).AWS_STS_REGIONAL_ENDPOINTS, undefined);
    const worker = await kube.createPod(teamNs, 'worker-0', { serviceAccountName: 'worker' });
    assert.equal(envOf(worker).AWS_ROLE_ARN, ROLE('team-worker'));
    assert.equal(worker.spec?.volumes?.find((v) => v.name === 'aws-iam-token')?.projected?.sources?.[0]?.serviceAccountToken?.expirationSeconds, 3600);
  });

  test('a broken mapping ConfigMap keeps the previous mapping', async () => {
    await eventually(async () => (envOf(await kube.createPod(ns, uniqueName('m'), { serviceAccountName: 'mapped' }, {}, true)).AWS_ROLE_ARN ? true : undefined), 'the mapping');
    await kube.core.patchNamespacedConfigMap({ namespace: mappingNs, name: 'pod-identity-webhook', body: [{ op: 'replace', path: '/data/config', value: '{"no-slash": {"RoleARN": "x"}}' }] });
    await eventually(() => (hook.logs.find('mapping ConfigMap rejected; keeping the previous mapping').length > 0 ? true : undefined), 'the rejection to be logged');
    const pod = await kube.createPod(ns, uniqueName('mapped'), { serviceAccountName: 'mapped' }, {}, true);
    assert.equal(envOf(pod).AWS_ROLE_ARN, ROLE('mapped'));
  });

  test('container-credentials mode from the association file', async () => {
    await kube.createServiceAccount(ns, 'pod-identity');
    await writeFile(ccFile, JSON.stringify({ identities: [{ namespace: ns, serviceAccount: 'pod-identity' }] }));
    const pod = await eventually(async () => {
      const p = await kube.createPod(ns, uniqueName('cc'), { serviceAccountName: 'pod-identity' }, {}, true);
      return envOf(p).AWS_CONTAINER_CREDENTIALS_FULL_URI ? p : undefined;
    }, 'the association file to be reloaded');
    assert.equal(envOf(pod).AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE, '/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token');
    assert.equal(pod.metadata?.labels?.['eks.amazonaws.com/pod-identity'], 'enabled');
    const exp = pod.spec?.volumes?.find((v) => v.name === 'eks-pod-identity-token')?.projected?.sources?.[0]?.serviceAccountToken?.expirationSeconds;
    assert.equal(exp, 79_200, 'the default expiration is jittered (random source fixed at 0 here)');
  });

  test('a native sidecar keeps restartPolicy: Always', async () => {
    const pod = await kube.createPod(ns, 'sidecar-0', {
      serviceAccountName: 'app',
      initContainers: [{ name: 'proxy', image: 'registry.k8s.io/pause:3.10', restartPolicy: 'Always' }],
    });
    assert.equal(pod.spec?.initContainers?.[0]?.restartPolicy, 'Always');
    assert.equal(pod.spec?.initContainers?.[0]?.env?.find((e) => e.name === 'AWS_ROLE_ARN')?.value, ROLE('app'));
  });

  test('a second webhook pass (reinvocation) changes nothing', async () => {
    // a second webhook ordered after ours changes the pod, so the API server calls ours again
    const labeler = await startLabeler(cp);
    const admission = cp.kubeConfig.makeApiClient(AdmissionregistrationV1Api);
    const name = 'z-labeler';
    await admission.createMutatingWebhookConfiguration({
      body: {
        metadata: { name },
        webhooks: [{
          name: 'labeler.kube-irsa.test', clientConfig: { url: labeler.url, caBundle: Buffer.from(cp.ca.certPem).toString('base64') },
          rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }],
          namespaceSelector: { matchLabels: { [TEST_NAMESPACE_LABEL]: 'on' } },
          admissionReviewVersions: ['v1'], sideEffects: 'None', failurePolicy: 'Fail', reinvocationPolicy: 'IfNeeded',
        }],
      },
    });
    try {
      const pod = await eventually(async () => {
        const p = await kube.createPod(ns, uniqueName('reinvoke'), { serviceAccountName: 'app' }, {}, true);
        return p.metadata?.labels?.['kube-irsa.test/labeled'] ? p : undefined;
      }, 'the labeler to take effect');
      const names = (pod.spec?.containers[0]?.env ?? []).map((e) => e.name);
      assert.deepEqual(names, [...new Set(names)], 'no variable twice');
      assert.equal(pod.spec?.volumes?.filter((v) => v.name === 'aws-iam-token').length, 1);
      assert.equal(pod.spec?.containers[0]?.volumeMounts?.filter((m) => m.name === 'aws-iam-token').length, 1);
      const metrics = await (await fetch(`http://127.0.0.1:${hook.webhook.metricsPort}/metrics`)).text();
      assert.match(metrics, /kube_irsa_webhook_admissions_total\{outcome="unchanged"\} [1-9]/, 'the reinvocation was answered with no patch');
    } finally {
      await admission.deleteMutatingWebhookConfiguration({ name });
      await labeler.close();
    }
  });

  test('UPDATE and non-pod requests pass untouched', async () => {
    await kube.createPod(ns, 'update-me', { serviceAccountName: 'app' });
    const updated = await kube.core.patchNamespacedPod({ namespace: ns, name: 'update-me', body: [{ op: 'add', path: '/metadata/labels', value: { touched: 'yes' } }] });
    assert.equal(updated.metadata?.labels?.touched, 'yes');
    assert.equal(updated.spec?.containers[0]?.env?.filter((e) => e.name === 'AWS_ROLE_ARN').length, 1);
    const cm = await kube.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'plain' }, data: { a: 'b' } } });
    assert.deepEqual(cm.data, { a: 'b' });
    assert.equal(cm.metadata?.annotations, undefined);
  });

  test('admission warnings reach the client for a malformed role ARN; the pod is still admitted', async () => {
    await kube.createServiceAccount(ns, 'bad-arn', { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::::1234567890:role/example' });
    const user = cp.kubeConfig.getCurrentUser();
    const res = await httpsRequest(`${cp.server}/api/v1/namespaces/${ns}/pods`, {
      method: 'POST', ca: cp.ca.certPem,
      headers: { authorization: `Bearer ${user?.token ?? ''}`, 'content-type': 'application/json' },
      body: JSON.stringify({ metadata: { name: 'bad-arn-0' }, spec: { serviceAccountName: 'bad-arn', containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.10' }] } }),
    });
    assert.equal(res.status, 201);
    const warning = String(res.headers.warning ?? '');
    assert.match(warning, /is not a well-formed IAM role ARN/);
  });

  test('certificate files rotated while requests flow cause no failed admission', async () => {
    let failures = 0;
    let admitted = 0;
    let stop = false;
    const load = (async () => {
      while (!stop) {
        await Promise.all(Array.from({ length: 4 }, async () => {
          try {
            const p = await kube.createPod(ns, uniqueName('load'), { serviceAccountName: 'app' }, {}, true);
            if (envOf(p).AWS_ROLE_ARN === ROLE('app')) admitted++;
            else failures++;
          } catch {
            failures++;
          }
        }));
      }
    })();
    for (let i = 0; i < 4; i++) {
      await hook.rotateCertificate();
      await eventually(() => (hook.logs.find('serving certificate reloaded').length > i ? true : undefined), `reload ${i + 1}`, 15_000);
    }
    // admissions keep flowing after the last swap before the load stops
    const afterLast = admitted + failures;
    await eventually(() => (admitted + failures >= afterLast + 10 ? true : undefined), 'admissions after the last rotation', 15_000, 20);
    stop = true;
    await load;
    assert.equal(failures, 0, `${failures} failed admissions out of ${admitted + failures}`);
    assert.ok(admitted > 20, `requests flowed during the rotation (${admitted})`);
  });

  test('no token or credential appears in the webhook\'s logs', () => {
    assert.deepEqual(findSecrets(hook.logs.text()), []);
    assert.ok(hook.logs.find('pod mutated').length > 0);
  });
});

async function startLabeler(cp: ControlPlane): Promise<{ url: string; close(): Promise<void> }> {
  const cert = await issueCertificate(cp.ca, cp.dir, { name: `labeler-${randomBytes(3).toString('hex')}`, commonName: '127.0.0.1', ips: ['127.0.0.1'] });
  const server = https.createServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const review = JSON.parse(Buffer.concat(chunks).toString()) as { request: { uid: string; object: { metadata: { labels?: Record<string, string> } } } };
      const patch = review.request.object.metadata.labels
        ? [{ op: 'add', path: '/metadata/labels/kube-irsa.test~1labeled', value: 'yes' }]
        : [{ op: 'add', path: '/metadata/labels', value: { 'kube-irsa.test/labeled': 'yes' } }];
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: review.request.uid, allowed: true, patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(patch)).toString('base64') } }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}/label`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
