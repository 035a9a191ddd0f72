import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseServiceAccountAnnotations, type IdentityDefaults } from '../../../../shared/identity/annotations.ts';
import { IdentityMapping, parseIdentityMapping } from '../../../../shared/identity/config-map.ts';
import { ContainerCredentialsConfig, parseContainerCredentialsConfig } from '../../../../shared/identity/container-credentials.ts';
import { resolveIdentity } from '../../../../shared/identity/resolve.ts';

const defaults: IdentityDefaults = { annotationPrefix: 'eks.amazonaws.com', audience: 'sts.amazonaws.com', stsRegionalEndpoints: false, tokenExpirationSeconds: 86_400, injectRoleSessionName: false };
const role = (n: string) => `arn:aws:iam::111122223333:role/${n}`;
const sa = (a: Record<string, string>) => parseServiceAccountAnnotations(a, defaults);
const mapping = (doc: unknown) => {
  const r = parseIdentityMapping(JSON.stringify(doc), defaults);
  assert.ok(r.ok);
  return r.mapping;
};
const resolve = (over: Partial<Parameters<typeof resolveIdentity>[0]>) => resolveIdentity({
  namespace: 'ns', serviceAccountName: 'app', serviceAccount: undefined, mapping: IdentityMapping.empty,
  containerCredentials: ContainerCredentialsConfig.empty, defaults, ...over,
});

describe('resolveIdentity', () => {
  test('a ServiceAccount role annotation wins over the ConfigMap', () => {
    const r = resolve({ serviceAccount: sa({ 'eks.amazonaws.com/role-arn': role('sa') }), mapping: mapping({ 'ns/app': { RoleARN: role('cm') } }) });
    assert.equal(r?.mode === 'web-identity' && r.roleArn, role('sa'));
    assert.equal(r?.source, 'service-account');
  });
  test('the ConfigMap applies when the ServiceAccount has no role, with all its values', () => {
    const r = resolve({ serviceAccount: sa({ 'eks.amazonaws.com/audience': 'ignored' }), mapping: mapping({ '*/app': { RoleARN: role('cm'), Audience: 'a', UseRegionalSTS: true, TokenExpiration: 7200 } }) });
    assert.deepEqual(r && { ...r, warnings: [...r.warnings] }, {
      mode: 'web-identity', roleArn: role('cm'), audience: 'a', stsRegionalEndpoints: true, tokenExpirationSeconds: 7200,
      injectRoleSessionName: false, source: 'config-map', sourceDetail: '*/app', warnings: [],
    });
  });
  test('the ConfigMap applies to a ServiceAccount not (yet) known', () => assert.equal(resolve({ mapping: mapping({ 'ns/app': { RoleARN: role('cm') } }) })?.source, 'config-map'));
  test('nothing: no identity', () => assert.equal(resolve({ serviceAccount: sa({}) }), undefined));
  test('a ConfigMap entry with an empty RoleARN gives no identity', () => assert.equal(resolve({ mapping: mapping({ 'ns/app': { Audience: 'x' } }) }), undefined));
  test('container-credentials association wins over a role annotation', () => {
    const cc = parseContainerCredentialsConfig('{"identities":[{"namespace":"ns","serviceAccount":"app"}]}');
    assert.ok(cc.ok);
    const r = resolve({ serviceAccount: sa({ 'eks.amazonaws.com/role-arn': role('sa'), 'eks.amazonaws.com/token-expiration': '10000' }), containerCredentials: cc.config });
    assert.equal(r?.mode, 'container-credentials');
    assert.equal(r?.tokenExpirationSeconds, 10_000);
  });
  test('container-credentials for an unknown ServiceAccount uses the exact ConfigMap entry, else (false, 86400)', () => {
    const cc = new ContainerCredentialsConfig(new Set(['ns/app']));
    assert.equal(resolve({ containerCredentials: cc, mapping: mapping({ 'ns/app': { UseRegionalSTS: true, TokenExpiration: 3600 } }) })?.tokenExpirationSeconds, 3600);
    assert.equal(resolve({ containerCredentials: cc, mapping: mapping({ '*/app': { UseRegionalSTS: true, TokenExpiration: 3600 } }) })?.tokenExpirationSeconds, 86_400);
  });
});

describe('container-credentials config', () => {
  test('empty disables the mode', () => {
    const r = parseContainerCredentialsConfig('');
    assert.ok(r.ok && r.config.size === 0);
  });
  test('malformed JSON and incomplete identities are rejected', () => {
    assert.equal(parseContainerCredentialsConfig('{"identities": [').ok, false);
    const r = parseContainerCredentialsConfig('{"identities":[{"namespace":"ns"}]}');
    assert.ok(!r.ok && /identities\[0\] must have a non-empty "namespace" and "serviceAccount"/.test(r.errors[0]!));
  });
});
