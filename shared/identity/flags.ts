// The flags that decide which identity a pod gets. The webhook and the agent both take them, with
// the reference webhook's names and defaults, so the two always resolve a ServiceAccount alike.
import type { FlagSpecs, FlagValues } from '../cli/flags.ts';
import { clampTokenExpiration, type IdentityDefaults } from './annotations.ts';

export const IDENTITY_FLAGS = {
  'annotation-prefix': { kind: 'string', default: 'eks.amazonaws.com', help: 'prefix of the ServiceAccount and Pod annotations' },
  'token-audience': { kind: 'string', default: 'sts.amazonaws.com', help: 'default audience of the projected token' },
  'token-expiration': { kind: 'int', default: 86_400, help: 'default token expiration in seconds (at least 600)' },
  'sts-regional-endpoint': { kind: 'bool', default: false, help: 'inject AWS_STS_REGIONAL_ENDPOINTS=regional unless the ServiceAccount says otherwise' },
  'watch-config-map': { kind: 'bool', default: false, help: 'read ServiceAccount-to-role mappings from the pod-identity-webhook ConfigMap in --namespace' },
  namespace: { kind: 'string', default: 'eks', help: 'namespace of the pod-identity-webhook ConfigMap' },
  'compose-role-arn': { kind: 'bool', default: false, help: 'accept a role name or path instead of an ARN; needs --aws-account-id' },
  'aws-account-id': { kind: 'string', default: '', help: 'account for --compose-role-arn (the reference asks EC2 instance metadata, which most clusters do not have)' },
  'aws-partition': { kind: 'string', default: 'aws', choices: ['aws', 'aws-cn', 'aws-us-gov', 'aws-iso', 'aws-iso-b', 'aws-iso-e', 'aws-iso-f', 'aws-eusc'], help: 'partition for --compose-role-arn' },
  'watch-container-credentials-config': { kind: 'string', default: '', metavar: 'file', help: 'EKS Pod Identity association file; enables container-credentials mode' },
  'inject-role-session-name': { kind: 'bool', default: false, help: 'inject AWS_ROLE_SESSION_NAME from the pod name (per ServiceAccount: <prefix>/role-session-name)' },
} as const satisfies FlagSpecs;

export type IdentityFlagValues = FlagValues<typeof IDENTITY_FLAGS>;

/** Validates the identity flags (problems and notices are appended) and returns the defaults. */
export function identityDefaultsFrom(v: IdentityFlagValues, problems: string[], notices: string[]): IdentityDefaults {
  if (v['token-expiration'] < 600) notices.push(`--token-expiration=${v['token-expiration']} is below 600; using 600`);
  if (v['annotation-prefix'] === '' || /\s|\//.test(v['annotation-prefix'])) problems.push(`--annotation-prefix "${v['annotation-prefix']}" must be a DNS subdomain such as eks.amazonaws.com`);
  if (v['token-audience'] === '') problems.push('--token-audience must not be empty');
  if (v['compose-role-arn'] && !/^\d{12}$/.test(v['aws-account-id'])) {
    problems.push('--compose-role-arn needs --aws-account-id=<12-digit account> (kube-irsa does not read EC2 instance metadata)');
  }
  return {
    annotationPrefix: v['annotation-prefix'],
    audience: v['token-audience'],
    stsRegionalEndpoints: v['sts-regional-endpoint'],
    tokenExpirationSeconds: clampTokenExpiration(v['token-expiration'], '--token-expiration', []),
    injectRoleSessionName: v['inject-role-session-name'],
    ...(v['compose-role-arn'] ? { composeRoleArn: { partition: v['aws-partition'], accountId: v['aws-account-id'] } } : {}),
  };
}
