// The worker threads' identity relay: resolutions, the bound pod and readiness come from the main
// thread's identity service over a real MessageChannel; errors arrive as errors; an opted-out pod
// is answered without asking.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MessageChannel } from 'node:worker_threads';
import type { Resolution } from '../../../shared/identity/resolver.ts';
import { SKIP_LABEL } from '../../../shared/identity/injection.ts';
import { identityRelayClient, serveIdentityRelay } from '../../../webhook/identity-relay.ts';
import type { IdentityService } from '../../../webhook/running.ts';

test('a worker asks the main thread: resolutions, pods, failures, readiness', async () => {
  const asked: string[] = [];
  let synced = false;
  const main: IdentityService = {
    resolver: {
      resolvePod: (pod, namespace) => {
        const name = String(pod.spec?.serviceAccountName);
        asked.push(`${namespace}/${name}`);
        return Promise.resolve({
          namespace, serviceAccount: name, lookup: 'hit',
          identity: name === 'app' ? { mode: 'web-identity', roleArn: 'arn:aws:iam::111122223333:role/app', audience: 'sts.amazonaws.com' } : undefined,
        } as Resolution);
      },
    },
    getPod: (_namespace, name) => (name === 'broken' ? Promise.reject(new Error('HTTP 500: etcd is sad')) : Promise.resolve(name === 'p' ? { spec: { nodeName: 'node-a' } } : undefined)),
    notReady: () => (synced ? undefined : 'ServiceAccount cache not synced'),
  };
  const { port1, port2 } = new MessageChannel();
  const stop = serveIdentityRelay(port1, main);
  const worker = identityRelayClient(port2);
  try {
    const r = await worker.resolver.resolvePod({ spec: { serviceAccountName: 'app' } }, 'shop');
    assert.equal(r.identity?.mode, 'web-identity');
    assert.equal(r.lookup, 'hit');
    assert.equal((await worker.resolver.resolvePod({ spec: {} }, 'shop')).serviceAccount, 'default');
    const skipped = await worker.resolver.resolvePod({ metadata: { labels: { [SKIP_LABEL]: 'true' } }, spec: { serviceAccountName: 'app' } }, 'shop');
    assert.equal(skipped.identity, undefined);
    assert.deepEqual(asked, ['shop/app', 'shop/default'], 'an opted-out pod is not asked about');
    assert.deepEqual(await worker.getPod('shop', 'p'), { spec: { nodeName: 'node-a' } });
    assert.equal(await worker.getPod('shop', 'gone'), undefined);
    await assert.rejects(worker.getPod('shop', 'broken'), /HTTP 500: etcd is sad/);
    assert.equal(worker.notReady(), 'ServiceAccount cache not synced');
    synced = true;
    const deadline = Date.now() + 2_000;
    while (worker.notReady() !== undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(worker.notReady(), undefined, 'readiness follows the main thread');
  } finally {
    stop();
    worker.close();
  }
});
