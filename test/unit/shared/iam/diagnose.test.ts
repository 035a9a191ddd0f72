// The diagnosis table: each misconfigured trust policy or provider gets its stable cause, names the
// statement and condition at fault, and comes with a correction that the same evaluator the STS
// emulator enforces allows. The integration test feeds the same table's corrections to STS itself.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CAUSES, diagnose, type DiagnosisInput } from '../../../../shared/iam/diagnose.ts';
import { evaluateTrustPolicy, parseTrustPolicy } from '../../../../shared/iam/trust-policy.ts';
import { diagnosisCases, type DiagnosisCase, type DiagnosisEnv } from './diagnosis-cases.ts';

const env: DiagnosisEnv = { providerUrl: 'oidc.example.com/id/ABC', account: '111122223333', namespace: 'shop', name: 'payments' };
const SUB = `system:serviceaccount:${env.namespace}:${env.name}`;
const PROVIDER_ARN = `arn:aws:iam::${env.account}:oidc-provider/${env.providerUrl}`;
const ROLE_ARN = `arn:aws:iam::${env.account}:role/payments`;
const token = { iss: `https://${env.providerUrl}`, sub: SUB, aud: ['sts.amazonaws.com'] };

const inputOf = (c: DiagnosisCase): DiagnosisInput => ({
  roleArn: ROLE_ARN, trustPolicy: c.trustPolicy === undefined ? undefined : JSON.stringify(c.trustPolicy),
  providers: c.providers ?? [{ url: env.providerUrl, clientIds: ['sts.amazonaws.com'] }], token,
});

