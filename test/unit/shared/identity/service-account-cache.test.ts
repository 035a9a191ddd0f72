// The ServiceAccount cache's lookups: cached hits, live lookups shared by concurrent callers, the
// grace period, and `fresh` confirmations that survive a failing API server.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import pino from 'pino';
import type { IdentityDefaults } from '../../../../shared/identity/annotations.ts';
import { ServiceAccountCache, type LookupOutcome, type ServiceAccountCacheOptions } from '../../../../shared/identity/service-account-cache.ts';
import { ApiException } from '@kubernetes/client-node';
import type { ServiceAccount } from '../../../../shared/kube/objects.ts';

const defaults: IdentityDefaults = { annotationPrefix: 'eks.amazonaws.com', audience: 'sts.amazonaws.com', stsRegionalEndpoints: false, tokenExpirationSeconds: 86_400, injectRoleSessionName: false };
const ROLE = 'arn:aws:iam::111122223333:role/app';

/** A stand-in for the one API call the cache makes; `answer` decides each read. */
function apiServer(answer: (name: string) => Promise<ServiceAccount>) {
  const reads: string[] = [];
  const read = (_namespace: string, name: string) => {
    reads.push(name);
    return answer(name);
  };
  return { read, reads };
}

function serviceAccount(name: string, role: string): ServiceAccount {
  return { metadata: { namespace: 'ns', name, annotations: { 'eks.amazonaws.com/role-arn': role } } };
}

function cacheWith(read: ServiceAccountCacheOptions['read'], gracePeriodMs = 1_000) {
  const outcomes: LookupOutcome[] = [];
  const cache = new ServiceAccountCache({ defaults, read, gracePeriodMs, logger: pino({ level: 'silent' }), onLookup: (o) => outcomes.push(o) });
  return { cache, outcomes };
}

describe('ServiceAccount cache lookups', () => {
  test('a miss is looked up live once for concurrent callers, then served from the cache', async () => {
    const api = apiServer((name) => Promise.resolve(serviceAccount(name, ROLE)));
    const { cache, outcomes } = cacheWith(api.read);
    const [a, b] = await Promise.all([cache.get('ns', 'app'), cache.get('ns', 'app')]);
    assert.equal(a.identity?.roleArn, ROLE);
    assert.equal(b.identity?.roleArn, ROLE);
    assert.deepEqual(api.reads, ['app']);
    const c = await cache.get('ns', 'app');
    assert.equal(c.outcome, 'hit');
    assert.deepEqual(outcomes, ['live-found', 'live-found', 'hit']);
  });

  test('a ServiceAccount the API server does not have is live-not-found', async () => {
    const api = apiServer(() => Promise.reject(new ApiException(404, 'Unknown API Status Code!', JSON.stringify({ kind: 'Status', reason: 'NotFound', message: 'serviceaccounts "gone" not found' }), {})));
    const { cache } = cacheWith(api.read);
    const r = await cache.get('ns', 'gone');
    assert.deepEqual(r, { identity: undefined, outcome: 'live-not-found' });
    assert.equal(cache.size, 0);
  });

  test('a lookup slower than the grace period answers live-timeout', async () => {
    const api = apiServer(() => new Promise(() => undefined));
    const { cache } = cacheWith(api.read, 20);
    assert.deepEqual(await cache.get('ns', 'slow'), { identity: undefined, outcome: 'live-timeout' });
  });

  test('without an API client a miss stays a miss', async () => {
    const { cache } = cacheWith(undefined);
    assert.deepEqual(await cache.get('ns', 'app'), { identity: undefined, outcome: 'miss' });
  });

  test('fresh re-reads a cached ServiceAccount and replaces a lagging entry', async () => {
    const api = apiServer((name) => Promise.resolve(serviceAccount(name, `${ROLE}-new`)));
    const { cache } = cacheWith(api.read);
    cache.upsert('ns/app', cache.parse(serviceAccount('app', ROLE)));
    assert.equal((await cache.get('ns', 'app')).identity?.roleArn, ROLE);
    const fresh = await cache.get('ns', 'app', true);
    assert.deepEqual([fresh.outcome, fresh.identity?.roleArn], ['live-found', `${ROLE}-new`]);
    assert.equal(cache.peek('ns', 'app')?.roleArn, `${ROLE}-new`);
  });

  test('fresh falls back to the cached entry when the API server fails', async () => {
    const api = apiServer(() => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:6443')));
    const { cache } = cacheWith(api.read);
    cache.upsert('ns/app', cache.parse(serviceAccount('app', ROLE)));
    const r = await cache.get('ns', 'app', true);
    assert.deepEqual([r.outcome, r.identity?.roleArn], ['live-error', ROLE]);
  });
});

describe('ServiceAccounts without a role, for a cache that does not keep them (the agent)', () => {
  test('the watch\'s plain ServiceAccounts are not kept; one a pod uses is looked up once and kept; roles always are', async () => {
    const plain: ServiceAccount = { metadata: { namespace: 'ns', name: 'default', annotations: { 'kubernetes.io/description': 'no role' } } };
    const api = apiServer((name) => Promise.resolve(name === 'default' ? plain : serviceAccount(name, ROLE)));
    const cache = new ServiceAccountCache({ defaults, read: api.read, gracePeriodMs: 1_000, logger: pino({ level: 'silent' }), keepPlain: false });
    assert.equal(cache.transform(plain), undefined, 'the watch keeps nothing for a ServiceAccount without a role');
    assert.equal(cache.transform(serviceAccount('app', ROLE))?.roleArn, ROLE);
    const first = await cache.get('ns', 'default');
    const second = await cache.get('ns', 'default');
    assert.equal(first.outcome, 'live-found');
    assert.equal(first.identity?.roleArn, undefined);
    assert.equal(second.outcome, 'hit');
    assert.deepEqual(api.reads, ['default']);
    // the default keeps them: a miss in the webhook is a live lookup on the admission path
    const webhookCache = new ServiceAccountCache({ defaults, read: api.read, gracePeriodMs: 1_000, logger: pino({ level: 'silent' }) });
    assert.notEqual(webhookCache.transform(plain), undefined);
  });
});
