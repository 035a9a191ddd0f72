// The network half of a check: the issuer's discovery and JWKS from this node (as STS would fetch
// them), then AssumeRoleWithWebIdentity with a deny-all session policy and the shortest duration,
// so the credentials STS returns can do nothing; they are dropped unread. The STS call goes through
// the SDK's web-identity credential provider (fromWebToken), the code path applications use, so a
// probe exercises what they run.
import http from 'node:http';
import https from 'node:https';
import { fromWebToken } from '@aws-sdk/credential-providers';
import type { JSONWebKeySet } from 'jose';
import { fetchIssuerKeys, IssuerKeysError } from '../shared/oidc/issuer-keys.ts';
import { checkSignature } from '../shared/oidc/jwt.ts';
import { USER_AGENT } from '../shared/version.ts';
import type { Reason } from './core/reasons.ts';
import { stsEndpointFor } from './core/sts-endpoint.ts';
import { classifyStsFailure, stsFailureOf } from './core/verdicts.ts';
import type { RateLimiter } from './rate-limiter.ts';

/** Denies every action, so a successful probe mints credentials that are useless. */
export const DENY_ALL_SESSION_POLICY = '{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}';
/** STS's minimum session length. */
export const PROBE_DURATION_SECONDS = 900;

export interface ProbeOutcome {
  readonly reason: Reason;
  readonly detail: string;
  readonly stsError?: { readonly code: string | undefined; readonly message: string };
  /** Whether STS answered at all (for the node's STS reachability). */
  readonly stsAnswered: boolean | undefined;
  readonly stsSeconds?: number;
}

export interface IdentityProberOptions {
  readonly nodeName: string;
  readonly defaultRegion: string;
  /** May contain `{region}`; undefined: the SDK's regional endpoint. */
  readonly stsEndpoint: string | undefined;
  readonly issuerCaPems: readonly string[];
  readonly limiter: RateLimiter;
  readonly stsTimeoutMs?: number;
  readonly issuerCacheMs?: number;
  readonly onStsCall?: (outcome: 'answered' | 'unreachable', seconds: number) => void;
}

export function probeSessionName(nodeName: string): string {
  return `kube-irsa-${nodeName}`.replace(/[^\w+=,.@-]/g, '-').slice(0, 64);
}

export class IdentityProber {
  private readonly opts: IdentityProberOptions;
  // fromWebToken builds an STS client per call; these agents let every call share connections,
  // and close() ends them
  private readonly httpAgent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  private readonly httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 16 });
  private readonly jwksCache = new Map<string, { jwks: JSONWebKeySet; at: number }>();
  /** Probes of one issuer starting together (a node's first sync) share one fetch. */
  private readonly jwksFetches = new Map<string, Promise<JSONWebKeySet>>();

  constructor(opts: IdentityProberOptions) {
    this.opts = opts;
  }

  /** The inner STS client's configuration for `region`, as fromWebToken's clientConfig. */
  private clientConfig(region: string) {
    const endpoint = stsEndpointFor(this.opts.stsEndpoint, region);
    return {
      region,
      ...(endpoint ? { endpoint } : {}),
      // the agent retries on its own schedule, with backoff and a global rate limit
      maxAttempts: 1,
      customUserAgent: USER_AGENT,
      requestHandler: { httpAgent: this.httpAgent, httpsAgent: this.httpsAgent, requestTimeout: this.opts.stsTimeoutMs ?? 10_000, connectionTimeout: 5_000 },
    };
  }

  /** The issuer's keys as STS would see them; a missing key triggers one fresh fetch. */
  async checkIssuer(token: string, issuer: string): Promise<{ reason: Reason; detail: string } | undefined> {
    const fetchFresh = (): Promise<JSONWebKeySet> => {
      let pending = this.jwksFetches.get(issuer);
      if (!pending) {
        pending = fetchIssuerKeys(issuer, { extraCaPems: this.opts.issuerCaPems, timeoutMs: 5_000 }).then((keys) => {
          this.jwksCache.set(issuer, { jwks: keys.jwks, at: Date.now() });
          return keys.jwks;
        }).finally(() => this.jwksFetches.delete(issuer));
        this.jwksFetches.set(issuer, pending);
      }
      return pending;
    };
    try {
      const cached = this.jwksCache.get(issuer);
      const fresh = !cached || Date.now() - cached.at > (this.opts.issuerCacheMs ?? 30_000);
      let jwks = fresh ? await fetchFresh() : cached.jwks;
      let signature = await checkSignature(token, jwks);
      if (signature === 'key-not-found' && !fresh) {
        jwks = await fetchFresh();
        signature = await checkSignature(token, jwks);
      }
      if (signature === 'key-not-found') return { reason: 'SigningKeyNotInJWKS', detail: `the key that signed the token is not in the JWKS of ${issuer}` };
      if (signature === 'invalid-signature') return { reason: 'SigningKeyNotInJWKS', detail: `the token's signature does not verify with the JWKS of ${issuer}` };
      if (signature === 'unsupported-algorithm') return { reason: 'TokenMalformed', detail: 'the token is signed with an algorithm STS does not accept (RS256/384/512, ES256/384/512 only)' };
      return undefined;
    } catch (err) {
      if (err instanceof IssuerKeysError) {
        return { reason: 'IssuerDiscoveryUnreachable', detail: `${err.stage === 'discovery' ? 'the discovery document' : 'the JWKS'} of issuer ${issuer} cannot be fetched: ${err.message}` };
      }
      throw err;
    }
  }

  async assume(roleArn: string, token: string, region: string | undefined): Promise<ProbeOutcome> {
    await this.opts.limiter.acquire();
    const started = performance.now();
    try {
      const credentials = await fromWebToken({
        roleArn,
        roleSessionName: probeSessionName(this.opts.nodeName),
        webIdentityToken: token,
        durationSeconds: PROBE_DURATION_SECONDS,
        policy: DENY_ALL_SESSION_POLICY,
        clientConfig: this.clientConfig(region ?? this.opts.defaultRegion),
      })();
      const seconds = (performance.now() - started) / 1000;
      this.opts.onStsCall?.('answered', seconds);
      // the credentials are deliberately not kept, logged or returned
      void credentials;
      return { reason: 'Healthy', detail: `STS accepted the token for ${roleArn}`, stsAnswered: true, stsSeconds: seconds };
    } catch (err) {
      const seconds = (performance.now() - started) / 1000;
      const failure = stsFailureOf(err);
      const { code, message, httpStatus } = failure;
      const answered = httpStatus !== undefined;
      this.opts.onStsCall?.(answered && httpStatus < 500 ? 'answered' : 'unreachable', seconds);
      return {
        reason: classifyStsFailure(failure),
        detail: answered ? `STS refused AssumeRoleWithWebIdentity (${code ?? httpStatus})` : `STS could not be reached: ${message}`,
        stsError: { code, message },
        stsAnswered: answered && httpStatus < 500,
        stsSeconds: seconds,
      };
    }
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}
