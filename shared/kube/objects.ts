// The parts of Kubernetes objects kube-irsa reads and writes, as the API server's JSON spells them.
// Only the fields used here are typed; everything else passes through untouched.

export interface ObjectMeta {
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  deletionTimestamp?: string;
  creationTimestamp?: string;
}

export interface ListMeta {
  resourceVersion?: string;
  continue?: string;
}

export interface ObjectList<T> {
  items: T[];
  metadata?: ListMeta;
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

export interface ObjectReference {
  apiVersion?: string;
  kind?: string;
  namespace?: string;
  name?: string;
  uid?: string;
}

/** core/v1 Event (the API kubectl describe shows). */
export interface Event {
  metadata?: ObjectMeta;
  involvedObject: ObjectReference;
  reason?: string;
  message?: string;
  type?: string;
  source?: { component?: string; host?: string };
  reportingComponent?: string;
  reportingInstance?: string;
  firstTimestamp?: string;
  lastTimestamp?: string;
  eventTime?: string;
  count?: number;
}

export interface TokenRequest {
  spec: { audiences: string[]; expirationSeconds?: number; boundObjectRef?: ObjectReference };
  status?: { token?: string; expirationTimestamp?: string };
}

/** Builds an API path from segments, escaping each one (names come from user objects). */
export function apiPath(prefix: string, ...segments: string[]): string {
  return [prefix, ...segments.map((s) => encodeURIComponent(s))].join('/');
}

export const corePath = (...segments: string[]): string => apiPath('/api/v1', ...segments);
