// The parts of a Pod the mutation reads, typed loosely: the pod arrives as raw JSON and everything
// the webhook does not know must pass through untouched, so it is never copied into a model.

export interface EnvVarLike {
  readonly name?: unknown;
  readonly [field: string]: unknown;
}

export interface VolumeMountLike {
  readonly name?: unknown;
  readonly [field: string]: unknown;
}

export interface ContainerLike {
  readonly name?: unknown;
  readonly env?: readonly EnvVarLike[] | null;
  readonly volumeMounts?: readonly VolumeMountLike[] | null;
  readonly [field: string]: unknown;
}

export interface NodeSelectorRequirementLike {
  readonly key?: unknown;
  readonly operator?: unknown;
  readonly values?: unknown;
}

export interface PodLike {
  readonly metadata?: {
    readonly name?: unknown;
    readonly generateName?: unknown;
    readonly namespace?: unknown;
    readonly labels?: Readonly<Record<string, unknown>> | null;
    readonly annotations?: Readonly<Record<string, unknown>> | null;
    readonly [field: string]: unknown;
  } | null;
  readonly spec?: {
    readonly serviceAccountName?: unknown;
    readonly containers?: readonly ContainerLike[] | null;
    readonly initContainers?: readonly ContainerLike[] | null;
    readonly volumes?: readonly { readonly name?: unknown }[] | null;
    readonly nodeSelector?: Readonly<Record<string, unknown>> | null;
    readonly os?: { readonly name?: unknown } | null;
    readonly affinity?: {
      readonly nodeAffinity?: {
        readonly requiredDuringSchedulingIgnoredDuringExecution?: {
          readonly nodeSelectorTerms?: readonly { readonly matchExpressions?: readonly NodeSelectorRequirementLike[] | null }[] | null;
        } | null;
      } | null;
    } | null;
    readonly [field: string]: unknown;
  } | null;
  readonly [field: string]: unknown;
}

/** The list, or an empty one when the field is absent, null or not a list (raw JSON can be anything). */
export function listOf<T>(v: readonly T[] | null | undefined): readonly T[] {
  return Array.isArray(v) ? (v as readonly T[]) : [];
}

export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const OS_LABELS = ['kubernetes.io/os', 'beta.kubernetes.io/os'];

/**
 * Windows pods need a Windows token path. The reference looks only at nodeSelector; a pod can also
 * say so with spec.os.name, or with a required node-affinity whose every term pins the OS to windows.
 */
export function isWindowsPod(pod: PodLike): boolean {
  const spec = pod.spec;
  if (!spec) return false;
  const selector = spec.nodeSelector;
  if (selector && OS_LABELS.some((l) => selector[l] === 'windows')) return true;
  if (spec.os?.name === 'windows') return true;
  const terms = listOf(spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms);
  if (terms.length === 0) return false;
  // terms are ORed: the pod lands on Windows only if every term requires it
  return terms.every((term) => listOf(term?.matchExpressions).some((e: NodeSelectorRequirementLike) =>
    typeof e.key === 'string' && OS_LABELS.includes(e.key) && e.operator === 'In'
    && Array.isArray(e.values) && e.values.length > 0 && (e.values as unknown[]).every((v) => v === 'windows')));
}

export function envNames(container: ContainerLike): Set<string> {
  const names = new Set<string>();
  for (const e of listOf(container.env)) if (typeof e?.name === 'string') names.add(e.name);
  return names;
}
