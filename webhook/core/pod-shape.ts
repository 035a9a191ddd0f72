// Does request.object decode as a Pod, in every field kube-irsa reads or patches? The API server
// only sends Pods it has decoded, so a wrong JSON type here is a malformed request: it is denied
// with the field named, never half-read or patched (`add /metadata` would replace a list, say).
// Fields kube-irsa does not read are not looked at; null stands for absent, as in Kubernetes JSON.
import { isObject } from './pod.ts';

type Check = (v: unknown, at: string) => string | undefined;

const kindOf = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v === 'object' ? 'an object' : `a ${typeof v}`);
const absent = (v: unknown): boolean => v === undefined || v === null;

const string: Check = (v, at) => (absent(v) || typeof v === 'string' ? undefined : `${at} must be a string, not ${kindOf(v)}`);

const stringMap: Check = (v, at) => {
  if (absent(v)) return undefined;
  if (!isObject(v)) return `${at} must be an object of strings, not ${kindOf(v)}`;
  for (const [k, x] of Object.entries(v)) if (typeof x !== 'string') return `${at}["${k}"] must be a string, not ${kindOf(x)}`;
  return undefined;
};

function object(fields: Readonly<Record<string, Check>>): Check {
  return (v, at) => {
    if (absent(v)) return undefined;
    if (!isObject(v)) return `${at} must be an object, not ${kindOf(v)}`;
    for (const [name, check] of Object.entries(fields)) {
      const problem = check(v[name], `${at}.${name}`);
      if (problem) return problem;
    }
    return undefined;
  };
}

function list(item: Check): Check {
  return (v, at) => {
    if (absent(v)) return undefined;
    if (!Array.isArray(v)) return `${at} must be a list, not ${kindOf(v)}`;
    for (const [i, x] of (v as unknown[]).entries()) {
      const problem = absent(x) ? `${at}[${i}] must be an object, not ${kindOf(x)}` : item(x, `${at}[${i}]`);
      if (problem) return problem;
    }
    return undefined;
  };
}

const container = object({
  name: string,
  env: list(object({ name: string, value: string })),
  volumeMounts: list(object({ name: string, mountPath: string })),
});

const metadata = object({ name: string, generateName: string, namespace: string, labels: stringMap, annotations: stringMap });

const spec = object({
  serviceAccountName: string,
  containers: list(container),
  initContainers: list(container),
  volumes: list(object({ name: string })),
  nodeSelector: stringMap,
  os: object({ name: string }),
  affinity: object({
    nodeAffinity: object({
      requiredDuringSchedulingIgnoredDuringExecution: object({
        nodeSelectorTerms: list(object({ matchExpressions: list(object({ key: string, operator: string, values: list(string) })) })),
      }),
    }),
  }),
});

/** Why `object` is not a Pod kube-irsa can read, naming the field; undefined when it is. */
export function podShapeProblem(pod: unknown): string | undefined {
  if (!isObject(pod)) return `expected an object, got ${pod === null || pod === undefined ? 'nothing' : kindOf(pod).replace(/^a list$/, 'an array')}`;
  if (absent(pod.spec)) return 'it has no spec';
  if (!isObject(pod.spec)) return 'spec is not an object';
  return metadata(pod.metadata, 'metadata') ?? spec(pod.spec, 'spec');
}
