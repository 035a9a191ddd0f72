// The bundle registers only the @kubernetes/client-node models its API calls reach
// (scripts/prune-client-models.ts). For real objects of every kind kube-irsa reads and writes —
// fetched raw from the real API server, lists with a `continue`, watch events, a Status — the
// bundled (pruned) ObjectSerializer deserializes and serializes exactly as client-node's own.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { ObjectSerializer as FullSerializer } from '@kubernetes/client-node/dist/gen/models/ObjectSerializer.js';
import type { Metafile } from 'esbuild';
import { bundle } from '../../scripts/bundle.ts';
import { startControlPlane, type ControlPlane } from '../cluster/control-plane.ts';
import { httpsRequest } from '../cluster/https.ts';
import { KubeHelpers } from '../cluster/kube-helpers.ts';

type Serializer = Pick<typeof FullSerializer, 'serialize' | 'deserialize'>;

/** A value's structure, comparable across the two serializers' (distinct) model classes. */
function shape(value: unknown): unknown {
  if (value instanceof Date) return { date: value.getTime() };
  if (Array.isArray(value)) return value.map(shape);
  if (value !== null && typeof value === 'object') {
    return { model: Object.getPrototypeOf(value) !== Object.prototype, fields: Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shape(v)])) };
  }
  return value;
}

