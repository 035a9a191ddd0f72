// Credentials in a pod that the SDKs' default chains take before its web identity, from the pod
// spec alone: variables set in a container's env (a value or a valueFrom reference) or brought in
// by envFrom of a ConfigMap or Secret, whose key names the caller looked up. Only names are ever
// read or reported, never a value. The chain orders behind the wording are in docs/reasons.md.
import type { AgentPod, PodFinding } from './pod-checks.ts';

export type EnvSourceKind = 'ConfigMap' | 'Secret';

/** The key names of a ConfigMap or Secret in the pod's namespace; undefined when unknown (not readable). */
export type EnvSourceKeys = (kind: EnvSourceKind, name: string) => readonly string[] | undefined;

/** What a default chain does with each kind of other credentials, for the Event. */
const EFFECT = {
  keys: 'static keys: the JS v3, boto3, Go v2 and Java v2 SDKs all use them instead of the role',
  profile: 'a profile: the JS v3 SDK uses it instead of the role when it exists, boto3 when it assumes a role (and fails when it does not exist); Go v2 and Java v2 take web identity first',
  container: 'container credentials: JS v3, boto3, Go v2 and Java v2 take web identity first, but SDKs that read container credentials earlier (the JavaScript SDK v2) use them instead of the role',
} as const;

type Kind = keyof typeof EFFECT;

const VARIABLES: Readonly<Record<string, Kind>> = {
  AWS_ACCESS_KEY_ID: 'keys',
  AWS_SECRET_ACCESS_KEY: 'keys',
  AWS_PROFILE: 'profile',
  AWS_CONTAINER_CREDENTIALS_FULL_URI: 'container',
  AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: 'container',
};

/** The variable names this check looks for (the pod cache keeps these, and envFrom sources are read for them). */
export const SHADOWING_VARIABLES: readonly string[] = Object.keys(VARIABLES);

export interface ShadowingVariable {
  readonly variable: string;
  readonly container: string;
  /** `env`, `env from Secret s`, `envFrom Secret s`, … */
  readonly from: string;
}

type Container = NonNullable<NonNullable<AgentPod['spec']>['containers']>[number];

function setIn(c: Container, keysOf: EnvSourceKeys): ShadowingVariable[] {
  const found = new Map<string, ShadowingVariable>();
  const name = c.name ?? '';
  for (const ref of c.envFrom ?? []) {
    const kind: EnvSourceKind | undefined = ref.secretRef ? 'Secret' : ref.configMapRef ? 'ConfigMap' : undefined;
    const source = ref.secretRef?.name ?? ref.configMapRef?.name;
    if (!kind || !source) continue;
    for (const key of keysOf(kind, source) ?? []) {
      const variable = `${ref.prefix ?? ''}${key}`;
      if (VARIABLES[variable]) found.set(variable, { variable, container: name, from: `envFrom ${kind} ${source}` });
    }
  }
  // env entries override envFrom; an empty literal value sets nothing the SDKs use
  for (const e of c.env ?? []) {
    if (!VARIABLES[e.name]) continue;
    if (e.value === '') {
      found.delete(e.name);
      continue;
    }
    const ref = e.valueFrom?.secretKeyRef ? `Secret ${e.valueFrom.secretKeyRef.name ?? ''}` : e.valueFrom?.configMapKeyRef ? `ConfigMap ${e.valueFrom.configMapKeyRef.name ?? ''}` : undefined;
    found.set(e.name, { variable: e.name, container: name, from: ref ? `env from ${ref}` : 'env' });
  }
  // one static key without the other is no credential
  if (!found.has('AWS_ACCESS_KEY_ID') || !found.has('AWS_SECRET_ACCESS_KEY')) {
    found.delete('AWS_ACCESS_KEY_ID');
    found.delete('AWS_SECRET_ACCESS_KEY');
  }
  return [...found.values()];
}

/**
 * The variables in any container of this web-identity pod that give the SDKs other credentials.
 * `webhookContainerCredentials`: the webhook injected container credentials itself (EKS Pod
 * Identity), which are then the pod's identity, not a shadow of it.
 */
export function shadowingVariables(pod: AgentPod, keysOf: EnvSourceKeys, webhookContainerCredentials = false): ShadowingVariable[] {
  const all = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].flatMap((c) => setIn(c, keysOf));
  return webhookContainerCredentials ? all.filter((v) => VARIABLES[v.variable] !== 'container') : all;
}

/** The CredentialsShadowed finding for these variables, or undefined when there are none. */
export function shadowedFinding(found: readonly ShadowingVariable[]): PodFinding | undefined {
  if (found.length === 0) return undefined;
  const where = found.map((v) => `${v.variable} in container ${v.container} (${v.from})`).join(', ');
  const kinds = [...new Set(found.map((v) => VARIABLES[v.variable]).filter((k): k is Kind => k !== undefined))];
  return { reason: 'CredentialsShadowed', detail: `the pod also carries ${where}; ${kinds.map((k) => EFFECT[k]).join('; ')}` };
}

/** Which ConfigMaps and Secrets the pod's envFrom names (whose keys the check needs). */
export function envFromSources(pod: AgentPod): Array<{ kind: EnvSourceKind; name: string }> {
  const seen = new Map<string, { kind: EnvSourceKind; name: string }>();
  for (const c of [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])]) {
    for (const ref of c.envFrom ?? []) {
      if (ref.secretRef?.name) seen.set(`Secret/${ref.secretRef.name}`, { kind: 'Secret', name: ref.secretRef.name });
      else if (ref.configMapRef?.name) seen.set(`ConfigMap/${ref.configMapRef.name}`, { kind: 'ConfigMap', name: ref.configMapRef.name });
    }
  }
  return [...seen.values()];
}