describe('trust-policy diagnosis', () => {
  const cases = diagnosisCases(env);
  test(`the table has at least 30 misconfigurations (${cases.length}) and covers every cause`, () => {
    assert.ok(cases.length >= 30);
    const covered = new Set(cases.flatMap((c) => c.expect.causes));
    assert.deepEqual(Object.keys(CAUSES).filter((cause) => !covered.has(cause as keyof typeof CAUSES)), ['PolicyNotUnderstood']);
  });

  for (const c of cases) {
    test(c.name, () => {
      const d = diagnose(inputOf(c));
      const first = d.findings[0];
      assert.deepEqual(d.findings.map((f) => f.cause), c.expect.causes, JSON.stringify(d.findings, null, 1));
      assert.equal(d.cause, c.expect.causes[0]);
      assert.equal(first?.statement?.index, c.expect.statement);
      if (c.expect.sid !== undefined) assert.equal(first?.statement?.sid, c.expect.sid);
      if (c.expect.condition) {
        assert.deepEqual({ operator: first?.condition?.operator, key: first?.condition?.key }, c.expect.condition);
      }
      if (c.expect.subject) assert.deepEqual(first?.subject, c.expect.subject);
      assert.ok(first?.change.includes(c.expect.change), `change ${JSON.stringify(first?.change)} contains ${JSON.stringify(c.expect.change)}`);
      for (const f of d.findings) assert.ok(f.change.length <= 300 && f.message.length > 0);

      assert.equal(d.resolved, true);
      const policyChanges = c.expect.causes.some((cause) => !['ProviderMissingInAccount', 'ClientIdMissing'].includes(cause));
      assert.equal(d.correctedTrustPolicy !== undefined, policyChanges, 'a corrected policy exactly when the policy or the role is at fault');
      const providerChanges = c.expect.causes.includes('ProviderMissingInAccount') || c.expect.causes.includes('ClientIdMissing');
      assert.deepEqual(d.correctedProvider, providerChanges ? { url: env.providerUrl, clientIds: [...(c.providers?.[0]?.url === env.providerUrl ? c.providers[0].clientIds : []), 'sts.amazonaws.com'] } : undefined);
      const corrected = d.correctedTrustPolicy ?? c.trustPolicy;
      const evaluation = evaluateTrustPolicy(parseTrustPolicy(corrected), {
        federatedPrincipal: PROVIDER_ARN, action: 'sts:AssumeRoleWithWebIdentity',
        context: { [`${env.providerUrl}:sub`]: [SUB], [`${env.providerUrl}:aud`]: ['sts.amazonaws.com'] },
      });
      assert.equal(evaluation.decision, 'Allow', JSON.stringify(corrected));
    });
  }

  test('the demo case names shop-prod and shop in the one-line change', () => {
    const d = diagnose(inputOf(cases[0]!));
    assert.equal(d.findings[0]?.change,
      'Statement[0] Condition.StringEquals."oidc.example.com/id/ABC:sub": "system:serviceaccount:shop-prod:payments" → "system:serviceaccount:shop:payments"');
    assert.match(d.findings[0]?.message ?? '', /the namespace differs/);
  });

  test('the smallest correction changes only the value at fault and keeps everything else', () => {
    const policy = {
      Version: '2012-10-17',
      Statement: [{
        Sid: 'Payments', Effect: 'Allow', Principal: { Federated: PROVIDER_ARN }, Action: 'sts:AssumeRoleWithWebIdentity',
        Condition: { StringEquals: { [`${env.providerUrl}:sub`]: 'system:serviceaccount:shop-prod:payments', [`${env.providerUrl}:aud`]: 'sts.amazonaws.com' } },
      }],
    };
    const d = diagnose({ roleArn: ROLE_ARN, trustPolicy: policy, providers: [{ url: env.providerUrl, clientIds: ['sts.amazonaws.com'] }], token });
    const expected = structuredClone(policy);
    expected.Statement[0]!.Condition.StringEquals[`${env.providerUrl}:sub`] = SUB;
    assert.deepEqual(d.correctedTrustPolicy, expected);
    assert.equal(policy.Statement[0]!.Condition.StringEquals[`${env.providerUrl}:sub`], 'system:serviceaccount:shop-prod:payments', 'the input is not changed');
  });

  test('a policy that already allows has no cause and no correction', () => {
    const d = diagnose(inputOf({ name: 'ok', trustPolicy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Federated: PROVIDER_ARN }, Action: 'sts:AssumeRoleWithWebIdentity' }] }, expect: { causes: [], change: '' } }));
    assert.deepEqual(d, { cause: undefined, findings: [], correctedTrustPolicy: undefined, correctedProvider: undefined, resolved: true });
  });

  test('a global key (sts:RoleSessionName) that differs is a ConditionMismatch with the request\'s value', () => {
    const policy = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Federated: PROVIDER_ARN }, Action: 'sts:AssumeRoleWithWebIdentity', Condition: { StringEquals: { 'sts:RoleSessionName': 'batch' } } }] };
    const d = diagnose({ roleArn: ROLE_ARN, trustPolicy: policy, providers: [{ url: env.providerUrl, clientIds: ['sts.amazonaws.com'] }], token, roleSessionName: 'kube-irsa-probe' });
    assert.deepEqual(d.findings.map((f) => [f.cause, f.change]), [['ConditionMismatch', 'Statement[0] Condition.StringEquals."sts:RoleSessionName": "batch" → "kube-irsa-probe"']]);
    assert.deepEqual(d.findings[0]?.condition, { operator: 'StringEquals', key: 'sts:RoleSessionName', policyValues: ['batch'], requestValues: ['kube-irsa-probe'] });
    assert.equal(d.resolved, true);
  });

  test('a policy the evaluator cannot read is PolicyNotUnderstood, with where', () => {
    const d = diagnose({ roleArn: ROLE_ARN, trustPolicy: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"sts:*","Condition":{"NumericLessThan":{"k":"1"}}}]}', providers: [{ url: env.providerUrl, clientIds: ['sts.amazonaws.com'] }], token });
    assert.equal(d.cause, 'PolicyNotUnderstood');
    assert.equal(d.resolved, false);
    assert.match(d.findings[0]?.message ?? '', /Statement\[0\]\.Condition\.NumericLessThan: unsupported condition operator/);
  });

  test('a role ARN that is not one is a clear error', () => {
    assert.throws(() => diagnose({ roleArn: 'arn:aws:iam::1:role/x', trustPolicy: undefined, providers: [], token }), /not a role ARN: "arn:aws:iam::1:role\/x"/);
  });
});
