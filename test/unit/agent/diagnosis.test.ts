// The agent's diagnosis without the network: the pure explanation and hints, the Event message
// (today's plus one line, or the cause in place of the general fix), the cache per role and TTL,
// a shared diagnosis reused, and IAM failures never changing the verdict.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import pino from 'pino';
import type { TokenCheckResult } from '../../../agent/check-token.ts';
import { eventMessage, MAX_MESSAGE_BYTES, type MessageInput } from '../../../agent/core/messages.ts';
import { Diagnoser } from '../../../agent/diagnosis/diagnoser.ts';
import { explainFromIam, hintFor, type IdentityDiagnosis } from '../../../agent/diagnosis/explain.ts';
import { IamReadError } from '../../../agent/diagnosis/iam-reader.ts';
import { diagnosisJson, diagnosisLines } from '../../../agent/diagnosis/report.ts';

const ACCOUNT = '111122223333';
const ISS = 'https://oidc.example.com/cluster';
const URL = 'oidc.example.com/cluster';
const ROLE = `arn:aws:iam::${ACCOUNT}:role/payments`;
const claims = { iss: ISS, sub: 'system:serviceaccount:shop:payments', aud: 'sts.amazonaws.com' };
const trust = (sub: string) => JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { Federated: `arn:aws:iam::${ACCOUNT}:oidc-provider/${URL}` }, Action: 'sts:AssumeRoleWithWebIdentity', Condition: { StringEquals: { [`${URL}:sub`]: sub, [`${URL}:aud`]: 'sts.amazonaws.com' } } }],
});
const denied: TokenCheckResult = {
  reason: 'TrustPolicyDenied', verdict: 'misconfigured', detail: 'STS refused AssumeRoleWithWebIdentity (AccessDenied)', steps: [], claims, stsAnswered: true,
  stsError: { code: 'AccessDenied', message: 'Not authorized to perform sts:AssumeRoleWithWebIdentity' },
};
const message = (diagnosis?: IdentityDiagnosis): MessageInput => ({
  reason: 'TrustPolicyDenied', detail: denied.detail, roleArn: ROLE, audience: 'sts.amazonaws.com', namespace: 'shop', serviceAccount: 'payments', claims, stsError: denied.stsError!,
  ...(diagnosis ? { diagnosis } : {}),
});

/** An IAM reader over a fixed account, counting its calls. */
function fakeReader(opts: { account?: string; policy?: string | undefined; fail?: IamReadError } = {}) {
  const calls: string[] = [];
  const answer = async <T>(name: string, value: T): Promise<T> => {
    calls.push(name);
    await Promise.resolve();
    if (opts.fail && name !== 'callerAccount') throw opts.fail;
    return value;
  };
  return {
    calls,
    reader: {
      callerAccount: () => answer('callerAccount', opts.account ?? ACCOUNT),
      trustPolicy: () => answer('GetRole', 'policy' in opts ? opts.policy : trust('system:serviceaccount:shop-prod:payments')),
      providerUrls: () => answer('ListOpenIDConnectProviders', [URL]),
      providerClientIds: () => answer('GetOpenIDConnectProvider', ['sts.amazonaws.com']),
      close: () => undefined,
    },
  };
}

