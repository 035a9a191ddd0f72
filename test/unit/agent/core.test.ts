import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { eventMessage, truncateBytes } from '../../../agent/core/messages.ts';
import { checkPod, tokenLocation, type AgentPod } from '../../../agent/core/pod-checks.ts';
import { REASONS } from '../../../agent/core/reasons.ts';
import { classifyStsFailure } from '../../../agent/core/verdicts.ts';
import { providerFor } from '../../../shared/iam/arn.ts';
import { nextCheckDelay } from '../../../agent/checks/schedule.ts';
import { HealthCache } from '../../../agent/health-cache.ts';
import { probeSessionName } from '../../../agent/identity-prober.ts';
import { RateLimiter } from '../../../agent/rate-limiter.ts';
import type { WebIdentity } from '../../../shared/identity/resolve.ts';
import { INJECTED_ANNOTATION } from '../../../shared/identity/injection.ts';

const identity: WebIdentity = { mode: 'web-identity', roleArn: 'arn:aws:iam::111122223333:role/app', audience: 'sts.amazonaws.com', stsRegionalEndpoints: false, tokenExpirationSeconds: 86400, injectRoleSessionName: false, source: 'service-account', sourceDetail: undefined, warnings: [] };
const mutatedPod = (env: Array<{ name: string; value: string }> = []): AgentPod => ({
  metadata: { name: 'p', namespace: 'ns', uid: 'u', annotations: { [INJECTED_ANNOTATION]: '{}' } },
  spec: {
    serviceAccountName: 'app',
    containers: [{ name: 'c', env: [{ name: 'AWS_ROLE_ARN', value: identity.roleArn }, { name: 'AWS_WEB_IDENTITY_TOKEN_FILE', value: '/var/run/secrets/eks.amazonaws.com/serviceaccount/token' }, ...env], volumeMounts: [{ name: 'aws-iam-token', mountPath: '/var/run/secrets/eks.amazonaws.com/serviceaccount' }] }],
    volumes: [{ name: 'aws-iam-token', projected: { sources: [{ serviceAccountToken: { audience: 'sts.amazonaws.com', expirationSeconds: 86400, path: 'token' } }] } }],
  },
});

describe('pod checks', () => {
  test('a mutated pod with the current role has no findings and a token location', () => {
    assert.deepEqual(checkPod(mutatedPod(), identity), []);
    assert.deepEqual(tokenLocation(mutatedPod()), { volumeName: 'aws-iam-token', path: 'token', audience: 'sts.amazonaws.com' });
  });
  test('an unmutated pod', () => {
    const pod: AgentPod = { metadata: { name: 'p' }, spec: { containers: [{ name: 'c' }] } };
    assert.equal(checkPod(pod, identity)[0]?.reason, 'PodNotMutated');
  });
  test('a stale role, and a role removed from the ServiceAccount', () => {
    assert.equal(checkPod(mutatedPod(), { ...identity, roleArn: 'arn:aws:iam::111122223333:role/new' })[0]?.reason, 'StaleRole');
    assert.equal(checkPod(mutatedPod(), undefined)[0]?.reason, 'StaleRole');
  });
  test('a session name STS would refuse', () => {
    assert.equal(checkPod(mutatedPod([{ name: 'AWS_ROLE_SESSION_NAME', value: 'x'.repeat(65) }]), identity)[0]?.reason, 'InvalidSessionName');
    assert.deepEqual(checkPod(mutatedPod([{ name: 'AWS_ROLE_SESSION_NAME', value: 'web-0' }]), identity), []);
  });
  test('a Windows token path maps to the mount', () => {
    const pod = mutatedPod();
    const c = pod.spec!.containers![0]!;
    (c.env as Array<{ name: string; value: string }>)[1] = { name: 'AWS_WEB_IDENTITY_TOKEN_FILE', value: 'C:\\var\\run\\secrets\\eks.amazonaws.com\\serviceaccount\\token' };
    assert.equal(tokenLocation(pod)?.volumeName, 'aws-iam-token');
  });
});

describe('STS answers to reasons', () => {
  const cases: Array<[string | undefined, string, number | undefined, string]> = [
    ['AccessDenied', 'Not authorized to perform sts:AssumeRoleWithWebIdentity', 403, 'TrustPolicyDenied'],
    ['InvalidIdentityToken', 'No OpenIDConnect provider found in your account for https://x', 400, 'OIDCProviderNotFound'],
    ['InvalidIdentityToken', 'Incorrect token audience', 400, 'IncorrectAudience'],
    ['InvalidIdentityToken', "Couldn't retrieve verification key from your identity provider,  please reference AssumeRoleWithWebIdentity documentation for requirements", 400, 'IdPUnreachable'],
    ['InvalidIdentityToken', 'The ID Token provided is not a valid JWT. (You may see this error if you sent an Access Token)', 400, 'TokenMalformed'],
    ['ExpiredTokenException', 'Token expired: current date/time 2 must be before the expiration date/time 1', 400, 'TokenExpired'],
    ['ValidationError', 'Request ARN is invalid', 400, 'InvalidRoleArn'],
    ['ValidationError', "1 validation error detected: Value 'a b' at 'roleSessionName' failed", 400, 'InvalidSessionName'],
    ['RegionDisabledException', 'STS is not activated in this region', 403, 'RegionDisabled'],
    ['Throttling', 'Rate exceeded', 400, 'Throttled'],
    ['IDPCommunicationError', 'could not be reached', 400, 'IdPUnreachable'],
    ['InternalFailure', 'oops', 500, 'STSUnreachable'],
    [undefined, 'connect ECONNREFUSED', undefined, 'STSUnreachable'],
    ['SomethingNew', 'surprise', 400, 'ProbeError'],
  ];
  for (const [code, message, httpStatus, reason] of cases) {
    test(`${code ?? 'no answer'} "${message.slice(0, 40)}" → ${reason}`, () => assert.equal(classifyStsFailure({ code, message, httpStatus }), reason));
  }
  test('every reason is documented with a verdict, a meaning and a fix', () => {
    for (const [name, info] of Object.entries(REASONS)) {
      assert.ok(['healthy', 'misconfigured', 'inconclusive'].includes(info.verdict), name);
      assert.ok(info.meaning.length > 10 && info.fix.length > 5, name);
    }
  });
  test('the provider ARN is derived from the issuer and the role\'s account and partition', () => {
    assert.deepEqual(providerFor('https://oidc.example.com/id/ABC', 'arn:aws-cn:iam::111122223333:role/x'), { url: 'oidc.example.com/id/ABC', arn: 'arn:aws-cn:iam::111122223333:oidc-provider/oidc.example.com/id/ABC' });
  });
});

