// The worker threads' identity mirror, over a real MessageChannel: the main thread's ServiceAccount
// entries (all, then each change) and mapping text arrive and resolve in the worker without asking;
// a ServiceAccount the mirror lacks is looked up by the main thread (counted there); the bound pod
// and readiness come from the main thread; errors arrive as errors.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MessageChannel } from 'node:worker_threads';
import { ApiException } from '@kubernetes/client-node';
import pino from 'pino';
import { parseFlags } from '../../../shared/cli/flags.ts';
import { IdentitySources } from '../../../shared/identity/identity-sources.ts';
import type { KubeApi } from '../../../shared/kube/api.ts';
import { buildWebhookConfig, WEBHOOK_FLAGS } from '../../../webhook/config.ts';
import { identityMirror, serveIdentityRelay } from '../../../webhook/identity-relay.ts';
import type { IdentityService } from '../../../webhook/running.ts';

const ROLE = 'arn:aws:iam::111122223333:role/';
/** Messages between threads arrive within milliseconds; this leaves them ample time. */
const delivered = () => new Promise((r) => setTimeout(r, 100));
const settle = async (ok: () => boolean) => {
  const deadline = Date.now() + 2_000;
  while (!ok() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
};

test('a worker resolves from the mirror; misses, pods and readiness are asked of the main thread', async () => {
  const { values, given } = parseFlags(WEBHOOK_FLAGS, ['--kube-api=https://127.0.0.1:1', '--tls-cert=/x', '--tls-key=/y']);
  const { config } = buildWebhookConfig(values, given, { requireApiServer: false });
  const lookedUp: string[] = [];
  const mainLookups: string[] = [];
  // the main thread's live lookup: only through the API it was given (never a watch: not started)
  const api = { core: { readNamespacedServiceAccount: ({ namespace, name }: { namespace: string; name: string }) => {
    lookedUp.push(`${namespace}/${name}`);
    return name === 'late'
      ? Promise.resolve({ metadata: { namespace, name, annotations: { 'eks.amazonaws.com/role-arn': `${ROLE}late` } } })
      : Promise.reject(new ApiException(404, 'Unknown API Status Code!', '{"message":"not found"}', {}));
  } } } as unknown as KubeApi;
  const sources = new IdentitySources({
    api, defaults: config.identity, watchConfigMap: true, configMapNamespace: 'kube-system', containerCredentialsFile: '',
    lookupGracePeriodMs: 1_000, logger: pino({ level: 'silent' }), onLookup: (o) => mainLookups.push(o),
  });
  const cache = sources.serviceAccounts;
  cache.replace(new Map([['shop/app', cache.parse({ metadata: { namespace: 'shop', name: 'app', annotations: { 'eks.amazonaws.com/role-arn': `${ROLE}app` } } })]]));
  let synced = false;
  const identity: IdentityService = {
    resolver: sources.resolver,
    getPod: (_namespace, name) => (name === 'broken' ? Promise.reject(new Error('HTTP 500: etcd is sad')) : Promise.resolve(name === 'p' ? { spec: { nodeName: 'node-a' } } : undefined)),
    notReady: () => (synced ? undefined : 'ServiceAccount cache not synced'),
  };
  const { port1, port2 } = new MessageChannel();
  const stop = serveIdentityRelay(port1, sources, identity);
  const workerLookups: string[] = [];
  const worker = identityMirror(port2, config, (o) => workerLookups.push(o));
  await worker.start();
  try {
    const role = async (ns: string, sa: string) => {
      const r = await worker.resolver.resolvePod({ spec: { serviceAccountName: sa } }, ns);
      return r.identity?.mode === 'web-identity' ? r.identity.roleArn : undefined;
    };
    await settle(() => worker.notReady() === 'ServiceAccount cache not synced');
    assert.equal(await role('shop', 'app'), `${ROLE}app`, 'the first snapshot');
    cache.upsert('shop/new', cache.parse({ metadata: { namespace: 'shop', name: 'new', annotations: { 'eks.amazonaws.com/role-arn': `${ROLE}new` } } }));
    cache.remove('shop/app');
    await delivered();
    assert.equal(await role('shop', 'new'), `${ROLE}new`, 'a change');
    assert.equal(lookedUp.length, 0, 'answered from the mirror');
    assert.deepEqual(workerLookups, ['hit', 'hit']);
    // removed here: the main thread looks it up (404) and counts it
    assert.equal(await role('shop', 'app'), undefined);
    assert.equal(await role('shop', 'late'), `${ROLE}late`, 'a live lookup through the main thread');
    assert.deepEqual(lookedUp, ['shop/app', 'shop/late']);
    assert.deepEqual(mainLookups, ['live-not-found', 'live-found']);
    assert.equal(await role('shop', 'late'), `${ROLE}late`);
    assert.equal(lookedUp.length, 2, 'the live result reached the mirror too');
    sources.mapping.upsert('', JSON.stringify({ 'mapped/sa': { RoleARN: `${ROLE}mapped`, Audience: 'sts.amazonaws.com' } }));
    await delivered();
    assert.equal(await role('mapped', 'sa'), `${ROLE}mapped`, 'the mapping ConfigMap');
    assert.deepEqual(await worker.getPod('shop', 'p'), { spec: { nodeName: 'node-a' } });
    assert.equal(await worker.getPod('shop', 'gone'), undefined);
    await assert.rejects(worker.getPod('shop', 'broken'), /HTTP 500: etcd is sad/);
    synced = true;
    await settle(() => worker.notReady() === undefined);
    assert.equal(worker.notReady(), undefined, 'readiness follows the main thread');
  } finally {
    stop();
    worker.close();
  }
});
