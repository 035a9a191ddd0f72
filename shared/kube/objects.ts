// The parts of Kubernetes objects kube-irsa reads, as both a watch (JSON) and client-node's typed
// lists (its models, timestamps as Date) deliver them: what the caches keep is made from these.

export interface ObjectMeta {
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  deletionTimestamp?: string | Date;
  creationTimestamp?: string | Date;
}

export interface ServiceAccount {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
}

export interface ConfigMap {
  metadata?: ObjectMeta;
  data?: Record<string, string>;
  binaryData?: Record<string, string>;
}

export interface Secret {
  metadata?: ObjectMeta;
  data?: Record<string, string>;
}

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name?: string; key?: string }; configMapKeyRef?: { name?: string; key?: string }; fieldRef?: unknown; resourceFieldRef?: unknown };
}

export interface EnvFromSource {
  prefix?: string;
  configMapRef?: { name?: string; optional?: boolean };
  secretRef?: { name?: string; optional?: boolean };
}

export interface Container {
  name: string;
  env?: EnvVar[];
  envFrom?: EnvFromSource[];
  volumeMounts?: { name: string; mountPath: string }[];
}

export interface ServiceAccountTokenProjection {
  audience?: string;
  expirationSeconds?: number;
  path?: string;
}

export interface Volume {
  name: string;
  projected?: { sources?: { serviceAccountToken?: ServiceAccountTokenProjection }[] };
}

export interface Pod {
  metadata?: ObjectMeta;
  spec?: {
    nodeName?: string;
    serviceAccountName?: string;
    containers?: Container[];
    initContainers?: Container[];
    volumes?: Volume[];
  };
  status?: { phase?: string };
}

/** Builds an API path from segments, escaping each one (names come from user objects). */
export function apiPath(prefix: string, ...segments: string[]): string {
  return [prefix, ...segments.map((s) => encodeURIComponent(s))].join('/');
}

export const corePath = (...segments: string[]): string => apiPath('/api/v1', ...segments);
