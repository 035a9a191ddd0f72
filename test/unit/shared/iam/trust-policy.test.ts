// Table of trust-policy cases, each following the IAM documentation's semantics (condition
// operators, multi-value and set operators, missing keys, IfExists, Null, evaluation logic).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { evaluateTrustPolicy, parseTrustPolicy, PolicyError, type Decision } from '../../../../shared/iam/trust-policy.ts';

const P = 'oidc.example.com/id/ABC';
const PROVIDER = `arn:aws:iam::111122223333:oidc-provider/${P}`;
const OTHER_PROVIDER = 'arn:aws:iam::111122223333:oidc-provider/oidc.example.com/id/OTHER';
const SUB = 'system:serviceaccount:team-a:app';
const ACTION = 'sts:AssumeRoleWithWebIdentity';

const allow = (condition?: unknown, extra: Record<string, unknown> = {}) => ({
  Effect: 'Allow', Principal: { Federated: PROVIDER }, Action: ACTION, ...(condition ? { Condition: condition } : {}), ...extra,
});
const deny = (condition?: unknown, extra: Record<string, unknown> = {}) => ({ ...allow(condition, extra), Effect: 'Deny' });
const policy = (...Statement: unknown[]) => ({ Version: '2012-10-17', Statement });

interface Case {
  name: string;
  policy: unknown;
  context?: Record<string, string[]>;
  principal?: string;
  action?: string;
  expect: Decision;
}

const ctx = (over: Record<string, string[]> = {}) => ({ [`${P}:sub`]: [SUB], [`${P}:aud`]: ['sts.amazonaws.com'], ...over });

