// The test control plane itself: a real kube-apiserver that mints verifiable service-account tokens,
// serves OIDC discovery anonymously, calls admission webhooks over TLS, and leaves nothing behind.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { AdmissionregistrationV1Api } from '@kubernetes/client-node';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import { startControlPlane, type ControlPlane } from '../cluster/control-plane.ts';
import { httpsRequest } from '../cluster/https.ts';
import { eventually, KubeHelpers, uniqueName } from '../cluster/kube-helpers.ts';
import { issueCertificate } from '../cluster/pki.ts';
import { processesMentioning } from '../cluster/process.ts';

describe('test control plane', () => {
  let cp: ControlPlane;
  let kube: KubeHelpers;

  before(async () => {
    cp = await startControlPlane();
    kube = new KubeHelpers(cp.kubeConfig);
  });
  after(async () => {
    await cp?.stop();
  });

  test('serves the Kubernetes version it was built for', async () => {
    const res = await httpsRequest(`${cp.server}/version`, { ca: cp.ca.certPem });
    assert.equal(res.status, 200);
    assert.match((JSON.parse(res.body) as { gitVersion: string }).gitVersion, /^v1\.37\.\d+$/);
  });

  test('a pod-bound token verifies against the anonymously served OIDC discovery and JWKS', async () => {
    const ns = await kube.createNamespace('cp');
    await kube.createServiceAccount(ns, 'app');
    const pod = await kube.createPod(ns, 'app-0', { serviceAccountName: 'app' });
    const token = await kube.tokenForPod(pod, { audiences: ['sts.amazonaws.com'], expirationSeconds: 3600 });

    const discoveryRes = await httpsRequest(`${cp.issuer}/.well-known/openid-configuration`, { ca: cp.ca.certPem });
    assert.equal(discoveryRes.status, 200, 'discovery must be readable without credentials');
    const discovery = JSON.parse(discoveryRes.body) as { issuer: string; jwks_uri: string };
    assert.equal(discovery.issuer, cp.issuer);
    const jwksRes = await httpsRequest(discovery.jwks_uri, { ca: cp.ca.certPem });
    assert.equal(jwksRes.status, 200, 'JWKS must be readable without credentials');

    const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(JSON.parse(jwksRes.body) as JSONWebKeySet), {
      issuer: cp.issuer,
      audience: 'sts.amazonaws.com',
    });
    assert.equal(protectedHeader.alg, 'RS256');
    assert.equal(payload.sub, `system:serviceaccount:${ns}:app`);
    const now = Math.floor(Date.now() / 1000);
    assert.ok(payload.exp! > now + 3000 && payload.exp! <= now + 3700, `exp ${payload.exp} is about an hour ahead`);
    const k8sClaims = payload['kubernetes.io'] as { pod: { name: string; uid: string } };
    assert.equal(k8sClaims.pod.name, 'app-0');
    assert.equal(k8sClaims.pod.uid, pod.metadata?.uid);
  });

  test('a token for another audience does not verify for sts.amazonaws.com', async () => {
    const ns = await kube.createNamespace('cp');
    await kube.createServiceAccount(ns, 'app');
    const pod = await kube.createPod(ns, 'app-0', { serviceAccountName: 'app' });
    const token = await kube.tokenForPod(pod, { audiences: ['something-else'] });
    const jwks = JSON.parse((await httpsRequest(`${cp.issuer}/openid/v1/jwks`, { ca: cp.ca.certPem })).body) as JSONWebKeySet;
    await assert.rejects(jwtVerify(token, createLocalJWKSet(jwks), { issuer: cp.issuer, audience: 'sts.amazonaws.com' }), /aud/);
  });

  test('a MutatingWebhookConfiguration with url and caBundle is called on Pod CREATE over TLS', async (t) => {
    const cert = await issueCertificate(cp.ca, cp.dir, { name: uniqueName('hook'), commonName: '127.0.0.1', ips: ['127.0.0.1'] });
    let calls = 0;
    const server = https.createServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        calls++;
        const review = JSON.parse(Buffer.concat(chunks).toString()) as { request: { uid: string } };
        const patch = [{ op: 'add', path: '/metadata/labels', value: { 'kube-irsa.test/mutated': 'yes' } }];
        res.setHeader('Content-Type', 'application/json');
        res.end(JSON.stringify({
          apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview',
          response: { uid: review.request.uid, allowed: true, patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(patch)).toString('base64') },
        }));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    t.after(() => new Promise<void>((r) => server.close(() => r())));
    const port = (server.address() as AddressInfo).port;

    const ns = await kube.createNamespace('hook', { 'kube-irsa.test/hook': 'on' });
    const admission = cp.kubeConfig.makeApiClient(AdmissionregistrationV1Api);
    const configName = uniqueName('kube-irsa-test-hook');
    await admission.createMutatingWebhookConfiguration({
      body: {
        metadata: { name: configName },
        webhooks: [{
          name: 'test.kube-irsa.io',
          clientConfig: { url: `https://127.0.0.1:${port}/mutate`, caBundle: Buffer.from(cp.ca.certPem).toString('base64') },
          rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }],
          namespaceSelector: { matchLabels: { 'kube-irsa.test/hook': 'on' } },
          admissionReviewVersions: ['v1'], sideEffects: 'None', failurePolicy: 'Fail', timeoutSeconds: 5,
        }],
      },
    });
    t.after(() => admission.deleteMutatingWebhookConfiguration({ name: configName }));

    // the API server picks configurations up through an informer: wait with dry-run creates
    await eventually(async () => {
      const dry = await kube.createPod(ns, 'probe', {}, {}, true);
      return dry.metadata?.labels?.['kube-irsa.test/mutated'] === 'yes' ? true : undefined;
    }, 'the webhook configuration to take effect');

    const stored = await kube.createPod(ns, 'real');
    assert.equal(stored.metadata?.labels?.['kube-irsa.test/mutated'], 'yes');
    const read = await kube.core.readNamespacedPod({ namespace: ns, name: 'real' });
    assert.equal(read.metadata?.labels?.['kube-irsa.test/mutated'], 'yes', 'the patch is in the stored pod');
    assert.ok(calls >= 2, `the webhook was called (${calls} calls)`);
  });

  test('RBAC applies to a declared user and to impersonated ServiceAccounts', async () => {
    const ns = await kube.createNamespace('rbac');
    const asSa = new KubeHelpers(cp.impersonating(`system:serviceaccount:${ns}:default`));
    await assert.rejects(asSa.core.listNamespacedPod({ namespace: ns }), (err: { code?: number }) => err.code === 403);
  });
});

describe('test control plane lifecycle', () => {
  test('stop leaves no process, port or folder behind', async () => {
    const cp = await startControlPlane();
    const port = Number(new URL(cp.server).port);
    assert.ok((await processesMentioning(cp.dir)).length >= 2, 'etcd and kube-apiserver run from the folder');
    await cp.stop();
    assert.deepEqual(await processesMentioning(cp.dir), [], 'no process mentions the folder after stop');
    assert.equal(existsSync(cp.dir), false, 'the folder is removed');
    await assert.rejects(httpsRequest(`${cp.server}/readyz`, { ca: cp.ca.certPem, timeoutMs: 2_000 }), /ECONNREFUSED/);
    assert.ok(port > 0);
    await cp.stop(); // idempotent
  });

  test('a declared user authenticates with its own token and is bound by RBAC', async () => {
    const cp = await startControlPlane({ users: [{ name: 'alice', groups: ['devs'] }] });
    try {
      const alice = new KubeHelpers(cp.kubeConfigFor('alice'));
      await assert.rejects(alice.core.listNamespace(), (err: { code?: number }) => err.code === 403);
      assert.throws(() => cp.kubeConfigFor('bob'), /was not declared/);
    } finally {
      await cp.stop();
    }
  });
});
