// The stable catalogue of verdicts the agent reports (Event reasons, metric labels, the health
// resource, `doctor` output). Names never change once released; a new failure gets a new name.
// `misconfigured` verdicts need a person to fix something; `inconclusive` ones say the check
// could not be made and never turn a healthy identity into a broken one.

export type Verdict = 'healthy' | 'misconfigured' | 'inconclusive';
/** Whether the verdict is about this node's view (pod spec, token file, reachability) or the identity itself. */
export type Scope = 'node' | 'identity';

export interface ReasonInfo {
  readonly verdict: Verdict;
  readonly scope: Scope;
  /** One line: what it means. */
  readonly meaning: string;
  /** What to do about it (documentation; Event messages carry a specific fix). */
  readonly fix: string;
}

export const REASONS = {
  Healthy: { verdict: 'healthy', scope: 'identity', meaning: 'STS accepted the token for the role.', fix: 'Nothing to do.' },
  PodNotMutated: { verdict: 'misconfigured', scope: 'node', meaning: 'The ServiceAccount has a role but the pod has no injected token volume or variables: the webhook was down, bypassed (failurePolicy Ignore), or the role was added after the pod started.', fix: 'Check that the webhook runs and is registered, then recreate the pod.' },
  StaleRole: { verdict: 'misconfigured', scope: 'node', meaning: 'The pod\'s AWS_ROLE_ARN differs from the role its ServiceAccount has now (the annotation changed after the pod was created).', fix: 'Recreate the pod (roll the workload) so it gets the current role.' },
  InvalidSessionName: { verdict: 'misconfigured', scope: 'node', meaning: 'The pod\'s AWS_ROLE_SESSION_NAME is not 2 to 64 characters of [\\w+=,.@-], so STS rejects every call.', fix: 'Fix or remove AWS_ROLE_SESSION_NAME in the pod spec.' },
  CredentialsShadowed: { verdict: 'misconfigured', scope: 'node', meaning: 'The pod also carries other AWS credentials (static keys, AWS_PROFILE or container credentials, in env or through envFrom of a ConfigMap or Secret) that SDKs\' default chains take before web identity, so the application may silently use them instead of the role.', fix: 'Remove those variables (or the keys of the envFrom source) from the pod, or, if the application is meant to use them, remove the role from its ServiceAccount.' },
  TokenUnreadable: { verdict: 'misconfigured', scope: 'node', meaning: 'The projected token file the pod uses cannot be read on this node.', fix: 'Check the token volume and the kubelet on this node; for non-root containers set fsGroup.' },
  TokenMalformed: { verdict: 'misconfigured', scope: 'node', meaning: 'The token is not a JWT (empty, truncated or not a ServiceAccount token).', fix: 'Check what is written at AWS_WEB_IDENTITY_TOKEN_FILE; it must be the projected ServiceAccount token.' },
  TokenExpired: { verdict: 'misconfigured', scope: 'node', meaning: 'The token on disk has expired: the kubelet stopped refreshing it, or the node clock is wrong.', fix: 'Check the kubelet on this node and the node\'s clock.' },
  AudienceMismatch: { verdict: 'misconfigured', scope: 'identity', meaning: 'The token\'s aud claim does not contain the audience the ServiceAccount asks for.', fix: 'Align the eks.amazonaws.com/audience annotation (or --token-audience) with the pod\'s token volume; recreate the pod.' },
  IssuerDiscoveryUnreachable: { verdict: 'misconfigured', scope: 'identity', meaning: 'The issuer\'s /.well-known/openid-configuration or its jwks_uri cannot be fetched over HTTPS, so STS cannot verify tokens either.', fix: 'Publish the discovery document and JWKS at the issuer URL over public HTTPS (e.g. a public bucket) and check --service-account-issuer.' },
  SigningKeyNotInJWKS: { verdict: 'misconfigured', scope: 'identity', meaning: 'The key that signed the token (its kid) is not in the issuer\'s JWKS, or the signature does not verify: the signing key was rotated without republishing the JWKS.', fix: 'Republish the JWKS with every active service-account signing key.' },
  InvalidRoleArn: { verdict: 'misconfigured', scope: 'identity', meaning: 'The role ARN is not a well-formed IAM role ARN.', fix: 'Fix the eks.amazonaws.com/role-arn annotation: arn:<partition>:iam::<account>:role/<name>.' },
  OIDCProviderNotFound: { verdict: 'misconfigured', scope: 'identity', meaning: 'The role\'s account has no IAM OIDC identity provider for the token\'s issuer.', fix: 'Create the IAM OIDC provider for the issuer in the role\'s account.' },
  IncorrectAudience: { verdict: 'misconfigured', scope: 'identity', meaning: 'The IAM OIDC provider does not list the token\'s audience among its client IDs.', fix: 'Add the audience (e.g. sts.amazonaws.com) to the OIDC provider\'s client IDs.' },
  TrustPolicyDenied: { verdict: 'misconfigured', scope: 'identity', meaning: 'STS verified the token, but the role\'s trust policy does not allow it (wrong sub or aud condition, wrong provider, StringEquals with a wildcard) or the role does not exist.', fix: 'Make the role\'s trust policy allow <provider>:sub = system:serviceaccount:<namespace>:<name> and <provider>:aud = the audience.' },
  RegionDisabled: { verdict: 'misconfigured', scope: 'identity', meaning: 'STS is not activated in this region for the account.', fix: 'Activate STS in the region (IAM console, account settings) or use another region.' },
  Throttled: { verdict: 'inconclusive', scope: 'identity', meaning: 'STS answered Throttling: the account\'s request rate is exhausted.', fix: 'Retried with backoff; lower --sts-qps if it persists.' },
  IdPUnreachable: { verdict: 'inconclusive', scope: 'identity', meaning: 'STS could not reach the issuer to verify the token (IDPCommunicationError, or a verification-key failure although the keys are reachable from here).', fix: 'Retried with backoff; if it persists, check that the issuer URL is reachable from the internet, not only from the cluster.' },
  STSUnreachable: { verdict: 'inconclusive', scope: 'node', meaning: 'STS could not be reached from this node (network, DNS, TLS, 5xx).', fix: 'Retried with backoff; check egress to the regional STS endpoint from this node.' },
  TokenRequestRefused: { verdict: 'inconclusive', scope: 'node', meaning: 'In token-request mode the API server refused or failed the agent\'s TokenRequest for the pod (the token guard, the admission policy, RBAC, or the API server itself): the agent could not check the pod, which is not shown to be misconfigured.', fix: 'Retried with backoff; the message names the refusal (for the token guard, its rule: see docs/security.md); check the agent\'s RBAC and agent.allowedAudiences.' },
  ProbeError: { verdict: 'inconclusive', scope: 'identity', meaning: 'STS answered something the agent does not recognise.', fix: 'Retried with backoff; see the agent\'s log.' },
} as const satisfies Record<string, ReasonInfo>;

export type Reason = keyof typeof REASONS;