describe('explanation and messages', () => {
  test('a wrong namespace: SubjectMismatch, the changed line, the corrected document', () => {
    const d = explainFromIam('TrustPolicyDenied', ROLE, claims, { trustPolicy: trust('system:serviceaccount:shop-prod:payments'), providers: [{ url: URL, clientIds: ['sts.amazonaws.com'] }] }, '2026-01-01T00:00:00.000Z');
    assert.equal(d.cause, 'SubjectMismatch');
    assert.equal(d.findings?.[0]?.statement, 'Statement[0]');
    assert.match(d.findings?.[0]?.change ?? '', /"system:serviceaccount:shop-prod:payments" → "system:serviceaccount:shop:payments"$/);
    assert.deepEqual(JSON.parse(d.correctedTrustPolicy ?? ''), JSON.parse(trust(claims.sub)));
    const m = eventMessage(message(d));
    assert.match(m, /Cause: SubjectMismatch\. .*\(the namespace differs\)\. Fix: Statement\[0\]/);
    assert.doesNotMatch(m, /must allow Principal\.Federated/, 'the precise fix replaces the general one');
    assert.ok(Buffer.byteLength(m) <= MAX_MESSAGE_BYTES);
    assert.match(diagnosisLines(d).join('\n'), /^Cause: SubjectMismatch\n.*\n {2}- SubjectMismatch: Statement\[0\][^]*Corrected trust policy:\n {2}\{/);
    assert.deepEqual((diagnosisJson(d).diagnosis as { correctedTrustPolicy: unknown }).correctedTrustPolicy, JSON.parse(trust(claims.sub)));
  });

  test('a cause with a long issuer still ends with its changed line; the token summary goes first', () => {
    const long = `oidc.${'x'.repeat(300)}.example.com`;
    const c = { ...claims, iss: `https://${long}` };
    const policy = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Federated: `arn:aws:iam::${ACCOUNT}:oidc-provider/${long}` }, Action: 'sts:AssumeRoleWithWebIdentity', Condition: { StringEquals: { [`${long}:sub`]: 'system:serviceaccount:x:payments' } } }] });
    const d = explainFromIam('TrustPolicyDenied', ROLE, c, { trustPolicy: policy, providers: [{ url: long, clientIds: ['sts.amazonaws.com'] }] }, '2026-01-01T00:00:00.000Z');
    const m = eventMessage({ ...message(d), claims: c });
    assert.ok(Buffer.byteLength(m) <= MAX_MESSAGE_BYTES);
    assert.match(m, /Cause: SubjectMismatch\. .*\.\.\. Fix: /);
    assert.ok(m.endsWith(`Fix: ${d.findings?.[0]?.change ?? '?'}`), m);
    assert.doesNotMatch(m, /Token: iss=/);
  });

  test('a hint keeps today\'s message and adds one line, also when today\'s is long', () => {
    const hint = hintFor({ kind: 'denied', action: 'iam:GetRole', resource: ROLE, code: 'AccessDenied' }, ROLE);
    const d: IdentityDiagnosis = { roleArn: ROLE, reason: 'TrustPolicyDenied', readAt: '2026-01-01T00:00:00.000Z', hint };
    assert.equal(eventMessage(message(d)), `${eventMessage(message())}\n${hint}`);
    const longDetail = { ...message(d), detail: 'x'.repeat(2000) };
    const m = eventMessage(longDetail);
    assert.ok(Buffer.byteLength(m) <= MAX_MESSAGE_BYTES);
    assert.ok(m.endsWith(`...\n${hint}`));
  });

  test('a diagnosis of another reason or role is not shown', () => {
    const d: IdentityDiagnosis = { roleArn: ROLE, reason: 'IncorrectAudience', readAt: '2026-01-01T00:00:00.000Z', hint: 'h' };
    assert.equal(eventMessage(message(d)), eventMessage(message()));
    assert.equal(eventMessage(message({ ...d, reason: 'TrustPolicyDenied', roleArn: `${ROLE}-old` })), eventMessage(message()));
  });

  test('each hint names the permission', () => {
    assert.match(hintFor({ kind: 'other-account', ownAccount: ACCOUNT, roleAccount: '444455556666' }, ROLE), /is in account 444455556666, the agent's AWS credentials are in 111122223333/);
    assert.match(hintFor({ kind: 'unreachable', action: 'iam:GetRole', resource: ROLE, code: 'ECONNREFUSED' }, ROLE), /IAM could not be read \(ECONNREFUSED\); iam:GetRole on arn:aws:iam::111122223333:role\/payments/);
    assert.match(hintFor({ kind: 'no-credentials', action: 'iam:ListOpenIDConnectProviders', resource: 'x', code: 'CredentialsProviderError' }, ROLE), /no AWS credentials/);
  });
});

