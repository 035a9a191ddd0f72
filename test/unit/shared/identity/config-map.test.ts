import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseIdentityMapping } from '../../../../shared/identity/config-map.ts';
import type { IdentityDefaults } from '../../../../shared/identity/annotations.ts';

const defaults: IdentityDefaults = { annotationPrefix: 'eks.amazonaws.com', audience: 'sts.amazonaws.com', stsRegionalEndpoints: false, tokenExpirationSeconds: 86_400, injectRoleSessionName: false };
const role = (n: string) => `arn:aws:iam::111122223333:role/${n}`;
const ok = (text: string) => {
  const r = parseIdentityMapping(text, defaults);
  assert.ok(r.ok, JSON.stringify(r));
  return r;
};
const errors = (text: string) => {
  const r = parseIdentityMapping(text, defaults);
  assert.ok(!r.ok);
  return r.errors;
};

describe('identity mapping ConfigMap', () => {
  test('the README example: field names match case-insensitively, TokenExpiration 0 means the flag', () => {
    const { mapping } = ok(JSON.stringify({ 'default/myserviceaccount': { RoleARN: role('a'), Audience: 'amazonaws.com', UseRegionalSTS: true, TokenExpiration: 0 } }));
    assert.deepEqual(mapping.lookup('default', 'myserviceaccount'), { key: 'default/myserviceaccount', roleArn: role('a'), audience: 'amazonaws.com', stsRegionalEndpoints: true, tokenExpirationSeconds: 86_400 });
    assert.equal(ok('{"ns/sa":{"rolearn":"x","tokenexpiration":3600}}').mapping.lookup('ns', 'sa')?.tokenExpirationSeconds, 3600);
  });
  test('an absent audience uses --token-audience (the reference would mint an API-server token)', () => {
    assert.equal(ok(`{"ns/sa":{"RoleARN":"${role('a')}"}}`).mapping.lookup('ns', 'sa')?.audience, 'sts.amazonaws.com');
  });
  test('exact beats glob beats *', () => {
    const { mapping } = ok(JSON.stringify({ '*/app': { RoleARN: role('star') }, 'team-*/app': { RoleARN: role('team') }, 'team-a*/app': { RoleARN: role('team-a') }, 'team-a1/app': { RoleARN: role('exact') } }));
    assert.equal(mapping.lookup('team-a1', 'app')?.roleArn, role('exact'));
    assert.equal(mapping.lookup('team-a2', 'app')?.roleArn, role('team-a'), 'the most specific glob wins');
    assert.equal(mapping.lookup('team-b', 'app')?.roleArn, role('team'));
    assert.equal(mapping.lookup('other', 'app')?.roleArn, role('star'));
    assert.equal(mapping.lookup('other', 'db'), undefined);
    assert.equal(mapping.lookupExact('team-b', 'app'), undefined, 'container-credentials mode sees exact keys only');
    assert.equal(mapping.size, 4);
  });
  test('a glob does not match across the whole string unless it says so', () => {
    const { mapping } = ok(JSON.stringify({ 'test-*/app': { RoleARN: role('t') } }));
    assert.equal(mapping.lookup('mytest-1', 'app'), undefined);
    assert.equal(mapping.lookup('test-', 'app')?.roleArn, role('t'));
  });
  test('an expiration below 600 is raised with a warning', () => {
    const r = ok(`{"ns/sa":{"RoleARN":"x","TokenExpiration":60}}`);
    assert.equal(r.mapping.lookup('ns', 'sa')?.tokenExpirationSeconds, 600);
    assert.match(r.warnings[0]!, /TokenExpiration: 60 s is below the minimum/);
  });
  test('empty or missing config is an empty mapping', () => {
    assert.equal(ok('').mapping.size, 0);
    assert.equal(parseIdentityMapping(undefined, defaults).ok, true);
  });
  test('bad JSON is rejected', () => assert.match(errors('{"ns/sa":')[0]!, /"config" is not valid JSON/));
  test('a key without / is rejected (the reference crashes on it)', () => assert.match(errors('{"nosep":{"RoleARN":"x"}}')[0]!, /key "nosep" must be "namespace\/serviceAccount"/));
  test('a null entry is rejected (the reference crashes on it)', () => assert.match(errors('{"ns/sa":null}')[0]!, /"ns\/sa" must be an object .* got null/));
  test('wrong field types are rejected with every problem', () => {
    assert.deepEqual(errors('{"ns/sa":{"RoleARN":1,"UseRegionalSTS":"yes","TokenExpiration":"1h"}}'), ['"ns/sa": RoleARN must be a string; UseRegionalSTS must be true or false; TokenExpiration must be a whole number of seconds']);
  });
  test('a document that is not an object is rejected', () => assert.match(errors('[]')[0]!, /must be a JSON object/));
});
