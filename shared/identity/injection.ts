// The injection contract: what the webhook writes into a pod and the agent reads back. One module,
// so the two halves agree by construction: the marker annotation and the record it holds, the
// environment variable names, and (from the resolved mode) which token volume a pod should carry.
import type { ResolvedIdentity } from './resolve.ts';

/** Annotation kube-irsa writes on every pod it mutates, read by the agent and by people. */
export const INJECTED_ANNOTATION = 'kube-irsa.io/injected';
/**
 * A pod carrying this label (any value) gets no identity: the webhook's objectSelector keeps such
 * pods from it (kube-irsa's own pods carry it), and the resolver says the same to everyone else.
 */
export const SKIP_LABEL = 'eks.amazonaws.com/skip-pod-identity-webhook';
/** Label the reference sets on container-credentials (EKS Pod Identity) pods. */
export const POD_IDENTITY_LABEL = 'eks.amazonaws.com/pod-identity';

export const ENV = {
  stsRegionalEndpoints: 'AWS_STS_REGIONAL_ENDPOINTS',
  defaultRegion: 'AWS_DEFAULT_REGION',
  region: 'AWS_REGION',
  roleArn: 'AWS_ROLE_ARN',
  webIdentityTokenFile: 'AWS_WEB_IDENTITY_TOKEN_FILE',
  roleSessionName: 'AWS_ROLE_SESSION_NAME',
  containerCredentialsFullUri: 'AWS_CONTAINER_CREDENTIALS_FULL_URI',
  containerAuthorizationTokenFile: 'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE',
} as const;

/** What the webhook injected, as written (JSON) to INJECTED_ANNOTATION. */
export interface InjectedRecord {
  readonly mode: ResolvedIdentity['mode'];
  readonly roleArn?: string;
  readonly audience: string;
  readonly source: ResolvedIdentity['source'];
}

export function injectedRecord(identity: ResolvedIdentity, audience: string): InjectedRecord {
  return identity.mode === 'web-identity'
    ? { mode: identity.mode, roleArn: identity.roleArn, audience, source: identity.source }
    : { mode: identity.mode, audience, source: identity.source };
}

/**
 * The record on a pod's annotations: undefined when absent; `{ mode: undefined }` when present but
 * unreadable (written by hand or by an older version), which still says the pod was injected.
 */
export function readInjectedRecord(annotations: Readonly<Record<string, string>> | undefined): { readonly mode: ResolvedIdentity['mode'] | undefined } | undefined {
  const text = annotations?.[INJECTED_ANNOTATION];
  if (text === undefined) return undefined;
  try {
    const mode = (JSON.parse(text) as { mode?: unknown } | null)?.mode;
    return { mode: mode === 'web-identity' || mode === 'container-credentials' ? mode : undefined };
  } catch {
    return { mode: undefined };
  }
}