describe('the pruned client-node models in the bundle', () => {
  let dir: string;
  let cp: ControlPlane;
  let meta: Metafile;
  let pruned: Serializer;
  let token: string;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'kube-irsa-pruned-'));
    const app = path.join(dir, 'app');
    [meta, cp] = await Promise.all([bundle(app, { extraEntryPoints: { 'serializer-probe': 'test/support/serializer-probe.ts' } }), startControlPlane()]);
    pruned = ((await import(pathToFileURL(path.join(app, 'bin', 'serializer-probe.js')).href)) as { ObjectSerializer: Serializer }).ObjectSerializer;
    token = cp.kubeConfig.getCurrentUser()?.token ?? '';
  });
  after(async () => {
    await cp?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** The API server's JSON for `method path`, unparsed by any client. */
  async function raw(urlPath: string, method = 'GET', body?: unknown): Promise<string> {
    const res = await httpsRequest(`${cp.server}${urlPath}`, {
      method, ca: cp.ca.certPem, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return res.body;
  }

  /** Both serializers agree on `data` as `type`, both ways; returns client-node's own result. */
  function agree(data: unknown, type: string): unknown {
    const full = FullSerializer.deserialize(data, type, '') as unknown;
    const ours = pruned.deserialize(data, type, '') as unknown;
    assert.deepEqual(shape(ours), shape(full), `deserialize ${type}`);
    assert.deepEqual(pruned.serialize(ours, type, ''), FullSerializer.serialize(full, type, ''), `serialize ${type}`);
    assert.deepEqual(pruned.serialize(full, type, ''), FullSerializer.serialize(full, type, ''), `serialize client-node's ${type}`);
    return full;
  }

  test('only models reachable from the bundled API calls are bundled', () => {
    const models = new Set(Object.values(meta.outputs).flatMap((o) => Object.entries(o.inputs))
      .filter(([input, { bytesInOutput }]) => bytesInOutput > 0 && /client-node\/dist\/gen\/models\/\w+\.js$/.test(input)).map(([input]) => path.basename(input, '.js')));
    for (const kept of ['V1ServiceAccount', 'V1PodList', 'V1ConfigMap', 'V1Secret', 'CoreV1Event', 'AuthenticationV1TokenRequest', 'V1Status', 'V1ListMeta', 'V1ObjectMeta']) assert.ok(models.has(kept), kept);
    for (const dropped of ['V1Deployment', 'V1CustomResourceDefinition', 'V1ClusterRole', 'V1Ingress']) assert.ok(!models.has(dropped), dropped);
    assert.ok(models.size < 400, `${models.size} models bundled`);
  });

  test('real objects kube-irsa reads and writes (de)serialize as with client-node\'s own serializer', async () => {
    const kube = new KubeHelpers(cp.kubeConfig);
    const ns = await kube.createNamespace('pruned');
    await kube.createServiceAccount(ns, 'app', { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::111122223333:role/pruned' });
    await kube.createServiceAccount(ns, 'other');
    const pod = await kube.createPod(ns, 'web', {
      serviceAccountName: 'app',
      containers: [{
        name: 'app', image: 'app:1', env: [{ name: 'A', value: '1' }, { name: 'NODE', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } }],
        ports: [{ name: 'http', containerPort: 8080 }],
        resources: { limits: { memory: '64Mi', cpu: '250m' }, requests: { memory: '32Mi' } },
        livenessProbe: { httpGet: { path: '/healthz', port: 'http' } }, readinessProbe: { tcpSocket: { port: 8080 } },
        volumeMounts: [{ name: 'aws-iam-token', mountPath: '/var/run/secrets/eks.amazonaws.com/serviceaccount', readOnly: true }],
      }],
      volumes: [{ name: 'aws-iam-token', projected: { sources: [{ serviceAccountToken: { audience: 'sts.amazonaws.com', expirationSeconds: 86400, path: 'token' } }] } }],
      tolerations: [{ key: 'k', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 30 }],
    }, { labels: { app: 'web' }, annotations: { note: 'x' } });
    await raw(`/api/v1/namespaces/${ns}/configmaps`, 'POST', { metadata: { name: 'mapping' }, data: { 'config.yaml': 'a: 1\n' }, binaryData: { b: 'AAE=' } });
    await raw(`/api/v1/namespaces/${ns}/secrets`, 'POST', { metadata: { name: 's' }, type: 'Opaque', stringData: { key: 'value' } });
    const now = new Date();
    await raw(`/api/v1/namespaces/${ns}/events`, 'POST', {
      metadata: { name: 'web.1' }, involvedObject: { kind: 'Pod', namespace: ns, name: 'web', uid: pod.metadata?.uid, apiVersion: 'v1' },
      reason: 'CredentialsHealthy', message: 'm', type: 'Normal', count: 2, firstTimestamp: now.toISOString(), lastTimestamp: now.toISOString(), source: { component: 'kube-irsa-agent', host: 'n1' },
    });
    await raw(`/api/v1/namespaces/${ns}/events`, 'POST', {
      metadata: { name: 'web.2' }, involvedObject: { kind: 'Pod', namespace: ns, name: 'web', apiVersion: 'v1' }, reason: 'R', message: 'm', type: 'Warning',
      eventTime: '2026-01-02T03:04:05.123456Z', action: 'Probe', reportingComponent: 'kube-irsa-agent', reportingInstance: 'n1', series: { count: 3, lastObservedTime: '2026-01-02T03:05:05.000000Z' },
    });

    const cases: Array<[string, string]> = [
      [`/api/v1/namespaces/${ns}/serviceaccounts/app`, 'V1ServiceAccount'],
      [`/api/v1/serviceaccounts?limit=1`, 'V1ServiceAccountList'],
      [`/api/v1/namespaces/${ns}/pods/web`, 'V1Pod'],
      [`/api/v1/pods`, 'V1PodList'],
      [`/api/v1/namespaces/${ns}/configmaps/mapping`, 'V1ConfigMap'],
      [`/api/v1/namespaces/${ns}/configmaps`, 'V1ConfigMapList'],
      [`/api/v1/namespaces/${ns}/secrets/s`, 'V1Secret'],
      [`/api/v1/namespaces/${ns}/events/web.1`, 'CoreV1Event'],
      [`/api/v1/namespaces/${ns}/events`, 'CoreV1EventList'],
      [`/api/v1/namespaces/${ns}/configmaps/absent`, 'V1Status'],
    ];
    const results = new Map<string, unknown>();
    for (const [urlPath, type] of cases) results.set(type, agree(JSON.parse(await raw(urlPath)), type));

    // what the comparison covers holds in client-node's own results
    const saList = results.get('V1ServiceAccountList') as { metadata: { _continue?: string } };
    assert.ok(saList.metadata._continue, 'a limited list carries `continue` as _continue');
    const sa = results.get('V1ServiceAccount') as { metadata: { creationTimestamp: unknown; managedFields: Array<{ time: unknown }> } };
    assert.ok(sa.metadata.creationTimestamp instanceof Date && sa.metadata.managedFields[0]?.time instanceof Date);
    const events = (results.get('CoreV1EventList') as { items: Array<{ lastTimestamp?: unknown; eventTime?: unknown; series?: unknown }> }).items;
    assert.ok(events.some((e) => e.lastTimestamp instanceof Date) && events.some((e) => e.eventTime !== undefined && e.series !== undefined));
    const container = (results.get('V1Pod') as { spec: { containers: Array<{ resources: { limits: Record<string, string> }; livenessProbe: { httpGet: { port: unknown } } }> } }).spec.containers[0];
    assert.equal(container?.resources.limits.memory, '64Mi');
    assert.equal(container?.livenessProbe.httpGet.port, 'http');
    assert.equal((results.get('V1Status') as { code: number }).code, 404);

    // writes: a TokenRequest (its token never printed), a Status from a delete
    const tokenRequest = JSON.parse(await raw(`/api/v1/namespaces/${ns}/serviceaccounts/app/token`, 'POST', {
      spec: { audiences: ['sts.amazonaws.com'], expirationSeconds: 3600, boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: 'web', uid: pod.metadata?.uid } },
    })) as { status: { token: string; expirationTimestamp: string } };
    assert.ok(tokenRequest.status.token.length > 0);
    tokenRequest.status.token = 'redacted';
    const issued = agree(tokenRequest, 'AuthenticationV1TokenRequest') as { status: { expirationTimestamp: unknown } };
    assert.ok(issued.status.expirationTimestamp instanceof Date);
    agree(JSON.parse(await raw(`/api/v1/namespaces/${ns}/configmaps/mapping`, 'DELETE')), 'V1Status');

    // a watch's objects (the server ends the watch after a second)
    const lines = (await raw(`/api/v1/namespaces/${ns}/pods?watch=1&resourceVersion=0&timeoutSeconds=1`)).split('\n').filter(Boolean);
    assert.ok(lines.length > 0, 'the watch sent the Pod');
    for (const line of lines) agree((JSON.parse(line) as { object: unknown }).object, 'V1Pod');
  });
});
