// 100 AdmissionReviews pipelined on one TLS connection. Every answer that comes must come in order;
// if the connection fails first (Node's HTTP server over TLS cannot always take a pipelined burst,
// see docs/upstream/node-https-pipelining.md), the failure is logged with its cause instead of the
// connection closing silently.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import tls from 'node:tls';
import { Registry } from 'prom-client';
import type { IdentityDefaults } from '../../../shared/identity/annotations.ts';
import { IdentityResolver } from '../../../shared/identity/resolver.ts';
import { ServiceAccountCache } from '../../../shared/identity/service-account-cache.ts';
import { createWebhookMetrics } from '../../../webhook/metrics.ts';
import { buildAdmissionApp } from '../../../webhook/server.ts';
import { createCertificateAuthority, issueCertificate, type CertificateAuthority } from '../../cluster/pki.ts';
import { captureLogs } from '../../support/log-capture.ts';

const defaults: IdentityDefaults = { annotationPrefix: 'eks.amazonaws.com', audience: 'sts.amazonaws.com', stsRegionalEndpoints: false, tokenExpirationSeconds: 86_400, injectRoleSessionName: false };
const logs = captureLogs('webhook');
let dir: string;
let ca: CertificateAuthority;
let app: ReturnType<typeof buildAdmissionApp>;
let port: number;

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kube-irsa-pipelining-'));
  ca = await createCertificateAuthority(dir);
  const cert = await issueCertificate(ca, dir, { name: 'server', commonName: '127.0.0.1', ips: ['127.0.0.1'] });
  const cache = new ServiceAccountCache({ defaults, read: undefined, gracePeriodMs: 0, logger: logs.logger });
  cache.upsert('default/app', cache.parse({ metadata: { namespace: 'default', name: 'app', annotations: { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::111122223333:role/app' } } }));
  app = buildAdmissionApp({
    https: { cert: cert.certPem, key: cert.keyPem, minVersion: 'TLSv1.2' }, logger: logs.logger, metrics: createWebhookMetrics(new Registry()), readiness: () => undefined,
    deps: {
      resolver: new IdentityResolver({ serviceAccounts: cache, defaults }),
      settings: {
        annotationPrefix: 'eks.amazonaws.com', region: 'eu-west-1', random: () => 0,
        webIdentity: { volumeName: 'aws-iam-token', tokenPath: 'token', mountPath: '/var/run/secrets/eks.amazonaws.com/serviceaccount' },
        containerCredentials: { volumeName: 'v', tokenPath: 't', mountPath: '/m', audience: 'a', fullUri: 'u' },
      },
    },
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  port = (app.server.address() as { port: number }).port;
});
after(async () => {
  await app?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('100 pipelined admissions on one TLS connection: answered in order, or the connection error logged with its cause', async (t) => {
  const N = 100;
  const requests = Array.from({ length: N }, (_, i) => {
    const body = JSON.stringify({
      apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview',
      request: { uid: `u${i}`, kind: { group: '', version: 'v1', kind: 'Pod' }, namespace: 'default', operation: 'CREATE', object: { metadata: { name: `p${i}` }, spec: { serviceAccountName: 'app', containers: [{ name: 'c', image: 'x' }] } } },
    });
    return `POST /mutate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  }).join('');
  const socket = tls.connect({ port, host: '127.0.0.1', ca: ca.certPem, servername: '127.0.0.1' }, () => socket.write(requests));
  let text = '';
  const uids = () => [...text.matchAll(/"uid":"(u\d+)"/g)].map((m) => m[1]);
  const outcome = await new Promise<'all answered' | 'closed'>((resolve) => {
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
      if (uids().length === N) resolve('all answered');
    });
    socket.on('error', () => undefined);
    socket.on('close', () => resolve('closed'));
  });
  socket.destroy();
  const answered = uids();
  assert.deepEqual(answered, answered.map((_, i) => `u${i}`), 'every answer in the order of its request');
  assert.ok(answered.length > 0);
  t.diagnostic(`${outcome} after ${answered.length} of ${N} answers`);
  if (outcome === 'all answered') return;
  // the connection failed before every answer: the cause is in the log, not lost
  const line = logs.find(/HTTP parse error/)[0];
  assert.ok(line, `the failure after ${answered.length} answers is logged`);
  assert.equal(line.code, 'HPE_PAUSED');
  assert.equal(line.see, 'docs/upstream/node-https-pipelining.md');
});
