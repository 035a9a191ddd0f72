// The IAM reads that explain a refusal, through @aws-sdk/client-iam with the agent's own AWS
// credentials (the SDK's default chain: in a cluster, the agent's own IRSA role): GetRole (the
// trust policy, URL-encoded as IAM returns it), ListOpenIDConnectProviders and
// GetOpenIDConnectProvider, and once STS GetCallerIdentity to learn which account those
// credentials read (IAM answers for the caller's account only). Every call waits for the agent's
// STS rate budget. Nothing read here is logged.
import { GetOpenIDConnectProviderCommand, GetRoleCommand, IAMClient, ListOpenIDConnectProvidersCommand, type IAMClientConfig } from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import { USER_AGENT } from '../../shared/version.ts';
import { stsEndpointFor } from '../core/sts-endpoint.ts';
import type { RateLimiter } from '../rate-limiter.ts';

export type AwsCredentials = NonNullable<IAMClientConfig['credentials']>;

export type IamReadFailure = 'denied' | 'unreachable' | 'no-credentials';

/** Why an IAM read gave no answer: refused (no permission, bad credentials), not reachable, or no credentials at all. */
export class IamReadError extends Error {
  readonly kind: IamReadFailure;
  /** The IAM action, e.g. iam:GetRole, and the resource it was for. */
  readonly action: string;
  readonly resource: string;
  /** AWS's error code or the transport's (never its message, which may quote the caller). */
  readonly code: string;
  constructor(kind: IamReadFailure, action: string, resource: string, code: string) {
    super(`${action} on ${resource}: ${code}`);
    this.name = 'IamReadError';
    this.kind = kind;
    this.action = action;
    this.resource = resource;
    this.code = code;
  }
}

export interface IamReaderOptions {
  readonly limiter: RateLimiter;
  /** IAM endpoint URL overriding the partition's (e.g. an emulator). */
  readonly iamEndpoint: string | undefined;
  /** STS endpoint URL for GetCallerIdentity (the agent's --sts-endpoint). */
  readonly stsEndpoint: string | undefined;
  readonly stsRegion: string;
  /** Default: the SDK's default chain. */
  readonly credentials?: AwsCredentials;
  readonly timeoutMs?: number;
}

/** IAM is global per partition; requests are signed for the partition's home region. */
const PARTITION_REGION: Readonly<Record<string, string>> = { aws: 'us-east-1', 'aws-cn': 'cn-north-1', 'aws-us-gov': 'us-gov-west-1' };

function classify(err: unknown, action: string, resource: string): IamReadError {
  const e = err as { name?: string; Code?: string; code?: string; $metadata?: { httpStatusCode?: number } };
  const status = e.$metadata?.httpStatusCode;
  // the SDK names modelled errors NoSuchEntityException, unmodelled ones by their wire code
  const code = (e.Code ?? (e.name && e.name !== 'Error' ? e.name : undefined) ?? e.code ?? 'Error').replace(/Exception$/, '');
  if (e.name === 'CredentialsProviderError') return new IamReadError('no-credentials', action, resource, code);
  const unreachable = status === undefined || status >= 500 || /Throttl|RequestLimitExceeded/.test(code);
  return new IamReadError(unreachable ? 'unreachable' : 'denied', action, resource, code);
}

export class IamReader {
  private readonly opts: IamReaderOptions;
  private readonly credentials: AwsCredentials;
  private readonly clients = new Map<string, IAMClient>();
  private sts: STSClient | undefined;

  constructor(opts: IamReaderOptions) {
    this.opts = opts;
    this.credentials = opts.credentials ?? fromNodeProviderChain();
  }

  private requestHandler() {
    return { requestTimeout: this.opts.timeoutMs ?? 10_000, connectionTimeout: 5_000 };
  }

  private iam(partition: string): IAMClient {
    let c = this.clients.get(partition);
    if (!c) {
      c = new IAMClient({
        region: PARTITION_REGION[partition] ?? 'us-east-1', credentials: this.credentials, maxAttempts: 1, customUserAgent: USER_AGENT,
        ...(this.opts.iamEndpoint ? { endpoint: this.opts.iamEndpoint } : {}), requestHandler: this.requestHandler(),
      });
      this.clients.set(partition, c);
    }
    return c;
  }

  private async call<T>(action: string, resource: string, send: () => Promise<T>): Promise<T> {
    await this.opts.limiter.acquire();
    try {
      return await send();
    } catch (err) {
      throw classify(err, action, resource);
    }
  }

  /** The account the credentials belong to (STS GetCallerIdentity). */
  async callerAccount(): Promise<string> {
    this.sts ??= new STSClient({
      region: this.opts.stsRegion, credentials: this.credentials, maxAttempts: 1, customUserAgent: USER_AGENT,
      // the agent's --sts-endpoint may be a {region} template: GetCallerIdentity goes to stsRegion's
      ...(this.opts.stsEndpoint ? { endpoint: stsEndpointFor(this.opts.stsEndpoint, this.opts.stsRegion) } : {}), requestHandler: this.requestHandler(),
    });
    const sts = this.sts;
    const out = await this.call('sts:GetCallerIdentity', 'the agent\'s credentials', () => sts.send(new GetCallerIdentityCommand({})));
    return out.Account ?? '';
  }

  /** The role's trust policy as written (decoded), or undefined when IAM says NoSuchEntity. */
  async trustPolicy(partition: string, roleArn: string, roleName: string): Promise<string | undefined> {
    try {
      const out = await this.call('iam:GetRole', roleArn, () => this.iam(partition).send(new GetRoleCommand({ RoleName: roleName })));
      return decodeURIComponent(out.Role?.AssumeRolePolicyDocument ?? '');
    } catch (err) {
      if (err instanceof IamReadError && err.code === 'NoSuchEntity') return undefined;
      throw err;
    }
  }

  /** The provider URLs of the account (from their ARNs). */
  async providerUrls(partition: string, account: string): Promise<string[]> {
    const out = await this.call('iam:ListOpenIDConnectProviders', `arn:${partition}:iam::${account}:oidc-provider/*`,
      () => this.iam(partition).send(new ListOpenIDConnectProvidersCommand({})));
    return (out.OpenIDConnectProviderList ?? []).map((p) => /:oidc-provider\/(.+)$/.exec(p.Arn ?? '')?.[1] ?? '').filter((u) => u !== '');
  }

  /** A provider's client IDs, or undefined when IAM says NoSuchEntity. */
  async providerClientIds(partition: string, providerArn: string): Promise<string[] | undefined> {
    try {
      const out = await this.call('iam:GetOpenIDConnectProvider', providerArn,
        () => this.iam(partition).send(new GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: providerArn })));
      return out.ClientIDList ?? [];
    } catch (err) {
      if (err instanceof IamReadError && err.code === 'NoSuchEntity') return undefined;
      throw err;
    }
  }

  close(): void {
    for (const c of this.clients.values()) c.destroy();
    this.sts?.destroy();
  }
}
