// After the verdict: a refusal IAM can explain (EXPLAINED_REASONS) gets a diagnosis. IAM is read
// at most once per role (and reason and issuer) per TTL on this agent, and not at all when the
// identity's shared IRSACheck already holds a diagnosis read within the TTL by any agent. When IAM
// cannot be read the verdict stays exactly as it is and the diagnosis is a one-line hint; that
// answer is cached too, so a missing permission costs one read per TTL.
import type { Logger } from 'pino';
import { parseRoleArn, providerFor } from '../../shared/iam/arn.ts';
import type { ProviderFacts } from '../../shared/iam/diagnose.ts';
import type { TokenCheckResult } from '../check-token.ts';
import type { Reason } from '../core/reasons.ts';
import { EXPLAINED_REASONS, explainFromIam, firstRead, unavailableDiagnosis, type IamFacts, type IamUnavailable, type IdentityDiagnosis } from './explain.ts';
import { IamReadError, type IamReader } from './iam-reader.ts';

export interface DiagnoserOptions {
  readonly reader: Pick<IamReader, 'callerAccount' | 'trustPolicy' | 'providerUrls' | 'providerClientIds' | 'close'>;
  readonly ttlMs: number;
  readonly logger: Logger;
  readonly now?: () => number;
  /** Entries kept (oldest dropped). */
  readonly capacity?: number;
}

type Outcome = { readonly facts: IamFacts } | { readonly unavailable: IamUnavailable };

interface Entry {
  readonly at: number;
  readonly outcome: Promise<Outcome>;
}

export class Diagnoser {
  private readonly opts: DiagnoserOptions;
  private readonly entries = new Map<string, Entry>();
  private account: { at: number; value: Promise<string> } | undefined;

  constructor(opts: DiagnoserOptions) {
    this.opts = opts;
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  /** The result with its diagnosis, when the reason is one IAM explains; `shared`: the identity's diagnosis from its IRSACheck. */
  async explain(result: TokenCheckResult, roleArn: string, shared?: IdentityDiagnosis): Promise<TokenCheckResult> {
    const claims = result.claims;
    if (!EXPLAINED_REASONS.has(result.reason) || !claims?.iss || !claims.sub || !parseRoleArn(roleArn)) return result;
    const now = this.now();
    if (shared && shared.roleArn === roleArn && shared.reason === result.reason && now - Date.parse(shared.readAt) < this.opts.ttlMs) {
      return { ...result, diagnosis: shared };
    }
    const key = [result.reason, roleArn, claims.iss].join('\u0000');
    let entry = this.entries.get(key);
    if (!entry || now - entry.at >= this.opts.ttlMs) {
      entry = { at: now, outcome: this.read(result.reason, roleArn, claims.iss, [claims.aud ?? []].flat()) };
      this.entries.delete(key);
      this.entries.set(key, entry);
      while (this.entries.size > (this.opts.capacity ?? 1000)) this.entries.delete(this.entries.keys().next().value ?? '');
    }
    const outcome = await entry.outcome;
    const readAt = new Date(entry.at).toISOString();
    const diagnosis = 'facts' in outcome
      ? explainFromIam(result.reason, roleArn, claims, outcome.facts, readAt)
      : unavailableDiagnosis(result.reason, roleArn, outcome.unavailable, readAt);
    return { ...result, diagnosis };
  }

  private callerAccount(): Promise<string> {
    const now = this.now();
    if (!this.account || now - this.account.at >= this.opts.ttlMs) {
      const value = this.opts.reader.callerAccount();
      this.account = { at: now, value };
      // a failure is not kept beyond this read
      value.catch(() => {
        if (this.account?.value === value) this.account = undefined;
      });
    }
    return this.account.value;
  }

  private async read(reason: Reason, roleArn: string, issuer: string, audiences: string[]): Promise<Outcome> {
    const role = parseRoleArn(roleArn)!;
    const log = this.opts.logger;
    try {
      const own = await this.callerAccount();
      if (own !== role.account) {
        log.info({ roleArn, reason, account: own }, 'refusal not explained: the role is in another account than the agent\'s AWS credentials');
        return { unavailable: { kind: 'other-account', ownAccount: own, roleAccount: role.account } };
      }
      const provider = providerFor(issuer, roleArn);
      let providers: ProviderFacts[];
      if (reason === 'TrustPolicyDenied') {
        // STS got past the provider and its client IDs before refusing: both are as the token says
        providers = [{ url: provider.url, clientIds: audiences }];
      } else if (reason === 'OIDCProviderNotFound') {
        const urls = await this.opts.reader.providerUrls(role.partition, role.account);
        // the provider may have been created since STS answered: then its client IDs matter
        const created = urls.includes(provider.url) ? await this.opts.reader.providerClientIds(role.partition, provider.arn ?? '') : undefined;
        providers = urls.map((url) => ({ url, clientIds: url === provider.url ? created ?? [] : [] }));
      } else {
        const clientIds = await this.opts.reader.providerClientIds(role.partition, provider.arn ?? '');
        providers = clientIds === undefined ? [] : [{ url: provider.url, clientIds }];
      }
      const trustPolicy = await this.opts.reader.trustPolicy(role.partition, roleArn, role.name);
      log.info({ roleArn, reason, roleFound: trustPolicy !== undefined }, 'IAM read to explain a refusal');
      return { facts: { trustPolicy, providers } };
    } catch (err) {
      if (!(err instanceof IamReadError)) {
        const { action, resource } = firstRead(reason, roleArn, issuer);
        log.warn({ roleArn, reason, err: (err as Error).name }, 'IAM read failed unexpectedly: the refusal is reported without its cause');
        return { unavailable: { kind: 'unreachable', action, resource, code: (err as Error).name || 'Error' } };
      }
      // a failed GetCallerIdentity is about the credentials: name the IAM read they were for
      const { action, resource } = err.action.startsWith('sts:') ? firstRead(reason, roleArn, issuer) : err;
      log.warn({ roleArn, reason, action, code: err.code, failure: err.kind }, 'IAM not readable: the refusal is reported without its cause');
      return { unavailable: { kind: err.kind, action, resource, code: err.code } };
    }
  }

  close(): void {
    this.opts.reader.close();
  }
}
