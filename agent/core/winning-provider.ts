// Which provider of the SDK's default Node.js chain produced a set of credentials, from the
// credentials' own `$source`: the feature ids each provider of the JavaScript SDK v3 stamps on what
// it returns (they also go out in the User-Agent). Reading them reports the chain's real pick,
// including its own rules (AWS_PROFILE skipping the environment keys), instead of re-implementing
// the order and drifting from it.

export interface WinningProvider {
  /** e.g. `web identity (AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN)`. */
  readonly name: string;
  /** The pod's web identity from its environment, as the webhook injected it. */
  readonly webIdentity: boolean;
}

type Env = Readonly<Record<string, string | undefined>>;

/** The provider behind credentials whose `$source` is `source` (undefined: the provider set none). */
export function winningProvider(source: Readonly<Record<string, unknown>> | undefined, env: Env): WinningProvider {
  const has = (feature: string) => source !== undefined && feature in source;
  const profile = env.AWS_PROFILE || 'default';
  if (has('CREDENTIALS_ENV_VARS_STS_WEB_ID_TOKEN')) return { name: 'web identity (AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN)', webIdentity: true };
  if (has('CREDENTIALS_PROFILE_STS_WEB_ID_TOKEN')) return { name: `web identity configured in profile ${profile} of the shared config files`, webIdentity: false };
  if (has('CREDENTIALS_ENV_VARS')) return { name: 'environment keys (AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY)', webIdentity: false };
  if (has('CREDENTIALS_PROFILE_SSO') || has('CREDENTIALS_PROFILE_SSO_LEGACY') || has('CREDENTIALS_SSO') || has('CREDENTIALS_SSO_LEGACY')) return { name: `SSO (profile ${profile})`, webIdentity: false };
  if (has('CREDENTIALS_PROFILE_PROCESS') || has('CREDENTIALS_PROCESS')) return { name: `credential_process of profile ${profile}`, webIdentity: false };
  if (has('CREDENTIALS_PROFILE') || has('CREDENTIALS_PROFILE_SOURCE_PROFILE') || has('CREDENTIALS_PROFILE_NAMED_PROVIDER') || has('CREDENTIALS_PROFILE_LOGIN')) return { name: `profile ${profile} of the shared config files (AWS_PROFILE${env.AWS_PROFILE ? '' : ' unset: default'})`, webIdentity: false };
  if (has('CREDENTIALS_HTTP')) return { name: 'container credentials (AWS_CONTAINER_CREDENTIALS_FULL_URI / _RELATIVE_URI)', webIdentity: false };
  if (has('CREDENTIALS_STS_ASSUME_ROLE_WEB_ID')) return { name: 'web identity', webIdentity: true };
  if (env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI || env.AWS_CONTAINER_CREDENTIALS_FULL_URI) return { name: 'container metadata (AWS_CONTAINER_CREDENTIALS_*)', webIdentity: false };
  return { name: 'instance metadata (IMDS): the node\'s role', webIdentity: false };
}