const cases: Case[] = [
  // Principal and Action
  { name: 'the documented IRSA policy (StringEquals sub and aud) allows', policy: policy(allow({ StringEquals: { [`${P}:sub`]: SUB, [`${P}:aud`]: 'sts.amazonaws.com' } })), expect: 'Allow' },
  { name: 'no condition at all allows any token of the provider', policy: policy(allow()), expect: 'Allow' },
  { name: 'Federated principal of another provider does not apply', policy: policy(allow()), principal: OTHER_PROVIDER, expect: 'ImplicitDeny' },
  { name: 'Federated principal as a list matches any entry', policy: policy(allow(undefined, { Principal: { Federated: [OTHER_PROVIDER, PROVIDER] } })), expect: 'Allow' },
  { name: 'Principal "*" matches', policy: policy(allow(undefined, { Principal: '*' })), expect: 'Allow' },
  { name: 'Principal {"AWS": "*"} matches', policy: policy(allow(undefined, { Principal: { AWS: '*' } })), expect: 'Allow' },
  { name: 'a Service principal does not match a federated caller', policy: policy(allow(undefined, { Principal: { Service: 'ec2.amazonaws.com' } })), expect: 'ImplicitDeny' },
  { name: 'NotPrincipal naming another provider applies', policy: policy({ Effect: 'Allow', NotPrincipal: { Federated: OTHER_PROVIDER }, Action: ACTION }), expect: 'Allow' },
  { name: 'Action sts:AssumeRole does not cover AssumeRoleWithWebIdentity', policy: policy(allow(undefined, { Action: 'sts:AssumeRole' })), expect: 'ImplicitDeny' },
  { name: 'Action wildcard sts:* matches', policy: policy(allow(undefined, { Action: 'sts:*' })), expect: 'Allow' },
  { name: 'Action wildcard sts:AssumeRole* matches', policy: policy(allow(undefined, { Action: 'sts:AssumeRole*' })), expect: 'Allow' },
  { name: 'Action names are case-insensitive', policy: policy(allow(undefined, { Action: 'STS:assumerolewithwebidentity' })), expect: 'Allow' },
  { name: 'Action list matches any entry', policy: policy(allow(undefined, { Action: ['sts:TagSession', ACTION] })), expect: 'Allow' },
  { name: 'NotAction excluding the action does not apply', policy: policy({ Effect: 'Allow', Principal: { Federated: PROVIDER }, NotAction: ACTION }), expect: 'ImplicitDeny' },

  // StringEquals / StringLike on sub
  { name: 'StringEquals with the wrong namespace in sub denies', policy: policy(allow({ StringEquals: { [`${P}:sub`]: 'system:serviceaccount:team-b:app' } })), expect: 'ImplicitDeny' },
  { name: 'StringEquals with a wildcard does NOT match (literal comparison)', policy: policy(allow({ StringEquals: { [`${P}:sub`]: 'system:serviceaccount:team-a:*' } })), expect: 'ImplicitDeny' },
  { name: 'StringLike with a namespace wildcard matches', policy: policy(allow({ StringLike: { [`${P}:sub`]: 'system:serviceaccount:team-a:*' } })), expect: 'Allow' },
  { name: 'StringLike * matches across colons', policy: policy(allow({ StringLike: { [`${P}:sub`]: 'system:*:app' } })), expect: 'Allow' },
  { name: 'StringLike ? matches exactly one character', policy: policy(allow({ StringLike: { [`${P}:sub`]: 'system:serviceaccount:team-?:app' } })), expect: 'Allow' },
  { name: 'StringLike ? does not match two characters', policy: policy(allow({ StringLike: { [`${P}:sub`]: 'system:serviceaccount:team?:app' } })), context: ctx({ [`${P}:sub`]: ['system:serviceaccount:team-ab:app'] }), expect: 'ImplicitDeny' },
  { name: 'StringLike without wildcards needs the whole value', policy: policy(allow({ StringLike: { [`${P}:sub`]: 'team-a' } })), expect: 'ImplicitDeny' },
  { name: 'StringLike ${*} is a literal asterisk', policy: policy(allow({ StringLike: { [`${P}:sub`]: 'system:serviceaccount:team-a:${*}' } })), expect: 'ImplicitDeny' },
  { name: 'StringLike ${*} matches a real asterisk', policy: policy(allow({ StringLike: { [`${P}:sub`]: 'a${*}b' } })), context: ctx({ [`${P}:sub`]: ['a*b'] }), expect: 'Allow' },
  { name: 'string values are case-sensitive', policy: policy(allow({ StringEquals: { [`${P}:sub`]: SUB.toUpperCase() } })), expect: 'ImplicitDeny' },
  { name: 'StringEqualsIgnoreCase ignores case', policy: policy(allow({ StringEqualsIgnoreCase: { [`${P}:sub`]: SUB.toUpperCase() } })), expect: 'Allow' },
  { name: 'condition key names are case-insensitive', policy: policy(allow({ StringEquals: { [`${P.toUpperCase()}:SUB`]: SUB } })), expect: 'Allow' },
  { name: 'several values for one key are OR', policy: policy(allow({ StringEquals: { [`${P}:sub`]: ['system:serviceaccount:x:y', SUB] } })), expect: 'Allow' },
  { name: 'several keys under one operator are AND (aud wrong)', policy: policy(allow({ StringEquals: { [`${P}:sub`]: SUB, [`${P}:aud`]: 'sts.amazonaws.com.cn' } })), expect: 'ImplicitDeny' },
  { name: 'several operators are AND (StringEquals aud and StringLike sub)', policy: policy(allow({ StringEquals: { [`${P}:aud`]: 'sts.amazonaws.com' }, StringLike: { [`${P}:sub`]: 'system:serviceaccount:team-a:*' } })), expect: 'Allow' },
  { name: 'the same key under two operators must satisfy both', policy: policy(allow({ StringEquals: { [`${P}:sub`]: SUB }, StringLike: { [`${P}:sub`]: 'system:serviceaccount:other:*' } })), expect: 'ImplicitDeny' },

  // negated operators and missing keys
  { name: 'StringNotEquals is true when the value differs', policy: policy(allow({ StringNotEquals: { [`${P}:sub`]: 'system:serviceaccount:kube-system:default' } })), expect: 'Allow' },
  { name: 'StringNotEquals with several values must match none (AND)', policy: policy(allow({ StringNotEquals: { [`${P}:sub`]: ['system:serviceaccount:x:y', SUB] } })), expect: 'ImplicitDeny' },
  { name: 'StringNotLike excludes a namespace', policy: policy(allow({ StringNotLike: { [`${P}:sub`]: 'system:serviceaccount:team-a:*' } })), expect: 'ImplicitDeny' },
  { name: 'a missing key makes StringEquals false', policy: policy(allow({ StringEquals: { [`${P}:amr`]: 'authenticated' } })), expect: 'ImplicitDeny' },
  { name: 'a missing key makes StringNotEquals true', policy: policy(allow({ StringNotEquals: { [`${P}:amr`]: 'unauthenticated' } })), expect: 'Allow' },
  { name: 'StringEqualsIfExists is true for a missing key', policy: policy(allow({ StringEqualsIfExists: { [`${P}:amr`]: 'authenticated' } })), expect: 'Allow' },
  { name: 'StringEqualsIfExists still checks a present key', policy: policy(allow({ StringEqualsIfExists: { [`${P}:sub`]: 'system:serviceaccount:x:y' } })), expect: 'ImplicitDeny' },
  { name: 'Null "true" is true only for a missing key', policy: policy(allow({ Null: { [`${P}:amr`]: 'true' } })), expect: 'Allow' },
  { name: 'Null "true" is false for a present key', policy: policy(allow({ Null: { [`${P}:sub`]: 'true' } })), expect: 'ImplicitDeny' },
  { name: 'Null "false" requires the key', policy: policy(allow({ Null: { [`${P}:sub`]: 'false' } })), expect: 'Allow' },

  // set operators
  { name: 'ForAnyValue:StringLike on amr matches one of several values', policy: policy(allow({ 'ForAnyValue:StringLike': { [`${P}:amr`]: 'authenticated' } })), context: ctx({ [`${P}:amr`]: ['authenticated', 'graph.facebook.com'] }), expect: 'Allow' },
  { name: 'ForAnyValue is false for a missing key', policy: policy(allow({ 'ForAnyValue:StringEquals': { [`${P}:amr`]: 'authenticated' } })), expect: 'ImplicitDeny' },
  { name: 'ForAllValues is true for a missing key', policy: policy(allow({ 'ForAllValues:StringEquals': { [`${P}:amr`]: 'authenticated' } })), expect: 'Allow' },
  { name: 'ForAllValues needs every request value to match', policy: policy(allow({ 'ForAllValues:StringEquals': { [`${P}:amr`]: 'authenticated' } })), context: ctx({ [`${P}:amr`]: ['authenticated', 'unauthenticated'] }), expect: 'ImplicitDeny' },
  { name: 'ForAllValues on single-valued sub treats it as a one-element set', policy: policy(allow({ 'ForAllValues:StringLike': { [`${P}:sub`]: 'system:serviceaccount:team-a:*' } })), expect: 'Allow' },

  // statements and Deny precedence
  { name: 'an explicit Deny wins over a matching Allow', policy: policy(allow(), deny({ StringLike: { [`${P}:sub`]: 'system:serviceaccount:team-a:*' } })), expect: 'ExplicitDeny' },
  { name: 'a Deny whose condition is false does not apply', policy: policy(allow(), deny({ StringEquals: { [`${P}:sub`]: 'system:serviceaccount:other:x' } })), expect: 'Allow' },
  { name: 'any one of several Allow statements is enough', policy: policy(allow({ StringEquals: { [`${P}:sub`]: 'nope' } }), allow({ StringEquals: { [`${P}:sub`]: SUB } })), expect: 'Allow' },
  { name: 'a Deny-only policy is an explicit deny', policy: policy(deny()), expect: 'ExplicitDeny' },
  { name: 'an empty statement list is an implicit deny', policy: { Version: '2012-10-17', Statement: [] }, expect: 'ImplicitDeny' },
  { name: 'a single Statement object (not a list) is accepted', policy: { Version: '2012-10-17', Statement: allow() }, expect: 'Allow' },
  { name: 'a Deny for another provider does not block this one', policy: policy(allow(), deny(undefined, { Principal: { Federated: OTHER_PROVIDER } })), expect: 'Allow' },

  // policy variables (Version 2012-10-17 only)
  { name: 'policy variable ${sts:RoleSessionName} is substituted', policy: policy(allow({ StringLike: { [`${P}:sub`]: 'system:serviceaccount:team-a:${sts:RoleSessionName}' } })), context: ctx({ 'sts:RoleSessionName': ['app'] }), expect: 'Allow' },
  { name: 'policy variables are literal text under Version 2008-10-17', policy: { Version: '2008-10-17', Statement: [allow({ StringLike: { [`${P}:sub`]: 'system:serviceaccount:team-a:${sts:RoleSessionName}' } })] }, context: ctx({ 'sts:RoleSessionName': ['app'] }), expect: 'ImplicitDeny' },
];

