// The emulator's IAM world: accounts, their OIDC providers (URL without scheme, client IDs) and
// roles (ARN, unique ID, maximum session duration, trust policy as written), and the IAM users
// whose access keys may call the IAM reads. Loaded from a YAML/JSON file or changed at run time by
// tests; every change is validated the way IAM validates it.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { oidcProviderArn, providerUrlOf } from '../../shared/iam/arn.ts';
import { parseTrustPolicy, PolicyError, type TrustPolicy } from '../../shared/iam/trust-policy.ts';

export { providerUrlOf };

export interface OidcProviderSpec {
  /** The issuer, with or without `https://`. */
  readonly url: string;
  readonly clientIds: readonly string[];
  readonly thumbprints?: readonly string[];
}

export interface RoleSpec {
  readonly name: string;
  readonly path?: string;
  readonly uniqueId?: string;
  readonly maxSessionDuration?: number;
  /** IAM JSON, as text or as an object. */
  readonly trustPolicy: unknown;
  /** Whether sessions of this role may call the IAM reads (GetRole, the OIDC provider reads). */
  readonly allowIamReads?: boolean;
}

/** An IAM user with a long-term access key, for callers of the IAM reads that are not sessions. */
export interface IamUserSpec {
  readonly name: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly allowIamReads: boolean;
}

export interface AccountSpec {
  readonly id: string;
  readonly partition?: string;
  readonly oidcProviders?: readonly OidcProviderSpec[];
  readonly roles?: readonly RoleSpec[];
  readonly users?: readonly IamUserSpec[];
}

export interface EmulatorConfig {
  /** Region served when the request path names none. */
  readonly region?: string;
  readonly accounts?: readonly AccountSpec[];
  readonly disabledRegions?: readonly string[];
  /** Tolerance for `exp`/`nbf`, seconds. */
  readonly clockSkewSeconds?: number;
}

export interface OidcProvider {
  readonly account: string;
  readonly arn: string;
  /** Issuer without scheme: the provider's name and condition-key prefix. */
  readonly url: string;
  readonly clientIds: readonly string[];
  readonly thumbprints: readonly string[];
  readonly createDate: Date;
}

export interface IamUser {
  readonly account: string;
  readonly arn: string;
  readonly name: string;
  readonly userId: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly allowIamReads: boolean;
}

export interface Role {
  readonly account: string;
  readonly arn: string;
  readonly name: string;
  readonly path: string;
  readonly uniqueId: string;
  readonly maxSessionDuration: number;
  readonly trustPolicy: TrustPolicy;
  /** The trust policy as written, which GetRole returns (URL-encoded). */
  readonly trustPolicyDocument: string;
  readonly createDate: Date;
  readonly allowIamReads: boolean;
}

