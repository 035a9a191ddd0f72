// Impersonation beyond the user: a kubeconfig's `as-groups`, `as-uid` and `as-user-extra`, which
// client-node drops (it sends only `Impersonate-User`, from a header map holding one value per name,
// while the API server reads one `Impersonate-Group` header per group). kubectl sends them all, so
// they are added here under client-node, on the requests of the connection pool (an undici
// interceptor), one header per value as kubectl does.
import type { RequestContext } from '@kubernetes/client-node';

type Dispatcher = NonNullable<ReturnType<RequestContext['getDispatcher']>>;

export interface Impersonation {
  readonly groups: readonly string[];
  readonly uid?: string;
  /** `as-user-extra`: key -> values, sent as `Impersonate-Extra-<key>`. */
  readonly extra: ReadonlyMap<string, readonly string[]>;
}

const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

/** The impersonation a raw kubeconfig user entry asks for beyond `as`, or undefined when none. */
export function impersonationOf(user: Record<string, unknown> | undefined): Impersonation | undefined {
  if (!user) return undefined;
  const groups = strings(user['as-groups']);
  const uid = typeof user['as-uid'] === 'string' && user['as-uid'] !== '' ? user['as-uid'] : undefined;
  const rawExtra = user['as-user-extra'];
  const extra = new Map<string, string[]>();
  if (rawExtra && typeof rawExtra === 'object' && !Array.isArray(rawExtra)) {
    for (const [k, v] of Object.entries(rawExtra)) if (strings(v).length > 0) extra.set(k, strings(v));
  }
  if (groups.length === 0 && uid === undefined && extra.size === 0) return undefined;
  return { groups, ...(uid !== undefined ? { uid } : {}), extra };
}

/** The request headers, by lower-case name, each value its own header line. */
export function impersonationHeaders(imp: Impersonation): Record<string, string[]> {
  const headers: Record<string, string[]> = {};
  if (imp.groups.length > 0) headers['impersonate-group'] = [...imp.groups];
  if (imp.uid !== undefined) headers['impersonate-uid'] = [imp.uid];
  // client-go escapes the key so that it is a valid header name
  for (const [k, values] of imp.extra) headers[`impersonate-extra-${encodeURIComponent(k).toLowerCase()}`] = [...values];
  return headers;
}

/** Whether some header carries several values (undici joins those over HTTP/2: see pooled-kube-config.ts). */
export function hasSeveralValues(imp: Impersonation): boolean {
  return Object.values(impersonationHeaders(imp)).some((values) => values.length > 1);
}

type DispatchHeaders = Parameters<Dispatcher['dispatch']>[0]['headers'];

/** `headers` (any form undici takes) with `extra` added; a name present in both keeps `extra`'s values. */
function withHeaders(headers: DispatchHeaders, extra: Record<string, string[]>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  type Value = string | number | readonly (string | number)[] | null | undefined;
  const add = (name: string, value: Value) => {
    if (value === undefined || value === null) return;
    const key = name.toLowerCase();
    const values = typeof value === 'object' ? value.map((v) => `${v}`) : [`${value}`];
    const prior = out[key];
    out[key] = prior === undefined ? (values.length === 1 ? values[0]! : values) : [...(Array.isArray(prior) ? prior : [prior]), ...values];
  };
  if (Array.isArray(headers)) {
    // undici's flat form: [name, value, name, value, ...]
    for (let i = 0; i + 1 < headers.length; i += 2) add(`${headers[i] as string}`, headers[i + 1]);
  } else if (headers && typeof (headers as Iterable<unknown>)[Symbol.iterator] === 'function') {
    for (const [name, value] of headers as Iterable<[string, Value]>) add(name, value);
  } else if (headers) {
    for (const [name, value] of Object.entries(headers as Record<string, Value>)) add(name, value);
  }
  return { ...out, ...extra };
}

/** `dispatcher` whose every request also carries the impersonation headers. */
export function withImpersonation(dispatcher: Dispatcher, imp: Impersonation): Dispatcher {
  const extra = impersonationHeaders(imp);
  return dispatcher.compose((dispatch) => (opts, handler) => dispatch({ ...opts, headers: withHeaders(opts.headers, extra) }, handler));
}
