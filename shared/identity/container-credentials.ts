// The container-credentials (EKS Pod Identity) association file:
// {"identities": [{"namespace": "ns", "serviceAccount": "sa"}, ...]}. Exact matches only.
// An empty or missing file disables the mode; a malformed one is rejected so the caller keeps the
// previous set (the reference does the same).

export class ContainerCredentialsConfig {
  static readonly empty = new ContainerCredentialsConfig(new Set());
  private readonly identities: ReadonlySet<string>;
  constructor(identities: ReadonlySet<string>) {
    this.identities = identities;
  }
  get size(): number {
    return this.identities.size;
  }
  has(namespace: string, serviceAccount: string): boolean {
    return this.identities.has(`${namespace}/${serviceAccount}`);
  }
}

export type ContainerCredentialsParseResult =
  | { readonly ok: true; readonly config: ContainerCredentialsConfig }
  | { readonly ok: false; readonly errors: readonly string[] };

export function parseContainerCredentialsConfig(text: string | undefined): ContainerCredentialsParseResult {
  if (text === undefined || text.trim() === '') return { ok: true, config: ContainerCredentialsConfig.empty };
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return { ok: false, errors: [`not valid JSON: ${(err as Error).message}`] };
  }
  const identities = (doc as { identities?: unknown } | null)?.identities;
  if (typeof doc !== 'object' || doc === null || (identities !== undefined && !Array.isArray(identities))) {
    return { ok: false, errors: ['must be an object with an "identities" list'] };
  }
  const errors: string[] = [];
  const set = new Set<string>();
  (identities ?? []).forEach((item: unknown, i: number) => {
    const { namespace, serviceAccount } = (item ?? {}) as { namespace?: unknown; serviceAccount?: unknown };
    if (typeof namespace !== 'string' || namespace === '' || typeof serviceAccount !== 'string' || serviceAccount === '') {
      errors.push(`identities[${i}] must have a non-empty "namespace" and "serviceAccount"`);
    } else set.add(`${namespace}/${serviceAccount}`);
  });
  return errors.length > 0 ? { ok: false, errors } : { ok: true, config: new ContainerCredentialsConfig(set) };
}
