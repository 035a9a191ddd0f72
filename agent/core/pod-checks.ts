// What the pod spec alone says, before any token or STS call: was it mutated, does it carry the
// role its ServiceAccount has now, is its session name acceptable, and where is its token.
import { ENV, readInjectedRecord } from '../../shared/identity/injection.ts';
import type { ResolvedIdentity } from '../../shared/identity/resolve.ts';
import type { Reason } from './reasons.ts';

export interface PodEnvVar {
  readonly name: string;
  readonly value?: string;
  /** Where a value without a literal comes from (only the reference's name is kept). */
  readonly valueFrom?: { readonly secretKeyRef?: { readonly name?: string }; readonly configMapKeyRef?: { readonly name?: string } };
}

/** An envFrom entry: every key of a ConfigMap or Secret, optionally prefixed, becomes a variable. */
export interface PodEnvFrom {
  readonly prefix?: string;
  readonly configMapRef?: { readonly name?: string };
  readonly secretRef?: { readonly name?: string };
}

interface AgentContainer {
  readonly name?: string;
  readonly env?: readonly PodEnvVar[];
  readonly envFrom?: readonly PodEnvFrom[];
  readonly volumeMounts?: ReadonlyArray<{ readonly name?: string; readonly mountPath?: string }>;
}

/** The fields of a Pod the agent reads (typed and raw pods both fit). */
export interface AgentPod {
  readonly metadata?: { readonly name?: string; readonly namespace?: string; readonly uid?: string; readonly labels?: Record<string, string>; readonly annotations?: Record<string, string>; readonly deletionTimestamp?: unknown };
  readonly spec?: {
    readonly nodeName?: string;
    readonly serviceAccountName?: string;
    readonly containers?: readonly AgentContainer[];
    readonly initContainers?: readonly AgentContainer[];
    readonly volumes?: ReadonlyArray<{ readonly name?: string; readonly projected?: { readonly sources?: ReadonlyArray<{ readonly serviceAccountToken?: { readonly audience?: string; readonly expirationSeconds?: number; readonly path?: string } }> } }>;
  };
  readonly status?: { readonly phase?: string };
}

export interface PodFinding {
  readonly reason: Reason;
  readonly detail: string;
}

export interface TokenLocation {
  readonly volumeName: string;
  /** File name inside the volume. */
  readonly path: string;
  readonly audience: string | undefined;
}

export const SESSION_NAME_PATTERN = /^[\w+=,.@-]{2,64}$/;

function containers(pod: AgentPod) {
  return [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
}

function envValue(pod: AgentPod, name: string): string | undefined {
  for (const c of containers(pod)) {
    const e = c.env?.find((x) => x.name === name && x.value !== undefined);
    if (e?.value !== undefined) return e.value;
  }
  return undefined;
}

/** The token volume this pod reads AWS_WEB_IDENTITY_TOKEN_FILE from, as mounted. */
export function tokenLocation(pod: AgentPod): TokenLocation | undefined {
  const file = envValue(pod, ENV.webIdentityTokenFile);
  if (file === undefined) return undefined;
  const unixFile = file.replace(/^C:/, '').replace(/\\/g, '/');
  for (const c of containers(pod)) {
    for (const m of c.volumeMounts ?? []) {
      if (!m.mountPath || !m.name) continue;
      const dir = m.mountPath.replace(/\/+$/, '');
      if (!unixFile.startsWith(`${dir}/`)) continue;
      const rel = unixFile.slice(dir.length + 1);
      const volume = pod.spec?.volumes?.find((v) => v.name === m.name);
      const source = volume?.projected?.sources?.find((s) => s.serviceAccountToken?.path === rel)?.serviceAccountToken;
      if (source) return { volumeName: m.name, path: rel, audience: source.audience };
    }
  }
  return undefined;
}

/**
 * Node-scope findings for a pod whose ServiceAccount resolves to `identity` (undefined: no role).
 * A container-credentials (EKS Pod Identity) identity has no web-identity checks: the webhook
 * injects that mode in preference to a role annotation, so a pod without a web-identity token is
 * then exactly what it should be.
 */
export function checkPod(pod: AgentPod, identity: ResolvedIdentity | undefined): PodFinding[] {
  const findings: PodFinding[] = [];
  if (identity?.mode === 'container-credentials') return findings;
  const podRole = envValue(pod, ENV.roleArn);
  const wasInjected = readInjectedRecord(pod.metadata?.annotations) !== undefined || envValue(pod, ENV.webIdentityTokenFile) !== undefined;
  if (identity === undefined) {
    if (podRole !== undefined && wasInjected) {
      findings.push({ reason: 'StaleRole', detail: `the pod uses role ${podRole}, but its ServiceAccount no longer has a role` });
    }
    return findings;
  }
  if (!wasInjected || tokenLocation(pod) === undefined) {
    findings.push({ reason: 'PodNotMutated', detail: `the ServiceAccount has role ${identity.roleArn}, but the pod has no web-identity token volume or AWS_WEB_IDENTITY_TOKEN_FILE` });
    return findings;
  }
  if (podRole !== undefined && podRole !== identity.roleArn) {
    findings.push({ reason: 'StaleRole', detail: `the pod uses role ${podRole}, but its ServiceAccount now has role ${identity.roleArn}` });
  }
  const sessionName = envValue(pod, ENV.roleSessionName);
  if (sessionName !== undefined && !SESSION_NAME_PATTERN.test(sessionName)) {
    findings.push({ reason: 'InvalidSessionName', detail: `AWS_ROLE_SESSION_NAME "${sessionName}" (${sessionName.length} characters) is not 2 to 64 characters of [\\w+=,.@-]` });
  }
  return findings;
}

export function podRegion(pod: AgentPod): string | undefined {
  return envValue(pod, ENV.region) ?? envValue(pod, ENV.defaultRegion);
}