export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(source: string, problems: readonly string[]) {
    super(`${source}: invalid STS emulator configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

const ACCOUNT_ID = /^\d{12}$/;
const ROLE_NAME = /^[\w+=,.@-]{1,64}$/;
const ROLE_PATH = /^\/(?:[\x21-\x7e]+\/)?$/;
const PARTITIONS = new Set(['aws', 'aws-cn', 'aws-us-gov', 'aws-iso', 'aws-iso-b', 'aws-iso-e', 'aws-iso-f', 'aws-eusc']);

const documentOf = (policy: unknown): string => (typeof policy === 'string' ? policy : JSON.stringify(policy));

function uniqueIdFor(arn: string, prefix = 'AROA'): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const digest = createHash('sha256').update(arn).digest();
  let id = prefix;
  for (let i = 0; id.length < 21; i++) id += alphabet[(digest[i] ?? 0) % 32];
  return id;
}

interface AccountState {
  readonly partition: string;
  readonly providers: Map<string, OidcProvider>;
  readonly roles: Map<string, Role>;
}

export class IamState {
  private readonly accounts = new Map<string, AccountState>();
  /** IAM users by access key id. */
  private readonly users = new Map<string, IamUser>();

  /** Creates the account if needed; the partition is fixed at creation. */
  addAccount(id: string, partition = 'aws'): void {
    if (!ACCOUNT_ID.test(id)) throw new ConfigError('account', [`account id "${id}" must be 12 digits`]);
    if (!PARTITIONS.has(partition)) throw new ConfigError('account', [`partition "${partition}" is not an AWS partition`]);
    if (!this.accounts.has(id)) this.accounts.set(id, { partition, providers: new Map(), roles: new Map() });
  }

  private account(id: string): AccountState {
    this.addAccount(id);
    return this.accounts.get(id)!;
  }

  partitionOf(account: string): string | undefined {
    return this.accounts.get(account)?.partition;
  }

  putOidcProvider(account: string, spec: OidcProviderSpec): OidcProvider {
    const problems = validateProvider(spec, 'oidcProvider');
    if (problems.length > 0) throw new ConfigError('oidcProvider', problems);
    const a = this.account(account);
    const url = providerUrlOf(spec.url);
    const provider: OidcProvider = {
      account, url, clientIds: [...spec.clientIds],
      arn: oidcProviderArn(a.partition, account, url),
      // IAM stores a thumbprint per provider; without one configured, a stable stand-in of the right shape
      thumbprints: spec.thumbprints ? [...spec.thumbprints] : [createHash('sha1').update(url).digest('hex')],
      createDate: a.providers.get(url)?.createDate ?? new Date(),
    };
    a.providers.set(url, provider);
    return provider;
  }

  deleteOidcProvider(account: string, url: string): boolean {
    return this.accounts.get(account)?.providers.delete(providerUrlOf(url)) ?? false;
  }

  /** Exact, case-sensitive match of the issuer without its scheme, as IAM does. */
  findOidcProvider(account: string, iss: string): OidcProvider | undefined {
    if (!iss.startsWith('https://')) return undefined;
    return this.accounts.get(account)?.providers.get(providerUrlOf(iss));
  }

  /** Every OIDC provider of the account, for ListOpenIDConnectProviders. */
  oidcProviders(account: string): OidcProvider[] {
    return [...(this.accounts.get(account)?.providers.values() ?? [])];
  }

  /** Adds or replaces an IAM user with its access key. */
  putUser(account: string, spec: IamUserSpec): IamUser {
    const problems = validateUser(spec, 'user');
    if (problems.length > 0) throw new ConfigError('user', problems);
    const a = this.account(account);
    const arn = `arn:${a.partition}:iam::${account}:user/${spec.name}`;
    const user: IamUser = { account, arn, name: spec.name, userId: uniqueIdFor(arn, 'AIDA'), accessKeyId: spec.accessKeyId, secretAccessKey: spec.secretAccessKey, allowIamReads: spec.allowIamReads };
    this.users.set(spec.accessKeyId, user);
    return user;
  }

  findUserByAccessKey(accessKeyId: string): IamUser | undefined {
    return this.users.get(accessKeyId);
  }

  putRole(account: string, spec: RoleSpec): Role {
    const problems = validateRole(spec, 'role');
    if (problems.length > 0) throw new ConfigError('role', problems);
    const a = this.account(account);
    const path = spec.path ?? '/';
    const arn = `arn:${a.partition}:iam::${account}:role${path}${spec.name}`;
    const role: Role = {
      account, arn, name: spec.name, path,
      uniqueId: spec.uniqueId ?? uniqueIdFor(arn),
      maxSessionDuration: spec.maxSessionDuration ?? 3600,
      trustPolicy: parseTrustPolicy(spec.trustPolicy),
      trustPolicyDocument: documentOf(spec.trustPolicy),
      createDate: a.roles.get(spec.name)?.createDate ?? new Date(),
      allowIamReads: spec.allowIamReads ?? false,
    };
    a.roles.set(spec.name, role);
    return role;
  }

  /** Replaces a role's trust policy (UpdateAssumeRolePolicy); throws PolicyError when malformed. */
  updateTrustPolicy(account: string, roleName: string, policy: unknown): Role {
    const a = this.accounts.get(account);
    const existing = a?.roles.get(roleName);
    if (!a || !existing) throw new Error(`no role ${roleName} in account ${account}`);
    const updated = { ...existing, trustPolicy: parseTrustPolicy(policy), trustPolicyDocument: documentOf(policy) };
    a.roles.set(roleName, updated);
    return updated;
  }

  deleteRole(account: string, roleName: string): boolean {
    return this.accounts.get(account)?.roles.delete(roleName) ?? false;
  }

  /** Roles are found by account and name: IAM ignores the path when resolving an ARN for STS. */
  findRole(account: string, roleName: string): Role | undefined {
    return this.accounts.get(account)?.roles.get(roleName);
  }

  static fromConfig(config: EmulatorConfig): IamState {
    const state = new IamState();
    for (const account of config.accounts ?? []) {
      state.addAccount(account.id, account.partition ?? 'aws');
      for (const p of account.oidcProviders ?? []) state.putOidcProvider(account.id, p);
      for (const r of account.roles ?? []) state.putRole(account.id, r);
      for (const u of account.users ?? []) state.putUser(account.id, u);
    }
    return state;
  }
}

function validateProvider(spec: OidcProviderSpec, at: string): string[] {
  const problems: string[] = [];
  if (typeof spec?.url !== 'string' || spec.url === '') problems.push(`${at}.url: required, the issuer URL (with or without https://)`);
  else if (/^[a-z]+:\/\//i.test(spec.url) && !spec.url.startsWith('https://')) problems.push(`${at}.url: "${spec.url}" must be https`);
  if (!Array.isArray(spec?.clientIds) || spec.clientIds.length === 0 || spec.clientIds.length > 100) {
    problems.push(`${at}.clientIds: a list of 1 to 100 audiences, e.g. [sts.amazonaws.com]`);
  } else {
    spec.clientIds.forEach((c, i) => {
      if (typeof c !== 'string' || c.length === 0 || c.length > 255) problems.push(`${at}.clientIds[${i}]: must be a string of 1 to 255 characters`);
    });
  }
  if (spec?.thumbprints !== undefined && (!Array.isArray(spec.thumbprints) || spec.thumbprints.length > 5
    || spec.thumbprints.some((t) => typeof t !== 'string' || !/^[0-9a-fA-F]{40}$/.test(t)))) {
    problems.push(`${at}.thumbprints: a list of up to 5 SHA-1 fingerprints, 40 hex digits each`);
  }
  return problems;
}

function validateUser(spec: IamUserSpec, at: string): string[] {
  const problems: string[] = [];
  if (typeof spec?.name !== 'string' || !/^[\w+=,.@-]{1,64}$/.test(spec.name)) problems.push(`${at}.name: must match [\\w+=,.@-]{1,64}`);
  if (typeof spec?.accessKeyId !== 'string' || !/^AKIA[A-Z2-7]{16}$/.test(spec.accessKeyId)) problems.push(`${at}.accessKeyId: must be AKIA followed by 16 characters of A-Z2-7`);
  if (typeof spec?.secretAccessKey !== 'string' || spec.secretAccessKey.length !== 40) problems.push(`${at}.secretAccessKey: must be 40 characters`);
  if (typeof spec?.allowIamReads !== 'boolean') problems.push(`${at}.allowIamReads: must be true or false`);
  return problems;
}

function validateRole(spec: RoleSpec, at: string): string[] {
  const problems: string[] = [];
  if (spec?.allowIamReads !== undefined && typeof spec.allowIamReads !== 'boolean') problems.push(`${at}.allowIamReads: must be true or false`);
  if (typeof spec?.name !== 'string' || !ROLE_NAME.test(spec.name)) problems.push(`${at}.name: must match [\\w+=,.@-]{1,64}`);
  if (spec?.path !== undefined && (typeof spec.path !== 'string' || !ROLE_PATH.test(spec.path))) problems.push(`${at}.path: must start and end with "/"`);
  if (spec?.uniqueId !== undefined && (typeof spec.uniqueId !== 'string' || !/^AROA[A-Z0-9]{17}$/.test(spec.uniqueId))) {
    problems.push(`${at}.uniqueId: must be AROA followed by 17 upper-case letters or digits`);
  }
  const max = spec?.maxSessionDuration;
  if (max !== undefined && (!Number.isInteger(max) || max < 3600 || max > 43200)) {
    problems.push(`${at}.maxSessionDuration: must be a whole number of seconds from 3600 to 43200`);
  }
  if (spec?.trustPolicy === undefined) problems.push(`${at}.trustPolicy: required`);
  else {
    try {
      parseTrustPolicy(spec.trustPolicy);
    } catch (err) {
      if (err instanceof PolicyError) problems.push(`${at}.trustPolicy.${err.message}`);
      else throw err;
    }
  }
  return problems;
}

/** Validates a whole configuration document, collecting every problem with its path. */
export function parseEmulatorConfig(doc: unknown, source: string): EmulatorConfig {
  const problems: string[] = [];
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObj(doc)) throw new ConfigError(source, ['$: the document must be a mapping with an "accounts" list']);
  const known = new Set(['region', 'accounts', 'disabledRegions', 'clockSkewSeconds']);
  for (const k of Object.keys(doc)) if (!known.has(k)) problems.push(`${k}: unknown setting (known: ${[...known].join(', ')})`);
  if (doc.region !== undefined && (typeof doc.region !== 'string' || !/^[a-z]{2}(-[a-z]+)+-\d$/.test(doc.region))) problems.push('region: must be a region name such as us-east-1');
  if (doc.clockSkewSeconds !== undefined && (typeof doc.clockSkewSeconds !== 'number' || doc.clockSkewSeconds < 0)) problems.push('clockSkewSeconds: must be a number of seconds ≥ 0');
  if (doc.disabledRegions !== undefined && (!Array.isArray(doc.disabledRegions) || doc.disabledRegions.some((r) => typeof r !== 'string'))) problems.push('disabledRegions: must be a list of region names');
  if (!Array.isArray(doc.accounts)) problems.push('accounts: required, a list of accounts');
  else {
    const seen = new Set<string>();
    doc.accounts.forEach((a: unknown, i) => {
      const at = `accounts[${i}]`;
      if (!isObj(a)) return problems.push(`${at}: must be a mapping`);
      if (typeof a.id !== 'string' || !ACCOUNT_ID.test(a.id)) problems.push(`${at}.id: must be a 12-digit account id as a string (quote it in YAML)`);
      else if (seen.has(a.id)) problems.push(`${at}.id: account ${a.id} is listed twice`);
      else seen.add(a.id);
      if (a.partition !== undefined && (typeof a.partition !== 'string' || !PARTITIONS.has(a.partition))) problems.push(`${at}.partition: must be one of ${[...PARTITIONS].join(', ')}`);
      if (a.oidcProviders !== undefined && !Array.isArray(a.oidcProviders)) problems.push(`${at}.oidcProviders: must be a list`);
      else (a.oidcProviders as OidcProviderSpec[] | undefined ?? []).forEach((p, j) => problems.push(...validateProvider(p, `${at}.oidcProviders[${j}]`)));
      if (a.roles !== undefined && !Array.isArray(a.roles)) problems.push(`${at}.roles: must be a list`);
      else (a.roles as RoleSpec[] | undefined ?? []).forEach((r, j) => problems.push(...validateRole(r, `${at}.roles[${j}]`)));
      if (a.users !== undefined && !Array.isArray(a.users)) problems.push(`${at}.users: must be a list`);
      else (a.users as IamUserSpec[] | undefined ?? []).forEach((u, j) => problems.push(...validateUser(u, `${at}.users[${j}]`)));
      return undefined;
    });
  }
  if (problems.length > 0) throw new ConfigError(source, problems);
  return doc;
}

export async function loadEmulatorConfig(file: string): Promise<EmulatorConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [`cannot read the file: ${(err as Error).message}`]);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ConfigError(file, [`not valid YAML or JSON: ${(err as Error).message.split('\n')[0]}`]);
  }
  return parseEmulatorConfig(doc, file);
}