describe('Diagnoser: reads, cache, shared diagnosis', () => {
  test('TrustPolicyDenied reads GetRole once per TTL; reasons IAM cannot explain read nothing', async () => {
    let now = 1_000_000;
    const { reader, calls } = fakeReader();
    const d = new Diagnoser({ reader, ttlMs: 10_000, logger: pino({ level: 'silent' }), now: () => now });
    const first = await d.explain(denied, ROLE);
    assert.equal(first.diagnosis?.cause, 'SubjectMismatch');
    assert.equal(first.reason, 'TrustPolicyDenied');
    assert.deepEqual(calls, ['callerAccount', 'GetRole']);
    now += 9_999;
    await d.explain(denied, ROLE);
    assert.equal(calls.length, 2, 'cached within the TTL');
    now += 1;
    await d.explain(denied, ROLE);
    assert.deepEqual(calls.slice(2), ['callerAccount', 'GetRole'], 'read again after the TTL');
    const healthy = await d.explain({ ...denied, reason: 'Healthy', verdict: 'healthy' }, ROLE);
    assert.equal(healthy.diagnosis, undefined);
    assert.equal(calls.length, 4);
  });

  test('concurrent refusals of one role share one read', async () => {
    const { reader, calls } = fakeReader();
    const d = new Diagnoser({ reader, ttlMs: 10_000, logger: pino({ level: 'silent' }) });
    await Promise.all([d.explain(denied, ROLE), d.explain(denied, ROLE), d.explain(denied, ROLE)]);
    assert.equal(calls.filter((c) => c === 'GetRole').length, 1);
  });

  test('a shared diagnosis within the TTL is used without reading IAM; an older one is not', async () => {
    const now = Date.parse('2026-01-01T00:00:10.000Z');
    const { reader, calls } = fakeReader();
    const d = new Diagnoser({ reader, ttlMs: 10_000, logger: pino({ level: 'silent' }), now: () => now });
    const shared: IdentityDiagnosis = { roleArn: ROLE, reason: 'TrustPolicyDenied', readAt: '2026-01-01T00:00:01.000Z', cause: 'RoleNotFound', findings: [{ cause: 'RoleNotFound', message: 'm', change: 'c' }] };
    assert.equal((await d.explain(denied, ROLE, shared)).diagnosis, shared);
    assert.deepEqual(calls, []);
    await d.explain(denied, ROLE, { ...shared, readAt: '2026-01-01T00:00:00.000Z' });
    assert.deepEqual(calls, ['callerAccount', 'GetRole']);
  });

  test('NoSuchEntity: RoleNotFound; OIDCProviderNotFound and IncorrectAudience read the provider side', async () => {
    const missing = fakeReader({ policy: undefined });
    const d = new Diagnoser({ reader: missing.reader, ttlMs: 10_000, logger: pino({ level: 'silent' }) });
    assert.equal((await d.explain(denied, ROLE)).diagnosis?.cause, 'RoleNotFound');
    const audience = fakeReader({ policy: trust(claims.sub) });
    const d2 = new Diagnoser({ reader: audience.reader, ttlMs: 10_000, logger: pino({ level: 'silent' }) });
    const r = await d2.explain({ ...denied, reason: 'IncorrectAudience', claims: { ...claims, aud: 'vault' } }, ROLE);
    assert.equal(r.diagnosis?.cause, 'ClientIdMissing');
    assert.deepEqual(audience.calls, ['callerAccount', 'GetOpenIDConnectProvider', 'GetRole']);
    const d3 = new Diagnoser({ reader: audience.reader, ttlMs: 10_000, logger: pino({ level: 'silent' }) });
    await d3.explain({ ...denied, reason: 'OIDCProviderNotFound' }, ROLE);
    assert.deepEqual(audience.calls.slice(3), ['callerAccount', 'ListOpenIDConnectProviders', 'GetOpenIDConnectProvider', 'GetRole']);
  });

  test('IAM denied, unreachable or another account: the result unchanged but for its hint, cached for the TTL', async () => {
    for (const [reader, expected] of [
      [fakeReader({ fail: new IamReadError('denied', 'iam:GetRole', ROLE, 'AccessDenied') }), /IAM refused the agent's read \(AccessDenied\); allowing iam:GetRole on arn:aws:iam::111122223333:role\/payments/],
      [fakeReader({ fail: new IamReadError('unreachable', 'iam:GetRole', ROLE, 'ECONNREFUSED') }), /IAM could not be read \(ECONNREFUSED\)/],
      [fakeReader({ account: '444455556666' }), /is in account 111122223333, the agent's AWS credentials are in 444455556666/],
    ] as const) {
      const d = new Diagnoser({ reader: reader.reader, ttlMs: 10_000, logger: pino({ level: 'silent' }) });
      const r = await d.explain(denied, ROLE);
      const { diagnosis, ...rest } = r;
      assert.deepEqual(rest, denied, 'the verdict, reason and detail are untouched');
      assert.equal(diagnosis?.cause, undefined);
      assert.match(diagnosis?.hint ?? '', expected);
      const before = reader.calls.length;
      await d.explain(denied, ROLE);
      assert.equal(reader.calls.length, before, 'the failure is cached too');
    }
  });

  test('bad credentials at GetCallerIdentity name the IAM read they were for', async () => {
    const { reader } = fakeReader();
    const d = new Diagnoser({
      reader: { ...reader, callerAccount: () => Promise.reject(new IamReadError('denied', 'sts:GetCallerIdentity', 'the agent\'s credentials', 'InvalidClientTokenId')) },
      ttlMs: 10_000, logger: pino({ level: 'silent' }),
    });
    assert.match((await d.explain(denied, ROLE)).diagnosis?.hint ?? '', /\(InvalidClientTokenId\); allowing iam:GetRole on arn:aws:iam::111122223333:role\/payments/);
  });
});
