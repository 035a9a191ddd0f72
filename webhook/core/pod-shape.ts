// Does request.object decode as a Pod, in every field kube-irsa reads or patches? The API server
// only sends Pods it has decoded, so a wrong JSON type here is a malformed request: it is denied
// with the field named, never half-read or patched (`add /metadata` would replace a list, say).
// Fields kube-irsa does not read are not looked at; null stands for absent, as in Kubernetes JSON.
import { isObject } from './pod.ts';

/** A problem found below a field: the path inside it (built only on the way out of a failure) and what is wrong. */
interface Problem {
  readonly path: string;
  readonly message: string;
}
type Check = (v: unknown) => Problem | undefined;

const kindOf = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v === 'object' ? 'an object' : `a ${typeof v}`);
const absent = (v: unknown): boolean => v === undefined || v === null;
const at = (path: string, p: Problem | undefined): Problem | undefined => (p ? { path: `${path}${p.path}`, message: p.message } : undefined);

const string: Check = (v) => (absent(v) || typeof v === 'string' ? undefined : { path: '', message: `must be a string, not ${kindOf(v)}` });

const stringMap: Check = (v) => {
  if (absent(v)) return undefined;
  if (!isObject(v)) return { path: '', message: `must be an object of strings, not ${kindOf(v)}` };
  for (const k in v) if (typeof v[k] !== 'string') return { path: `["${k}"]`, message: `must be a string, not ${kindOf(v[k])}` };
  return undefined;
};

function object(fields: Readonly<Record<string, Check>>): Check {
  const checks = Object.entries(fields);
  return (v) => {
    if (absent(v)) return undefined;
    if (!isObject(v)) return { path: '', message: `must be an object, not ${kindOf(v)}` };
    for (const [name, check] of checks) {
      const problem = v[name] === undefined ? undefined : at(`.${name}`, check(v[name]));
      if (problem) return problem;
    }
    return undefined;
  };
}

function list(item: Check): Check {
  return (v) => {
    if (absent(v)) return undefined;
    if (!Array.isArray(v)) return { path: '', message: `must be a list, not ${kindOf(v)}` };
    const items = v as unknown[];
    for (let i = 0; i < items.length; i++) {
      const x = items[i];
      const problem = absent(x) ? { path: `[${i}]`, message: `must be an object, not ${kindOf(x)}` } : at(`[${i}]`, item(x));
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
  const problem = at('metadata', metadata(pod.metadata)) ?? at('spec', spec(pod.spec));
  return problem ? `${problem.path} ${problem.message}` : undefined;
}
