// AdmissionReview in and out (admission.k8s.io/v1 and v1beta1 share the JSON shape): decoding that
// never throws, and one function that completes every answer, so no path can forget the uid or
// the echoed apiVersion/kind. Error answers keep the reference's shape: allowed=false and a
// status message, HTTP 200.

import type { JsonPatchOperation } from '../core/patch.ts';
import { isObject } from '../core/pod.ts';

export interface GroupVersionKind {
  readonly group?: string;
  readonly version?: string;
  readonly kind?: string;
}

export interface AdmissionRequest {
  readonly uid: string;
  readonly kind?: GroupVersionKind;
  readonly namespace?: string;
  readonly name?: string;
  readonly operation?: string;
  readonly subResource?: string;
  readonly dryRun?: boolean;
  readonly object?: unknown;
  /** Who asked; the token guard reads the requester's node from its extra. */
  readonly userInfo?: UserInfo;
}

export interface UserInfo {
  readonly username?: string;
  readonly extra?: Readonly<Record<string, readonly string[]>>;
}

export interface TypeMeta {
  readonly apiVersion?: string;
  readonly kind?: string;
}

export type DecodedReview =
  | { readonly ok: true; readonly typeMeta: TypeMeta; readonly request: AdmissionRequest }
  | { readonly ok: false; readonly typeMeta: TypeMeta; readonly uid: string; readonly message: string };

export interface AdmissionResponse {
  readonly uid: string;
  readonly allowed: boolean;
  readonly status?: { readonly metadata: Record<string, never>; readonly message: string; readonly code?: number };
  readonly patch?: string;
  readonly patchType?: 'JSONPatch';
  readonly warnings?: readonly string[];
}


function typeMetaOf(doc: Record<string, unknown>): TypeMeta {
  return {
    ...(typeof doc.apiVersion === 'string' ? { apiVersion: doc.apiVersion } : {}),
    ...(typeof doc.kind === 'string' ? { kind: doc.kind } : {}),
  };
}

export const KNOWN_REVIEW_VERSIONS: readonly string[] = ['admission.k8s.io/v1', 'admission.k8s.io/v1beta1'];

export function decodeReview(body: string): DecodedReview {
  // the reference answers an empty body and a review without request alike
  if (body.trim() === '') return { ok: false, typeMeta: {}, uid: '', message: 'bad content' };
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch (err) {
    return { ok: false, typeMeta: {}, uid: '', message: `couldn't get version/kind; json parse error: ${(err as Error).message}` };
  }
  if (!isObject(doc)) return { ok: false, typeMeta: {}, uid: '', message: 'bad content: an AdmissionReview must be a JSON object' };
  const typeMeta = typeMetaOf(doc);
  if (typeMeta.apiVersion !== undefined && !KNOWN_REVIEW_VERSIONS.includes(typeMeta.apiVersion)) {
    return { ok: false, typeMeta, uid: '', message: `unsupported AdmissionReview apiVersion ${typeMeta.apiVersion} (kube-irsa speaks ${KNOWN_REVIEW_VERSIONS.join(' and ')})` };
  }
  const request = doc.request;
  if (!isObject(request)) return { ok: false, typeMeta, uid: '', message: 'bad content' };
  // the API server always sends one, and answers without it are not matched to their request
  if (typeof request.uid !== 'string' || request.uid === '') return { ok: false, typeMeta, uid: '', message: 'bad content: request.uid is missing or empty' };
  const uid = request.uid;
  const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
  const kind = isObject(request.kind) ? { group: str(request.kind.group), version: str(request.kind.version), kind: str(request.kind.kind) } : undefined;
  return {
    ok: true,
    typeMeta,
    request: {
      uid,
      ...(kind ? { kind } : {}),
      ...(str(request.namespace) !== undefined ? { namespace: str(request.namespace) } : {}),
      ...(str(request.name) !== undefined ? { name: str(request.name) } : {}),
      ...(str(request.operation) !== undefined ? { operation: str(request.operation) } : {}),
      ...(str(request.subResource) !== undefined ? { subResource: str(request.subResource) } : {}),
      dryRun: request.dryRun === true,
      object: request.object,
      ...(isObject(request.userInfo) ? { userInfo: userInfoOf(request.userInfo) } : {}),
    },
  };
}

function userInfoOf(u: Record<string, unknown>): UserInfo {
  const extra: Record<string, string[]> = {};
  if (isObject(u.extra)) {
    for (const [k, v] of Object.entries(u.extra)) if (Array.isArray(v)) extra[k] = v.filter((x): x is string => typeof x === 'string');
  }
  return { ...(typeof u.username === 'string' ? { username: u.username } : {}), extra };
}

/** What admission decided, before any encoding: patch operations, not base64. */
export type AdmissionVerdict =
  | { readonly allowed: true; readonly patch: readonly JsonPatchOperation[]; readonly warnings: readonly string[] }
  | { readonly allowed: false; readonly message: string };

export const allow = (patch: readonly JsonPatchOperation[] = [], warnings: readonly string[] = []): AdmissionVerdict => ({ allowed: true, patch, warnings });
export const deny = (message: string): AdmissionVerdict => ({ allowed: false, message });

/** The AdmissionResponse for a verdict: the patch base64-encoded, as the API expects. */
export function admissionResponse(uid: string, verdict: AdmissionVerdict): AdmissionResponse {
  if (!verdict.allowed) return { uid, allowed: false, status: { metadata: {}, message: verdict.message } };
  return {
    uid, allowed: true,
    ...(verdict.patch.length > 0 ? { patch: Buffer.from(JSON.stringify(verdict.patch)).toString('base64'), patchType: 'JSONPatch' as const } : {}),
    ...(verdict.warnings.length > 0 ? { warnings: verdict.warnings } : {}),
  };
}

/**
 * The one way an answer is written, errors included: echoed apiVersion/kind (each only if the
 * request had it), the request's uid, the verdict encoded.
 */
export function encodeReview(typeMeta: TypeMeta, uid: string, verdict: AdmissionVerdict): string {
  return JSON.stringify({ ...(typeMeta.kind ? { kind: typeMeta.kind } : {}), ...(typeMeta.apiVersion ? { apiVersion: typeMeta.apiVersion } : {}), response: admissionResponse(uid, verdict) });
}
