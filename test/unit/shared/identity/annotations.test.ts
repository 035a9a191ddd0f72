import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { annotationsUnderPrefix, parseGoBool, parseGoInt, parseServiceAccountAnnotations, type IdentityDefaults } from '../../../../shared/identity/annotations.ts';

const defaults: IdentityDefaults = {
  annotationPrefix: 'eks.amazonaws.com', audience: 'sts.amazonaws.com', stsRegionalEndpoints: false, tokenExpirationSeconds: 86_400, injectRoleSessionName: false,
};
const ROLE = 'arn:aws:iam::111122223333:role/app';
const parse = (a: Record<string, string>, d: Partial<IdentityDefaults> = {}) => parseServiceAccountAnnotations(a, { ...defaults, ...d }, 'ServiceAccount ns/app');

describe('ServiceAccount annotations', () => {
  test('no annotations: no role, flag defaults', () => {
    assert.deepEqual(parse({}), { roleArn: undefined, audience: 'sts.amazonaws.com', stsRegionalEndpoints: false, tokenExpirationSeconds: 86_400, roleSessionName: false, warnings: [] });
  });
  test('all four reference annotations', () => {
    const r = parse({ 'eks.amazonaws.com/role-arn': ROLE, 'eks.amazonaws.com/audience': 'custom', 'eks.amazonaws.com/sts-regional-endpoints': 'true', 'eks.amazonaws.com/token-expiration': '3600' });
    assert.deepEqual(r, { roleArn: ROLE, audience: 'custom', stsRegionalEndpoints: true, tokenExpirationSeconds: 3600, roleSessionName: false, warnings: [] });
  });
  test('an empty role annotation means no role', () => assert.equal(parse({ 'eks.amazonaws.com/role-arn': '' }).roleArn, undefined));
  test('another prefix is honoured and the default one ignored', () => {
    const r = parse({ 'eks.amazonaws.com/role-arn': ROLE, 'irsa.example.com/role-arn': 'arn:aws:iam::111122223333:role/other' }, { annotationPrefix: 'irsa.example.com' });
    assert.equal(r.roleArn, 'arn:aws:iam::111122223333:role/other');
  });
  test('a malformed role ARN is kept but warned about', () => {
    const r = parse({ 'eks.amazonaws.com/role-arn': 'arn:aws:iam::::1234567890:role/example' });
    assert.equal(r.roleArn, 'arn:aws:iam::::1234567890:role/example');
    assert.match(r.warnings[0]!, /ServiceAccount ns\/app: annotation eks\.amazonaws\.com\/role-arn "arn:aws:iam::::1234567890:role\/example" is not a well-formed IAM role ARN/);
  });
  test('an expiration below 600 is raised, with a warning', () => {
    const r = parse({ 'eks.amazonaws.com/token-expiration': '60' });
    assert.equal(r.tokenExpirationSeconds, 600);
    assert.match(r.warnings[0]!, /60 s is below the minimum token expiration; using 600 s/);
  });
  test('an unparsable expiration keeps the default, with a warning', () => {
    const r = parse({ 'eks.amazonaws.com/token-expiration': '1h' });
    assert.equal(r.tokenExpirationSeconds, 86_400);
    assert.match(r.warnings[0]!, /"1h" is not a whole number of seconds; using 86400/);
  });
  test('an unparsable sts-regional-endpoints keeps the flag default (reference), with a warning', () => {
    const r = parse({ 'eks.amazonaws.com/sts-regional-endpoints': 'yes' }, { stsRegionalEndpoints: true });
    assert.equal(r.stsRegionalEndpoints, true);
    assert.match(r.warnings[0]!, /"yes" is not true or false/);
  });
  test('the SA annotation false beats a true flag', () => assert.equal(parse({ 'eks.amazonaws.com/sts-regional-endpoints': 'false' }, { stsRegionalEndpoints: true }).stsRegionalEndpoints, false));
  test('role-session-name opts a ServiceAccount in', () => assert.equal(parse({ 'eks.amazonaws.com/role-session-name': 'true' }).roleSessionName, true));
  test('--compose-role-arn turns a role name into an ARN', () => {
    const r = parse({ 'eks.amazonaws.com/role-arn': 'team/app' }, { composeRoleArn: { partition: 'aws-cn', accountId: '111122223333' } });
    assert.equal(r.roleArn, 'arn:aws-cn:iam::111122223333:role/team/app');
    assert.deepEqual(r.warnings, []);
  });
});

describe('Go parsing rules', () => {
  test('ParseBool accepts exactly Go\'s spellings', () => {
    for (const t of ['1', 't', 'T', 'TRUE', 'true', 'True']) assert.equal(parseGoBool(t), true);
    for (const f of ['0', 'f', 'F', 'FALSE', 'false', 'False']) assert.equal(parseGoBool(f), false);
    for (const bad of ['', 'yes', 'tRUE', ' true']) assert.equal(parseGoBool(bad), undefined);
  });
  test('ParseInt takes an optional sign and digits only', () => {
    assert.equal(parseGoInt('+3600'), 3600);
    assert.equal(parseGoInt('-5'), -5);
    for (const bad of ['', '1.5', '3600s', ' 1', '1e3']) assert.equal(parseGoInt(bad), undefined);
  });
});

test('annotationsUnderPrefix keeps only the prefix\'s keys', () => {
  assert.deepEqual(annotationsUnderPrefix({ 'eks.amazonaws.com/role-arn': 'x', 'other/a': 'y', 'eks.amazonaws.comx/b': 'z' }, 'eks.amazonaws.com'), { 'eks.amazonaws.com/role-arn': 'x' });
  assert.equal(annotationsUnderPrefix({ a: 'b' }, 'eks.amazonaws.com'), undefined);
});
