// One check of one pod: gathers the facts evaluate() asks for (the identity from the shared
// resolver, the pod-spec findings, the token, the identity's health) and returns its decision.
// Every collaborator is injected, so the whole path runs in unit tests with fakes.
import { readInjectedRecord } from '../../shared/identity/injection.ts';
import type { IdentityResolver, Resolution } from '../../shared/identity/resolver.ts';
import { checkPod, podRegion, tokenLocation, type AgentPod, type PodFinding } from '../core/pod-checks.ts';
import { envFromSources, shadowedFinding, shadowingVariables, type EnvSourceKind } from '../core/shadowed-credentials.ts';
import type { TokenSource } from '../token-source.ts';
import { evaluate, type Decision, type EvaluatePolicy, type Facts } from './evaluate.ts';
import type { IdentityHealthCheck } from './identity-health.ts';
import type { Clock } from './schedule.ts';

export interface PodCheckDeps {
  readonly resolver: Pick<IdentityResolver, 'resolvePod'>;
  readonly tokens: Pick<TokenSource, 'read'>;
  readonly health: IdentityHealthCheck;
  readonly clock: Clock;
  readonly policy: EvaluatePolicy;
  /** Called after each resolution (a live lookup may have refreshed the ServiceAccount). */
  readonly onResolved?: (r: Resolution) => void;
  /** The credential-like key names of the ConfigMaps and Secrets a pod's envFrom names. */
  readonly envSources?: { keysOf(namespace: string, sources: ReadonlyArray<{ kind: EnvSourceKind; name: string }>): Promise<ReadonlyMap<string, readonly string[] | undefined>> };
}

/** CredentialsShadowed for a mutated web-identity pod that also carries other credentials. */
async function shadowed(pod: AgentPod, namespace: string, deps: PodCheckDeps): Promise<PodFinding | undefined> {
  const sources = envFromSources(pod);
  const keys = sources.length > 0 && deps.envSources ? await deps.envSources.keysOf(namespace, sources) : new Map<string, readonly string[] | undefined>();
  const injectedContainerCredentials = readInjectedRecord(pod.metadata?.annotations)?.mode === 'container-credentials';
  return shadowedFinding(shadowingVariables(pod, (kind, name) => keys.get(`${kind}/${name}`), injectedContainerCredentials));
}

export type FinalDecision = Extract<Decision, { kind: 'forget' | 'wait' | 'report' }>;

export async function checkPodIdentity(pod: AgentPod, firstSeenAt: number, deps: PodCheckDeps): Promise<FinalDecision> {
  const namespace = pod.metadata?.namespace ?? '';
  let resolution = await deps.resolver.resolvePod(pod, namespace);
  deps.onResolved?.(resolution);
  let findings = checkPod(pod, resolution.identity);
  if (findings.some((f) => f.reason === 'StaleRole')) {
    // a role that differs from the pod's may only be the watch lagging: confirm it live
    resolution = await deps.resolver.resolvePod(pod, namespace, { fresh: true });
    deps.onResolved?.(resolution);
    findings = checkPod(pod, resolution.identity);
  }
  if (resolution.identity?.mode === 'web-identity' && !findings.some((f) => f.reason === 'PodNotMutated')) {
    const shadow = await shadowed(pod, namespace, deps);
    if (shadow) findings = [...findings, shadow];
  }
  let facts: Facts = { now: deps.clock.now(), firstSeenAt, identity: resolution.identity, findings };
  for (;;) {
    const decision = evaluate(facts, deps.policy);
    switch (decision.kind) {
      case 'need-token':
        facts = { ...facts, token: await deps.tokens.read(pod, tokenLocation(pod), decision.audience) };
        break;
      case 'need-health':
        facts = { ...facts, health: await deps.health(namespace, resolution.serviceAccount, decision.request, podRegion(pod)) };
        break;
      default:
        return decision;
    }
  }
}
