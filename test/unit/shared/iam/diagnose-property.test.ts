// Properties of the diagnosis over generated trust policies (mixtures of right and wrong principals,
// actions, operators, keys and values in several Allow and Deny statements): it never throws, it
// finds nothing exactly when the evaluator allows, and whenever it offers a correction the same
// evaluator the STS emulator enforces allows it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { diagnose } from '../../../../shared/iam/diagnose.ts';
import { evaluateTrustPolicy, parseTrustPolicy } from '../../../../shared/iam/trust-policy.ts';

const P = 'oidc.example.com/id/ABC';
const ACCOUNT = '111122223333';
const PROVIDER_ARN = `arn:aws:iam::${ACCOUNT}:oidc-provider/${P}`;
const SUB = 'system:serviceaccount:shop:payments';
const token = { iss: `https://${P}`, sub: SUB, aud: ['sts.amazonaws.com'] };
const request = { federatedPrincipal: PROVIDER_ARN, action: 'sts:AssumeRoleWithWebIdentity', context: { [`${P}:sub`]: [SUB], [`${P}:aud`]: ['sts.amazonaws.com'] } };

const principal = fc.constantFrom<unknown>(
  { Federated: PROVIDER_ARN }, { Federated: `arn:aws:iam::999988887777:oidc-provider/${P}` }, { Federated: `${PROVIDER_ARN}/` },
  { Federated: `https://${P}` }, { Federated: ['arn:aws:iam::111122223333:oidc-provider/other.example.com', PROVIDER_ARN] }, '*', { AWS: `arn:aws:iam::${ACCOUNT}:root` },
);
const action = fc.constantFrom<unknown>('sts:AssumeRoleWithWebIdentity', 'sts:AssumeRole', 'sts:*', ['sts:TagSession', 'sts:AssumeRole'], 'sts:AssumeRoleWith*');
const operator = fc.constantFrom('StringEquals', 'StringLike', 'StringNotEquals', 'StringNotLike', 'StringEqualsIfExists', 'StringEqualsIgnoreCase', 'ForAnyValue:StringLike', 'ForAllValues:StringEquals', 'Null');
const key = fc.constantFrom(`${P}:sub`, `${P}:aud`, `${P}:amr`, `${P}:sub `, `https://${P}:sub`, `${P.toUpperCase()}:SUB`, 'oidc.old.example.com:aud', 'sts:RoleSessionName', `${P}:subject`);
const value = fc.constantFrom(SUB, 'system:serviceaccount:shop-prod:payments', 'system:serviceaccount:shop:*', 'system:serviceaccount:*:payments', 'system:serviceaccount:other:x',
  'sts.amazonaws.com', 'sts.amazonaws.com.cn', 'sts.*', 'authenticated', 'probe', 'true', 'false');
const condition = fc.dictionary(operator, fc.dictionary(key, fc.oneof(value, fc.array(value, { minLength: 1, maxLength: 3 })), { minKeys: 1, maxKeys: 2 }), { maxKeys: 3 })
  // Null takes only "true" or "false"
  .map((c) => Object.fromEntries(Object.entries(c).map(([op, block]) => [op, op === 'Null' ? Object.fromEntries(Object.keys(block).map((k) => [k, 'false'])) : block])));
const statement = fc.record({ Effect: fc.constantFrom('Allow', 'Allow', 'Deny'), Principal: principal, Action: action, Condition: condition })
  .map((s) => (Object.keys(s.Condition).length === 0 ? { ...s, Condition: undefined } : s));
const policy = fc.array(statement, { minLength: 1, maxLength: 3 }).map((Statement) => ({ Version: '2012-10-17', Statement }));

test('over generated policies: no throw, findings exactly when denied, every correction allowed by the evaluator', () => {
  let unresolved = 0;
  let runs = 0;
  fc.assert(fc.property(policy, (p) => {
    runs++;
    const text = JSON.stringify(p);
    const before = evaluateTrustPolicy(parseTrustPolicy(text), request).decision;
    const d = diagnose({ roleArn: `arn:aws:iam::${ACCOUNT}:role/payments`, trustPolicy: text, providers: [{ url: P, clientIds: ['sts.amazonaws.com'] }], token });
    assert.equal(d.findings.length === 0, before === 'Allow');
    if (!d.resolved) {
      unresolved++;
      return;
    }
    if (before !== 'Allow') {
      assert.ok(d.correctedTrustPolicy, 'a denied policy that is resolved comes with its correction');
      assert.equal(evaluateTrustPolicy(parseTrustPolicy(d.correctedTrustPolicy), request).decision, 'Allow', JSON.stringify({ p, corrected: d.correctedTrustPolicy, findings: d.findings.map((f) => f.change) }));
    }
    for (const f of d.findings) assert.ok(f.change.length <= 300 && f.message.length > 0);
  }), { numRuns: 400, seed: 17 });
  console.log(`# ${runs} generated policies, ${unresolved} without a correction`);
  // every generated key is a claim or a misspelling of one, so every policy gets its correction
  assert.equal(unresolved, 0);
});
