// The key NAMES of the ConfigMaps and Secrets a pod's envFrom brings in, for the shadowed-credentials
// check. The API server answers with values too: only the names of the credential variables the
// check looks for survive the read, and nothing else is kept or logged. Reading Secrets needs the
// chart's agent.inspectEnvFromSecrets (docs/security.md); a refused read makes the source unknown
// (not inspected) and is not retried for a while.
import type { Logger } from 'pino';
import { describeKubeError, statusOf, type KubeApi } from '../../shared/kube/api.ts';
import { SHADOWING_VARIABLES, type EnvSourceKind } from '../core/shadowed-credentials.ts';
import type { Clock } from '../checks/schedule.ts';

const TTL_MS = 60_000;
/** After a 403, how long a kind is not asked for again. */
const REFUSED_MS = 10 * 60_000;

/** The names among `keys` that, with any envFrom prefix, could be a credential variable. */
export function credentialKeyNames(keys: readonly string[]): string[] {
  return keys.filter((k) => SHADOWING_VARIABLES.some((v) => v.endsWith(k)));
}

/** What a read of a source returns: its keys (values are dropped at once). */
export interface EnvSourceData {
  readonly data?: Readonly<Record<string, string>> | undefined;
  readonly binaryData?: Readonly<Record<string, string>> | undefined;
}

export type ReadEnvSource = (namespace: string, kind: EnvSourceKind, name: string) => Promise<EnvSourceData>;

/** The reads through client-node's typed API. */
export const readEnvSource = (api: Pick<KubeApi, 'core'>): ReadEnvSource => (namespace, kind, name) =>
  kind === 'Secret' ? api.core.readNamespacedSecret({ namespace, name }) : api.core.readNamespacedConfigMap({ namespace, name });

export class EnvSourceReader {
  private readonly cache = new Map<string, { keys: readonly string[] | undefined; at: number }>();
  private readonly refusedUntil = new Map<EnvSourceKind, number>();
  private readonly opts: { read: ReadEnvSource; clock: Clock; logger: Logger };

  constructor(opts: { read: ReadEnvSource; clock: Clock; logger: Logger }) {
    this.opts = opts;
  }

  /** The credential-like key names of each source, keyed `Kind/name` (undefined: unknown). */
  async keysOf(namespace: string, sources: ReadonlyArray<{ kind: EnvSourceKind; name: string }>): Promise<Map<string, readonly string[] | undefined>> {
    const out = new Map<string, readonly string[] | undefined>();
    await Promise.all(sources.map(async (s) => out.set(`${s.kind}/${s.name}`, await this.read(namespace, s.kind, s.name))));
    return out;
  }

  private async read(namespace: string, kind: EnvSourceKind, name: string): Promise<readonly string[] | undefined> {
    const now = this.opts.clock.now();
    if ((this.refusedUntil.get(kind) ?? 0) > now) return undefined;
    const key = `${namespace}/${kind}/${name}`;
    const cached = this.cache.get(key);
    if (cached && now - cached.at < TTL_MS) return cached.keys;
    let keys: readonly string[] | undefined;
    try {
      const object = await this.opts.read(namespace, kind, name);
      keys = credentialKeyNames([...Object.keys(object.data ?? {}), ...Object.keys(object.binaryData ?? {})]);
    } catch (err) {
      const status = statusOf(err);
      if (status === 403) {
        this.refusedUntil.set(kind, now + REFUSED_MS);
        this.opts.logger.info({ kind }, `envFrom ${kind}s are not inspected for credentials: the agent may not read them (${describeKubeError(err)})`);
      }
      // a missing source sets nothing; anything else is unknown this time
      keys = status === 404 ? [] : undefined;
    }
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(key, { keys, at: now });
    return keys;
  }
}
