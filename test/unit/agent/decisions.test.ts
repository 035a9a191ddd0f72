// The agent's decisions, with fakes and a fake clock: what a pod's check concludes (evaluate), what
// is shown and whether an Event goes out (event policy, pod verdicts), when the pod is checked
// again (the scheduler's back-off), and whether IRSAChecks are written or removed.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import pino from 'pino';
import type { TokenCheckResult } from '../../../agent/check-token.ts';
import { evaluate, type Facts, type PodVerdict } from '../../../agent/checks/evaluate.ts';
import { identityHealth } from '../../../agent/checks/identity-health.ts';
import { checkPodIdentity, type PodCheckDeps } from '../../../agent/checks/pod-check.ts';
import { backoffDelay, nextCheckDelay, PodScheduler, type Clock } from '../../../agent/checks/schedule.ts';
import type { AgentPod } from '../../../agent/core/pod-checks.ts';
import { REASONS, type Reason } from '../../../agent/core/reasons.ts';
import { checkTokenStatically } from '../../../agent/core/verdicts.ts';
import type { EventObject, EventType } from '../../../agent/event-recorder.ts';
import { HealthCache } from '../../../agent/health-cache.ts';
import type { IdentityProber } from '../../../agent/identity-prober.ts';
import { decideReport } from '../../../agent/report/event-policy.ts';
import { IrsaCheckKeeper } from '../../../agent/report/irsa-checks.ts';
import { PodVerdicts } from '../../../agent/report/pod-verdicts.ts';
import type { HealthStatus } from '../../../agent/metrics.ts';
import type { IdentityDefaults } from '../../../shared/identity/annotations.ts';
import { ContainerCredentialsConfig } from '../../../shared/identity/container-credentials.ts';
import { ENV, INJECTED_ANNOTATION } from '../../../shared/identity/injection.ts';
import type { ContainerCredentialsIdentity, WebIdentity } from '../../../shared/identity/resolve.ts';
import { IdentityResolver } from '../../../shared/identity/resolver.ts';
import { ServiceAccountCache } from '../../../shared/identity/service-account-cache.ts';

const logger = pino({ level: 'silent' });
const ROLE = 'arn:aws:iam::111122223333:role/app';
const web: WebIdentity = { mode: 'web-identity', roleArn: ROLE, audience: 'sts.amazonaws.com', stsRegionalEndpoints: false, tokenExpirationSeconds: 86400, injectRoleSessionName: false, source: 'service-account', sourceDetail: undefined, warnings: [] };
const cc: ContainerCredentialsIdentity = { mode: 'container-credentials', stsRegionalEndpoints: false, tokenExpirationSeconds: 86400, source: 'container-credentials', sourceDetail: undefined, warnings: [] };
const policy = { tokenWaitMs: 60_000, retryIntervalMs: 10_000, recheckIntervalMs: 900_000 };
const schedulePolicy = { recheckIntervalMs: 900_000, misconfiguredRecheckIntervalMs: 60_000, retryIntervalMs: 10_000 };
const NOW = 1_800_000_000_000;

