// The `pod-identity-webhook` ConfigMap: its `config` key holds JSON mapping `namespace/serviceAccount`
// to {RoleARN, Audience, UseRegionalSTS, TokenExpiration}. Field names match case-insensitively, as
// Go's encoding/json does. A namespace may be `*` or a glob such as `test-*` (the reference
// documents globs but only matches a literal `*`). Anything malformed rejects the whole document,
// so the caller keeps the mapping it had: a half-applied mapping is worse than a stale one.
import { clampTokenExpiration, type IdentityDefaults } from './annotations.ts';

export const MAPPING_CONFIG_MAP_NAME = 'pod-identity-webhook';
export const MAPPING_CONFIG_KEY = 'config';

export interface MappingEntry {
  readonly roleArn: string;
  readonly audience: string;
  readonly stsRegionalEndpoints: boolean;
  readonly tokenExpirationSeconds: number;
  /** The key the entry came from, e.g. `test-*\/app`. */
  readonly key: string;
}

interface GlobEntry {
  readonly namespacePattern: RegExp;
  readonly literalLength: number;
  readonly entry: MappingEntry;
}

export class IdentityMapping {
  static readonly empty = new IdentityMapping(new Map(), new Map(), new Map());
  private readonly exact: ReadonlyMap<string, MappingEntry>;
  private readonly globsByName: ReadonlyMap<string, readonly GlobEntry[]>;
  private readonly wildcard: ReadonlyMap<string, MappingEntry>;

  constructor(exact: ReadonlyMap<string, MappingEntry>, globsByName: ReadonlyMap<string, readonly GlobEntry[]>, wildcard: ReadonlyMap<string, MappingEntry>) {
    this.exact = exact;
    this.globsByName = globsByName;
    this.wildcard = wildcard;
  }

  get size(): number {
    let globs = 0;
    for (const list of this.globsByName.values()) globs += list.length;
    return this.exact.size + globs + this.wildcard.size;
  }

  /** `ns/name`, then the most specific matching namespace glob, then `*\/name`. */
  lookup(namespace: string, name: string): MappingEntry | undefined {
    const exact = this.exact.get(`${namespace}/${name}`);
    if (exact) return exact;
    const glob = this.globsByName.get(name)?.find((g) => g.namespacePattern.test(namespace));
    return glob?.entry ?? this.wildcard.get(name);
  }

  /** Only `ns/name`: what container-credentials mode consults, like the reference. */
  lookupExact(namespace: string, name: string): MappingEntry | undefined {
    return this.exact.get(`${namespace}/${name}`);
  }
}

export type MappingParseResult =
  | { readonly ok: true; readonly mapping: IdentityMapping; readonly warnings: readonly string[] }
  | { readonly ok: false; readonly errors: readonly string[] };

const FIELDS = { rolearn: 'RoleARN', audience: 'Audience', useregionalsts: 'UseRegionalSTS', tokenexpiration: 'TokenExpiration' } as const;

function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

/** Parses the ConfigMap's `config` text; `undefined` or empty means an empty mapping. */
export function parseIdentityMapping(configText: string | undefined, defaults: IdentityDefaults): MappingParseResult {
  if (configText === undefined || configText.trim() === '') return { ok: true, mapping: IdentityMapping.empty, warnings: [] };
  let doc: unknown;
  try {
    doc = JSON.parse(configText);
  } catch (err) {
    return { ok: false, errors: [`"${MAPPING_CONFIG_KEY}" is not valid JSON: ${(err as Error).message}`] };
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    return { ok: false, errors: [`"${MAPPING_CONFIG_KEY}" must be a JSON object of "namespace/serviceAccount" keys`] };
  }
  const errors: string[] = [];
  const warnings: string[] = [];
  const exact = new Map<string, MappingEntry>();
  const globs = new Map<string, GlobEntry[]>();
  const wildcard = new Map<string, MappingEntry>();

  for (const [key, raw] of Object.entries(doc)) {
    const parts = key.split('/');
    if (parts.length !== 2 || parts[0] === '' || parts[1] === '') {
      errors.push(`key "${key}" must be "namespace/serviceAccount" (a namespace may be * or a glob such as team-*)`);
      continue;
    }
    const [namespace = '', name = ''] = parts;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      errors.push(`"${key}" must be an object with RoleARN, Audience, UseRegionalSTS and TokenExpiration, got ${raw === null ? 'null' : typeof raw}`);
      continue;
    }
    const fields: Partial<Record<(typeof FIELDS)[keyof typeof FIELDS], unknown>> = {};
    for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
      const canonical = FIELDS[k.toLowerCase() as keyof typeof FIELDS];
      if (canonical) fields[canonical] = v;
    }
    const problems: string[] = [];
    const roleArn = fields.RoleARN ?? '';
    if (typeof roleArn !== 'string') problems.push('RoleARN must be a string');
    const audience = fields.Audience ?? '';
    if (typeof audience !== 'string') problems.push('Audience must be a string');
    const sts = fields.UseRegionalSTS ?? false;
    if (typeof sts !== 'boolean') problems.push('UseRegionalSTS must be true or false');
    const exp = fields.TokenExpiration ?? 0;
    if (typeof exp !== 'number' || !Number.isInteger(exp)) problems.push('TokenExpiration must be a whole number of seconds');
    if (problems.length > 0) {
      errors.push(`"${key}": ${problems.join('; ')}`);
      continue;
    }
    const entry: MappingEntry = {
      key,
      roleArn: roleArn as string,
      // an empty audience would give the pod a token for the API server, which STS rejects
      audience: (audience as string) === '' ? defaults.audience : (audience as string),
      stsRegionalEndpoints: sts as boolean,
      tokenExpirationSeconds: exp === 0 ? defaults.tokenExpirationSeconds : clampTokenExpiration(exp as number, `ConfigMap entry "${key}" TokenExpiration`, warnings),
    };
    if (namespace === '*') wildcard.set(name, entry);
    else if (/[*?]/.test(namespace)) {
      const list = globs.get(name) ?? [];
      list.push({ namespacePattern: globToRegExp(namespace), literalLength: namespace.replace(/[*?]/g, '').length, entry });
      globs.set(name, list);
    } else exact.set(key, entry);
  }
  if (errors.length > 0) return { ok: false, errors };
  // the most specific glob (most literal characters) is tried first
  for (const list of globs.values()) list.sort((a, b) => b.literalLength - a.literalLength || a.entry.key.localeCompare(b.entry.key));
  return { ok: true, mapping: new IdentityMapping(exact, globs, wildcard), warnings };
}