describe('event messages', () => {
  test('stay within 1024 bytes, multi-byte characters included', () => {
    assert.equal(Buffer.byteLength(truncateBytes('é'.repeat(2000))) <= 1024, true);
    const m = eventMessage({ reason: 'TrustPolicyDenied', detail: 'x'.repeat(2000), roleArn: identity.roleArn, audience: 'sts.amazonaws.com', namespace: 'ns', serviceAccount: 'app', claims: undefined });
    assert.ok(Buffer.byteLength(m) <= 1024);
  });
  test('carry no timestamps or request ids, so repeats aggregate', () => {
    const a = eventMessage({ reason: 'TrustPolicyDenied', detail: 'denied', roleArn: identity.roleArn, audience: 'sts.amazonaws.com', namespace: 'ns', serviceAccount: 'app', claims: { iss: 'https://i', sub: 'system:serviceaccount:ns:app', aud: 'sts.amazonaws.com', exp: 1 } });
    const b = eventMessage({ reason: 'TrustPolicyDenied', detail: 'denied', roleArn: identity.roleArn, audience: 'sts.amazonaws.com', namespace: 'ns', serviceAccount: 'app', claims: { iss: 'https://i', sub: 'system:serviceaccount:ns:app', aud: 'sts.amazonaws.com', exp: 2 } });
    assert.equal(a, b);
    assert.match(a, /"i:sub" = "system:serviceaccount:ns:app"/);
  });
});

describe('health cache schedule', () => {
  const policy = { recheckIntervalMs: 60_000, misconfiguredRecheckIntervalMs: 10_000, retryIntervalMs: 1_000 };
  test('misconfigured and inconclusive identities back off, never past the recheck interval', () => {
    const half = () => 0.5;
    assert.equal(nextCheckDelay('healthy', 1, policy, half), 60_000);
    assert.deepEqual([1, 2, 3, 4].map((n) => nextCheckDelay('misconfigured', n, policy, half)), [10_000, 20_000, 40_000, 60_000]);
    assert.deepEqual([1, 2, 10].map((n) => nextCheckDelay('inconclusive', n, policy, half)), [1_000, 2_000, 60_000]);
    assert.equal(nextCheckDelay('misconfigured', 30, policy, half), 60_000, 'a fix is always seen within one recheck interval');
  });
  test('concurrent checks of one identity run once; a new signing key forces a new check', async () => {
    const cache = new HealthCache({ capacity: 2, policy });
    let runs = 0;
    const id = { namespace: 'ns', serviceAccount: 'a', roleArn: 'r', audience: 'aud', issuer: 'i' };
    const result = { reason: 'Healthy' as const, verdict: 'healthy' as const, detail: '', steps: [], claims: undefined, stsAnswered: true };
    const check = () => new Promise<{ result: typeof result; probedHere: boolean }>((r) => setTimeout(() => { runs++; r({ result, probedHere: true }); }, 20));
    const all = await Promise.all([cache.check(id, 'k1', Date.now, check), cache.check(id, 'k1', Date.now, check)]);
    assert.equal(runs, 1);
    assert.deepEqual(all.map((x) => x.ran), [true, false]);
    assert.ok(cache.fresh(all[0].health.key, 'k1', Date.now()));
    assert.equal(cache.fresh(all[0].health.key, 'k2', Date.now()), undefined);
  });
  test('the LRU keeps at most its capacity', async () => {
    const cache = new HealthCache({ capacity: 2, policy });
    const result = { reason: 'Healthy' as const, verdict: 'healthy' as const, detail: '', steps: [], claims: undefined, stsAnswered: true };
    for (const sa of ['a', 'b', 'c']) await cache.check({ namespace: 'ns', serviceAccount: sa, roleArn: 'r', audience: 'x', issuer: 'i' }, undefined, Date.now, () => Promise.resolve({ result, probedHere: true }));
    assert.equal(cache.size, 2);
  });
});

test('the rate limiter spaces calls beyond the burst', async () => {
  const limiter = new RateLimiter(20, 2);
  const started = Date.now();
  await Promise.all(Array.from({ length: 6 }, () => limiter.acquire()));
  assert.ok(Date.now() - started >= 150, 'four calls over the burst of two wait about 50 ms each');
});

test('the probe session name identifies kube-irsa and the node within STS limits', () => {
  assert.equal(probeSessionName('ip-10-0-0-1.ec2.internal'), 'kube-irsa-ip-10-0-0-1.ec2.internal');
  assert.match(probeSessionName('n'.repeat(100)), /^[\w+=,.@-]{2,64}$/);
});