class FakeClock implements Clock {
  t = NOW;
  now(): number {
    return this.t;
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
function jwt(claims: Record<string, unknown>, kid = 'k1'): string {
  return `${b64({ alg: 'RS256', kid })}.${b64({ iss: 'https://issuer.example', sub: 'system:serviceaccount:ns:app', aud: 'sts.amazonaws.com', exp: NOW / 1000 + 3600, ...claims })}.c2ln`;
}
const result = (reason: Reason, extra: Partial<TokenCheckResult> = {}): TokenCheckResult =>
  ({ reason, verdict: REASONS[reason].verdict, detail: `${reason} detail`, steps: [], claims: { iss: 'https://issuer.example' }, stsAnswered: true, ...extra });
const facts = (f: Partial<Facts>): Facts => ({ now: NOW, firstSeenAt: NOW - 600_000, identity: web, findings: [], ...f });
const verdict = (reason: Reason): PodVerdict => ({ reason, verdict: REASONS[reason].verdict, detail: '', roleArn: ROLE, audience: 'sts.amazonaws.com', claims: undefined, checkedAt: NOW });

function mutatedPod(env: Array<{ name: string; value: string }> = []): AgentPod {
  return {
    metadata: { name: 'p', namespace: 'ns', uid: 'u1', annotations: { [INJECTED_ANNOTATION]: JSON.stringify({ mode: 'web-identity', roleArn: ROLE, audience: 'sts.amazonaws.com', source: 'service-account' }) } },
    spec: {
      serviceAccountName: 'app',
      containers: [{ name: 'c', env: [{ name: ENV.roleArn, value: ROLE }, { name: ENV.webIdentityTokenFile, value: '/var/run/secrets/eks.amazonaws.com/serviceaccount/token' }, ...env], volumeMounts: [{ name: 'aws-iam-token', mountPath: '/var/run/secrets/eks.amazonaws.com/serviceaccount' }] }],
      volumes: [{ name: 'aws-iam-token', projected: { sources: [{ serviceAccountToken: { audience: 'sts.amazonaws.com', expirationSeconds: 86400, path: 'token' } }] } }],
    },
  };
}

describe('evaluate: from facts to a decision', () => {
  test('no identity and nothing on the pod: forget any verdict', () => assert.deepEqual(evaluate(facts({ identity: undefined }), policy), { kind: 'forget' }));
  test('no identity but the pod still uses a role: StaleRole, not re-checked until a watch says so', () => {
    const d = evaluate(facts({ identity: undefined, findings: [{ reason: 'StaleRole', detail: 'x' }] }), policy);
    assert.equal(d.kind, 'report');
    assert.ok(d.kind === 'report' && d.verdict.reason === 'StaleRole' && d.next.kind === 'none' && d.fresh);
  });
  test('container credentials (EKS Pod Identity): nothing to check, never PodNotMutated', () => assert.deepEqual(evaluate(facts({ identity: cc }), policy), { kind: 'forget' }));
  test('PodNotMutated backs off from the misconfigured interval', () => {
    const d = evaluate(facts({ findings: [{ reason: 'PodNotMutated', detail: 'x' }] }), policy);
    assert.ok(d.kind === 'report');
    assert.equal(d.verdict.reason, 'PodNotMutated');
    assert.deepEqual(d.next, { kind: 'backoff', base: 'misconfigured', reason: 'PodNotMutated' });
  });
  test('a web identity asks for the pod\'s token first', () => assert.deepEqual(evaluate(facts({}), policy), { kind: 'need-token', audience: 'sts.amazonaws.com' }));
  test('a token not mounted yet within --token-wait: wait, report nothing', () => {
    const d = evaluate(facts({ firstSeenAt: NOW - 1_000, token: { ok: false, detail: 'ENOENT' } }), policy);
    assert.deepEqual(d, { kind: 'wait', next: { kind: 'at', at: NOW + 10_000 } });
  });
  test('a TokenRequest the API server refused (token guard, policy, RBAC): TokenRequestRefused, inconclusive, at once', () => {
    // even while the token wait would still be running: a refusal is not a token the kubelet has yet to mount
    const d = evaluate(facts({ firstSeenAt: NOW - 1_000, token: { ok: false, refused: true, detail: 'TokenRequest failed: HTTP 400: kube-irsa token guard (PodOnOtherNode): …' } }), policy);
    assert.equal(d.kind, 'report');
    if (d.kind !== 'report') return;
    assert.equal(d.verdict.reason, 'TokenRequestRefused');
    assert.equal(d.verdict.verdict, 'inconclusive');
    assert.match(d.verdict.detail, /PodOnOtherNode/);
    assert.deepEqual(d.next, { kind: 'backoff', base: 'retry', reason: 'TokenRequestRefused' });
  });

  test('a token still unreadable after --token-wait: TokenUnreadable, backing off', () => {
    const d = evaluate(facts({ token: { ok: false, detail: 'EACCES' } }), policy);
    assert.ok(d.kind === 'report');
    assert.equal(d.verdict.reason, 'TokenUnreadable');
    assert.deepEqual(d.next, { kind: 'backoff', base: 'retry', reason: 'TokenUnreadable' });
  });
  test('an expired token is the pod\'s own problem: TokenExpired without asking for the identity\'s health', () => {
    const d = evaluate(facts({ token: { ok: true, token: jwt({ exp: NOW / 1000 - 10 }) } }), policy);
    assert.ok(d.kind === 'report' && d.verdict.reason === 'TokenExpired' && d.next.kind === 'backoff');
  });
  test('a token for another audience: AudienceMismatch', () => {
    const d = evaluate(facts({ token: { ok: true, token: jwt({ aud: 'other' }) } }), policy);
    assert.ok(d.kind === 'report' && d.verdict.reason === 'AudienceMismatch');
  });
  test('a token that is not a JWT: TokenMalformed', () => {
    const d = evaluate(facts({ token: { ok: true, token: 'garbage' } }), policy);
    assert.ok(d.kind === 'report' && d.verdict.reason === 'TokenMalformed');
  });
  test('a good token asks for the identity\'s health with its issuer and key id', () => {
    const token = jwt({}, 'key-7');
    const d = evaluate(facts({ token: { ok: true, token } }), policy);
    assert.ok(d.kind === 'need-health');
    const { statics, ...request } = d.request;
    assert.deepEqual(request, { token, roleArn: ROLE, audience: 'sts.amazonaws.com', issuer: 'https://issuer.example', kid: 'key-7' });
    assert.ok(statics.ok, 'the static checks travel with the request, so the identity check does not repeat them');
  });
  test('a malformed role ARN is left to the identity check (shared by every pod)', () => {
    const d = evaluate(facts({ identity: { ...web, roleArn: 'not-an-arn' }, token: { ok: true, token: jwt({}) } }), policy);
    assert.equal(d.kind, 'need-health');
  });
  test('a healthy identity: reported, next check at the identity\'s time but never past the recheck interval', () => {
    const d = evaluate(facts({ token: { ok: true, token: jwt({}) }, health: { result: result('Healthy'), nextCheckAt: NOW + 5_000_000, ran: true } }), policy);
    assert.ok(d.kind === 'report');
    assert.equal(d.verdict.verdict, 'healthy');
    assert.deepEqual(d.next, { kind: 'at', at: NOW + 900_000 });
  });
  test('a cached answer is not news; a fresh check is', () => {
    const token = { ok: true as const, token: jwt({}) };
    const cached = evaluate(facts({ token, health: { result: result('TrustPolicyDenied'), nextCheckAt: NOW + 1, ran: false } }), policy);
    const fresh = evaluate(facts({ token, health: { result: result('TrustPolicyDenied'), nextCheckAt: NOW + 1, ran: true } }), policy);
    assert.ok(cached.kind === 'report' && !cached.fresh);
    assert.ok(fresh.kind === 'report' && fresh.fresh);
  });
  test('an STS error is carried to the verdict', () => {
    const d = evaluate(facts({ token: { ok: true, token: jwt({}) }, health: { result: result('TrustPolicyDenied', { stsError: { code: 'AccessDenied', message: 'no' } }), nextCheckAt: NOW, ran: true } }), policy);
    assert.ok(d.kind === 'report');
    assert.deepEqual(d.verdict.stsError, { code: 'AccessDenied', message: 'no' });
  });
  test('a pod finding outranks a healthy identity and backs off', () => {
    const d = evaluate(facts({ findings: [{ reason: 'InvalidSessionName', detail: 'x' }], token: { ok: true, token: jwt({}) }, health: { result: result('Healthy'), nextCheckAt: NOW, ran: false } }), policy);
    assert.ok(d.kind === 'report');
    assert.equal(d.verdict.reason, 'InvalidSessionName');
    assert.deepEqual(d.next, { kind: 'backoff', base: 'misconfigured', reason: 'InvalidSessionName' });
  });
  test('no result from the health check: retry later, report nothing', () => {
    assert.deepEqual(evaluate(facts({ token: { ok: true, token: jwt({}) }, health: { result: undefined, nextCheckAt: 0, ran: false } }), policy), { kind: 'wait', next: { kind: 'at', at: NOW + 10_000 } });
  });
});

describe('event policy: what is shown, and whether an Event goes out', () => {
  test('a first healthy verdict: one Normal Event', () => assert.deepEqual(decideReport(undefined, verdict('Healthy'), true).event, { type: 'Normal', recovered: false }));
  test('healthy again: no Event', () => assert.equal(decideReport(verdict('Healthy'), verdict('Healthy'), true).event, undefined));
  test('inconclusive never turns healthy into anything else', () => {
    for (const reason of ['Throttled', 'STSUnreachable', 'IdPUnreachable', 'ProbeError'] as const) {
      const d = decideReport(verdict('Healthy'), verdict(reason), true);
      assert.equal(d.shown.reason, 'Healthy', reason);
      assert.ok(d.keptHealthy);
      assert.equal(d.event, undefined);
    }
  });
  test('recovery from misconfigured: one Normal Event marked as recovered', () => assert.deepEqual(decideReport(verdict('TrustPolicyDenied'), verdict('Healthy'), true).event, { type: 'Normal', recovered: true }));
  test('a problem confirmed by a fresh check: a Warning again', () => assert.deepEqual(decideReport(verdict('TrustPolicyDenied'), verdict('TrustPolicyDenied'), true).event, { type: 'Warning', recovered: false }));
  test('a problem repeated from a cached answer: no Event', () => assert.equal(decideReport(verdict('TrustPolicyDenied'), verdict('TrustPolicyDenied'), false).event, undefined));
  test('a new reason is always news', () => assert.equal(decideReport(verdict('TrustPolicyDenied'), verdict('OIDCProviderNotFound'), false).event?.type, 'Warning'));
  test('misconfigured then inconclusive: shown as inconclusive (only healthy is kept)', () => assert.equal(decideReport(verdict('TrustPolicyDenied'), verdict('Throttled'), true).shown.reason, 'Throttled'));
});

describe('scheduler: back-off, jitter and streaks with a fake clock', () => {
  const scheduler = (clock: FakeClock, concurrency = 16) => new PodScheduler({ clock, policy: schedulePolicy, random: () => 0.5, concurrency });
  test('a pod marked due is taken once, and not again while it runs', () => {
    const s = scheduler(new FakeClock());
    s.markDue('a');
    assert.deepEqual(s.takeDue(), ['a']);
    s.markDue('a');
    assert.deepEqual(s.takeDue(), []);
    s.done('a');
    assert.deepEqual(s.takeDue(), ['a']);
  });
  test('at most `concurrency` checks run at once', () => {
    const s = scheduler(new FakeClock(), 2);
    for (const k of ['a', 'b', 'c']) s.markDue(k);
    assert.equal(s.takeDue().length, 2);
    assert.equal(s.takeDue().length, 0);
  });
  test('every misconfigured pod reason backs off: the wait doubles while the reason repeats', () => {
    for (const reason of ['PodNotMutated', 'StaleRole', 'InvalidSessionName', 'TokenUnreadable', 'TokenExpired', 'TokenMalformed', 'AudienceMismatch'] as const) {
      const clock = new FakeClock();
      const s = scheduler(clock);
      const waits: number[] = [];
      for (let i = 0; i < 4; i++) waits.push(s.after('p', { kind: 'backoff', base: reason === 'PodNotMutated' || reason === 'StaleRole' || reason === 'InvalidSessionName' ? 'misconfigured' : 'retry', reason })! - clock.now());
      assert.ok(waits.every((w, i) => i === 0 || w === 2 * waits[i - 1]!), `${reason}: ${waits.join(', ')}`);
    }
  });
  test('every misconfigured identity reason backs off in the health schedule too', () => {
    for (const [reason, info] of Object.entries(REASONS)) {
      if (info.verdict !== 'misconfigured') continue;
      assert.ok(nextCheckDelay('misconfigured', 3, schedulePolicy, () => 0.5) > nextCheckDelay('misconfigured', 1, schedulePolicy, () => 0.5), reason);
    }
  });
  test('PodNotMutated is not re-checked every interval: 60 s, 120 s, 240 s', () => {
    const clock = new FakeClock();
    const s = scheduler(clock);
    const at = [1, 2, 3].map(() => s.after('p', { kind: 'backoff', base: 'misconfigured', reason: 'PodNotMutated' })! - clock.now());
    assert.deepEqual(at, [60_000, 120_000, 240_000]);
  });
  test('the back-off never passes the recheck interval', () => assert.equal(backoffDelay('misconfigured', 30, schedulePolicy, () => 0.5), 900_000));
  test('jitter stays within ±20%', () => {
    assert.equal(backoffDelay('recheck', 1, schedulePolicy, () => 0), 720_000);
    assert.ok(backoffDelay('recheck', 1, schedulePolicy, () => 0.999_999) < 1_080_000);
  });
  test('a different reason starts the streak again', () => {
    const clock = new FakeClock();
    const s = scheduler(clock);
    s.after('p', { kind: 'backoff', base: 'misconfigured', reason: 'PodNotMutated' });
    s.after('p', { kind: 'backoff', base: 'misconfigured', reason: 'PodNotMutated' });
    assert.equal(s.after('p', { kind: 'backoff', base: 'misconfigured', reason: 'StaleRole' })! - clock.now(), 60_000);
  });
  test('a fixed time (healthy) ends the streak', () => {
    const clock = new FakeClock();
    const s = scheduler(clock);
    s.after('p', { kind: 'backoff', base: 'misconfigured', reason: 'PodNotMutated' });
    s.after('p', { kind: 'at', at: NOW + 5 });
    assert.equal(s.after('p', { kind: 'backoff', base: 'misconfigured', reason: 'PodNotMutated' })! - clock.now(), 60_000);
  });
  test('a pod backing off is due only when the clock gets there', () => {
    const clock = new FakeClock();
    const s = scheduler(clock);
    s.after('p', { kind: 'backoff', base: 'misconfigured', reason: 'PodNotMutated' });
    assert.deepEqual(s.takeDue(), []);
    assert.ok(s.idle);
    clock.advance(60_000);
    assert.ok(!s.idle);
    assert.deepEqual(s.takeDue(), ['p']);
  });
  test('nothing after `none`, until a watch marks the pod due', () => {
    const s = scheduler(new FakeClock());
    assert.equal(s.after('p', { kind: 'none' }), undefined);
    assert.equal(s.dueAt('p'), undefined);
  });
});

function fakeReporting() {
  const events: Array<{ obj: EventObject; type: EventType; reason: string; message: string }> = [];
  const health = new Map<string, { reason: Reason; status: HealthStatus } | undefined>();
  const verdicts = new PodVerdicts({
    nodeName: 'node-1', logger,
    events: { record: (obj, type, reason, message) => events.push({ obj, type, reason, message }) },
    metrics: {
      setServiceAccountHealth: (ns, sa, reason, status) => health.set(`${ns}/${sa}`, { reason, status }),
      clearServiceAccount: (ns, sa) => health.set(`${ns}/${sa}`, undefined),
      setPodCounts: () => undefined,
    },
  });
  return { events, health, verdicts };
}
const ref = { namespace: 'ns', name: 'p', uid: 'u1', serviceAccount: 'app' };

describe('pod verdicts: Events and metrics', () => {
  test('recovery emits one Normal Event per object, and staying healthy none', () => {
    const { events, verdicts } = fakeReporting();
    verdicts.report('ns/p', ref, verdict('TrustPolicyDenied'), true);
    verdicts.report('ns/p', ref, verdict('Healthy'), true);
    verdicts.report('ns/p', ref, verdict('Healthy'), true);
    const normal = events.filter((e) => e.type === 'Normal');
    assert.deepEqual(normal.map((e) => e.obj.kind), ['Pod', 'ServiceAccount']);
  });
  test('inconclusive after healthy keeps the metric healthy', () => {
    const { health, verdicts } = fakeReporting();
    verdicts.report('ns/p', ref, verdict('Healthy'), true);
    verdicts.report('ns/p', ref, verdict('STSUnreachable'), true);
    assert.deepEqual(health.get('ns/app'), { reason: 'Healthy', status: 'healthy' });
    assert.equal(verdicts.shown('ns/p')?.reason, 'Healthy');
  });
  test('a ServiceAccount shows its worst pod', () => {
    const { health, verdicts } = fakeReporting();
    verdicts.report('ns/p', ref, verdict('Healthy'), true);
    verdicts.report('ns/q', { ...ref, name: 'q', uid: 'u2' }, verdict('PodNotMutated'), true);
    assert.deepEqual(health.get('ns/app'), { reason: 'PodNotMutated', status: 'misconfigured' });
  });
  test('a node-scope problem names the pod on the ServiceAccount\'s Event', () => {
    const { events, verdicts } = fakeReporting();
    verdicts.report('ns/p', ref, verdict('PodNotMutated'), true);
    assert.match(events.find((e) => e.obj.kind === 'ServiceAccount')!.message, /^Pod p on node node-1: /);
  });
  test('forgetting the last pod clears the ServiceAccount\'s metric', () => {
    const { health, verdicts } = fakeReporting();
    verdicts.report('ns/p', ref, verdict('Healthy'), true);
    verdicts.forget('ns/p');
    assert.equal(health.get('ns/app'), undefined);
    assert.ok(health.has('ns/app'));
  });
});

describe('IRSAChecks: written or removed', () => {
  function fleetFake() {
    const calls = { resolve: 0, forget: [] as string[] };
    return {
      calls,
      fleet: {
        resolve: async (_id: unknown, _kid: unknown, probe: () => Promise<TokenCheckResult>) => {
          calls.resolve++;
          return { result: await probe(), probedHere: true, nextCheckAt: NOW + 900_000, streak: 1 };
        },
        forget: (ns: string, sa: string) => {
          calls.forget.push(`${ns}/${sa}`);
          return Promise.resolve();
        },
        collectGarbage: () => Promise.resolve(0),
      },
    };
  }
  // the issuer's keys check out and STS accepts: what matters here is how often the fleet is asked
  const prober = {
    checkIssuer: () => Promise.resolve(undefined),
    assume: () => Promise.resolve({ reason: 'Healthy', detail: 'assumed', stsAnswered: true }),
  } as unknown as IdentityProber;

  test('a ServiceAccount that loses its role has its IRSACheck removed once; one never seen with a role, none', () => {
    const { calls, fleet } = fleetFake();
    const forgotten: string[] = [];
    const keeper = new IrsaCheckKeeper({ health: { forgetServiceAccount: (ns, sa) => forgotten.push(`${ns}/${sa}`) }, fleet, staleAfterMs: 1, random: () => 0, logger });
    keeper.track('ns', 'other', undefined);
    keeper.track('ns', 'app', web);
    keeper.track('ns', 'app', undefined);
    keeper.track('ns', 'app', undefined);
    assert.deepEqual(calls.forget, ['ns/app']);
    assert.deepEqual(forgotten, ['ns/app']);
  });
  test('moving to container credentials counts as losing the web identity', () => {
    const { calls, fleet } = fleetFake();
    const keeper = new IrsaCheckKeeper({ health: { forgetServiceAccount: () => undefined }, fleet, staleAfterMs: 1, random: () => 0, logger });
    keeper.track('ns', 'app', web);
    keeper.track('ns', 'app', cc);
    assert.deepEqual(calls.forget, ['ns/app']);
  });
  test('a fresh cached health result writes no IRSACheck; once due, one check goes through the fleet', async () => {
    const { calls, fleet } = fleetFake();
    const clock = new FakeClock();
    const cache = new HealthCache({ capacity: 10, policy: schedulePolicy, random: () => 0.5 });
    const check = identityHealth({
      cache, prober, fleet: fleet as never, clock, logger, hasIdentity: () => true,
      metrics: { setCacheSize: () => undefined, observeProbe: () => undefined },
    });
    const token = jwt({});
    const request = { token, roleArn: ROLE, audience: 'sts.amazonaws.com', issuer: 'https://issuer.example', kid: 'k1', statics: checkTokenStatically(token, 'sts.amazonaws.com', ROLE, NOW / 1000) };
    const first = await check('ns', 'app', request, undefined);
    const second = await check('ns', 'app', request, undefined);
    assert.equal(calls.resolve, 1);
    assert.ok(first.ran && !second.ran);
    clock.advance(900_001);
    await check('ns', 'app', request, undefined);
    assert.equal(calls.resolve, 2);
  });
});

describe('one pod check with fakes: the resolver decides the mode', () => {
  const defaults: IdentityDefaults = { annotationPrefix: 'eks.amazonaws.com', audience: 'sts.amazonaws.com', stsRegionalEndpoints: false, tokenExpirationSeconds: 86_400, injectRoleSessionName: false };
  function deps(opts: { associations?: string[]; role?: string }) {
    const cache = new ServiceAccountCache({ defaults, read: undefined, gracePeriodMs: 0, logger });
    cache.upsert('ns/app', cache.parse({ metadata: { namespace: 'ns', name: 'app', annotations: { 'eks.amazonaws.com/role-arn': opts.role ?? ROLE } } }));
    const calls = { token: 0, health: 0, fresh: 0 };
    const resolver = new IdentityResolver({ serviceAccounts: cache, defaults, containerCredentials: () => new ContainerCredentialsConfig(new Set(opts.associations ?? [])) });
    const d: PodCheckDeps = {
      resolver: {
        resolvePod: (pod, ns, o) => {
          if (o?.fresh) calls.fresh++;
          return resolver.resolvePod(pod, ns, o);
        },
      },
      tokens: { read: () => { calls.token++; return Promise.resolve({ ok: true, token: jwt({}) }); } },
      health: () => { calls.health++; return Promise.resolve({ result: result('Healthy'), nextCheckAt: NOW + 900_000, ran: true }); },
      clock: new FakeClock(), policy,
    };
    return { d, calls };
  }
  const podNotMutated: AgentPod = { metadata: { name: 'p', namespace: 'ns', uid: 'u1' }, spec: { serviceAccountName: 'app', containers: [{ name: 'c', env: [{ name: ENV.containerCredentialsFullUri, value: 'http://169.254.170.23/v1/credentials' }] }] } };

  test('role annotation AND a Pod Identity association: container credentials, no PodNotMutated, no token read', async () => {
    const { d, calls } = deps({ associations: ['ns/app'] });
    assert.deepEqual(await checkPodIdentity(podNotMutated, NOW, d), { kind: 'forget' });
    assert.deepEqual(calls, { token: 0, health: 0, fresh: 0 });
  });
  test('the same pod without the association is PodNotMutated', async () => {
    const { d } = deps({});
    const decision = await checkPodIdentity(podNotMutated, NOW, d);
    assert.ok(decision.kind === 'report' && decision.verdict.reason === 'PodNotMutated');
  });
  test('a healthy pod reads its token and the identity\'s health once each', async () => {
    const { d, calls } = deps({});
    const decision = await checkPodIdentity(mutatedPod(), NOW - 600_000, d);
    assert.ok(decision.kind === 'report' && decision.verdict.reason === 'Healthy');
    assert.deepEqual(calls, { token: 1, health: 1, fresh: 0 });
  });
  test('a role differing from the pod\'s is confirmed with a live lookup before StaleRole', async () => {
    const { d, calls } = deps({ role: 'arn:aws:iam::111122223333:role/new' });
    const decision = await checkPodIdentity(mutatedPod(), NOW - 600_000, d);
    assert.equal(calls.fresh, 1);
    assert.ok(decision.kind === 'report' && decision.verdict.reason === 'StaleRole');
  });
});