describe('trust-policy evaluation', () => {
  test(`covers at least 40 documented cases (${cases.length})`, () => assert.ok(cases.length >= 40));
  for (const c of cases) {
    test(c.name, () => {
      const result = evaluateTrustPolicy(parseTrustPolicy(JSON.stringify(c.policy)), {
        federatedPrincipal: c.principal ?? PROVIDER,
        action: c.action ?? ACTION,
        context: c.context ?? ctx(),
      });
      assert.equal(result.decision, c.expect, JSON.stringify(result.statements));
    });
  }

  test('explains why a statement does not apply', () => {
    const result = evaluateTrustPolicy(parseTrustPolicy(policy(allow({ StringEquals: { [`${P}:sub`]: 'system:serviceaccount:team-b:app' } }))), {
      federatedPrincipal: PROVIDER, action: ACTION, context: ctx(),
    });
    assert.equal(result.statements[0]?.mismatch, `Condition StringEquals ${P}:sub ["system:serviceaccount:team-b:app"] is false for ["${SUB}"]`);
  });

  test('traces every condition of a statement, with the policy values and the request values', () => {
    const result = evaluateTrustPolicy(parseTrustPolicy(policy(allow({
      StringEquals: { [`${P}:sub`]: 'system:serviceaccount:team-b:app', [`${P}:aud`]: 'sts.amazonaws.com' },
      StringEqualsIfExists: { [`${P}:amr`]: 'authenticated' },
    }))), { federatedPrincipal: PROVIDER, action: ACTION, context: ctx() });
    const s = result.statements[0]!;
    assert.equal(s.applies, false);
    assert.deepEqual(s.principal, { element: 'Principal', matched: true, federated: [PROVIDER], any: false, request: PROVIDER });
    assert.deepEqual(s.action, { element: 'Action', matched: true, patterns: [ACTION], request: ACTION });
    assert.deepEqual(s.conditions, [
      { operator: 'StringEquals', key: `${P}:sub`, policyValues: ['system:serviceaccount:team-b:app'], requestValues: [SUB], matched: false },
      { operator: 'StringEquals', key: `${P}:aud`, policyValues: ['sts.amazonaws.com'], requestValues: ['sts.amazonaws.com'], matched: true },
      { operator: 'StringEqualsIfExists', key: `${P}:amr`, policyValues: ['authenticated'], requestValues: undefined, matched: true },
    ]);
  });

  test('traces a NotPrincipal and a NotAction that exclude the request', () => {
    const result = evaluateTrustPolicy(parseTrustPolicy(policy(
      { Effect: 'Allow', NotPrincipal: { Federated: PROVIDER }, Action: ACTION },
      { Effect: 'Deny', Principal: { Federated: PROVIDER }, NotAction: 'sts:AssumeRole*' },
    )), { federatedPrincipal: PROVIDER, action: ACTION, context: ctx() });
    assert.equal(result.decision, 'ImplicitDeny');
    assert.deepEqual([result.statements[0]!.principal.element, result.statements[0]!.principal.matched], ['NotPrincipal', false]);
    assert.equal(result.statements[0]!.mismatch, `NotPrincipal names ${PROVIDER}`);
    assert.deepEqual([result.statements[1]!.action.element, result.statements[1]!.action.matched], ['NotAction', false]);
    assert.equal(result.statements[1]!.mismatch, `NotAction includes ${ACTION}`);
  });
});

