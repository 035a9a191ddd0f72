import assert from 'node:assert/strict';
import { test } from 'node:test';
import { impersonationHeaders, impersonationOf } from '../../../../shared/kube/impersonation.ts';

test('impersonationOf: as-groups, as-uid and as-user-extra as a kubeconfig writes them; nothing asked is undefined', () => {
  assert.equal(impersonationOf(undefined), undefined);
  assert.equal(impersonationOf({ token: 't', as: 'jane' }), undefined, '`as` alone is client-node\'s');
  assert.equal(impersonationOf({ 'as-groups': [], 'as-uid': '', 'as-user-extra': {} }), undefined);
  const imp = impersonationOf({ as: 'jane', 'as-groups': ['a', 7, 'b'], 'as-uid': 'u-1', 'as-user-extra': { reason: ['x', 'y'], empty: [], bad: 'z' } });
  assert.deepEqual(imp?.groups, ['a', 'b'], 'non-strings dropped');
  assert.equal(imp?.uid, 'u-1');
  assert.deepEqual([...(imp?.extra ?? [])], [['reason', ['x', 'y']]]);
});

test('impersonationHeaders: one header line per value, extra keys escaped into a valid header name', () => {
  const imp = impersonationOf({ 'as-groups': ['g1', 'g2'], 'as-uid': 'u', 'as-user-extra': { 'acme.com/Scopes': ['read write'] } });
  assert.ok(imp);
  assert.deepEqual(impersonationHeaders(imp), {
    'impersonate-group': ['g1', 'g2'],
    'impersonate-uid': ['u'],
    'impersonate-extra-acme.com%2fscopes': ['read write'],
  });
});