describe('trust-policy parsing', () => {
  const bad: Array<[string, unknown, RegExp]> = [
    ['invalid JSON', '{"Statement": [', /^\$: not valid JSON/],
    ['an unknown operator', policy(allow({ StringEqualz: { [`${P}:sub`]: SUB } })), /Statement\[0\]\.Condition\.StringEqualz: unsupported condition operator "StringEqualz"/],
    ['an unknown set qualifier target', policy(allow({ 'ForAnyValue:StringSorta': { k: 'v' } })), /unsupported condition operator "ForAnyValue:StringSorta"/],
    ['a bad Effect', policy({ ...allow(), Effect: 'Maybe' }), /Statement\[0\]\.Effect: must be "Allow" or "Deny"/],
    ['a missing Action', policy({ Effect: 'Allow', Principal: '*' }), /needs exactly one of Action or NotAction/],
    ['a bad Version', { Version: '2020-01-01', Statement: [] }, /Version: must be/],
    ['a missing Statement', { Version: '2012-10-17' }, /Statement: is required/],
    ['a Null with a non-boolean value', policy(allow({ Null: { k: 'yes' } })), /Null takes "true" or "false"/],
    ['a null condition value', policy(allow({ StringEquals: { k: null } })), /must be a string, got null/],
  ];
  for (const [name, input, message] of bad) {
    test(`rejects ${name} with its location`, () => {
      assert.throws(() => parseTrustPolicy(typeof input === 'string' ? input : JSON.stringify(input)), (err: unknown) => {
        assert.ok(err instanceof PolicyError);
        assert.match(err.message, message);
        return true;
      });
    });
  }
});
