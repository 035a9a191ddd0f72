// `kube-irsa mutate`: what the webhook would do to a pod, offline. The same admission path as the
// webhook (admit → IdentityResolver → applyPodOverrides → buildPodPatch), fed from files instead of the API server.
import { readFile } from 'node:fs/promises';
import { parseAllDocuments } from 'yaml';
import pino from 'pino';
import { parseCommandLine, processIo, type Command, type CommandIo } from '../shared/cli/command.ts';
import type { FlagSpecs } from '../shared/cli/flags.ts';
import { IdentityMapping, MAPPING_CONFIG_KEY, parseIdentityMapping } from '../shared/identity/config-map.ts';
import { ContainerCredentialsConfig, parseContainerCredentialsConfig } from '../shared/identity/container-credentials.ts';
import { admit } from './admission/handler.ts';
import { buildWebhookConfig, ConfigError, WEBHOOK_FLAGS } from './config.ts';
import { applyAddPatch } from './core/apply-patch.ts';
import { IdentityResolver } from '../shared/identity/resolver.ts';
import { ServiceAccountCache } from '../shared/identity/service-account-cache.ts';

const MUTATE_FLAGS = {
  pod: { kind: 'string', default: '', metavar: 'file|-', help: 'the pod (YAML or JSON; several documents allowed; - reads standard input)' },
  'service-account': { kind: 'list', default: [], metavar: 'file', help: 'ServiceAccounts (YAML or JSON, several documents or a List allowed; repeatable)' },
  'config-map': { kind: 'string', default: '', metavar: 'file', help: 'the pod-identity-webhook ConfigMap (YAML or JSON)' },
  'container-credentials-config': { kind: 'string', default: '', metavar: 'file', help: 'the container-credentials association file (JSON)' },
  output: { kind: 'string', default: 'patch', choices: ['patch', 'pod'], help: 'print the JSON Patch or the mutated pod' },
  ...WEBHOOK_FLAGS,
} as const satisfies FlagSpecs;

export class InputError extends Error {}

async function readText(file: string, what: string): Promise<string> {
  try {
    return file === '-' ? await readStdin() : await readFile(file, 'utf8');
  } catch (err) {
    throw new InputError(`cannot read ${what} ${file}: ${(err as Error).message}`);
  }
}

function readStdin(): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    process.stdin.on('data', (c: Buffer) => chunks.push(c));
    process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    process.stdin.on('error', reject);
  });
}

/** Every object in a YAML/JSON file (multi-document, and `List` kinds unpacked). */
export function parseObjects(text: string, source: string): Array<Record<string, unknown>> {
  const objects: Array<Record<string, unknown>> = [];
  parseAllDocuments(text).forEach((doc, i) => {
    if (doc.errors.length > 0) throw new InputError(`${source}: document ${i + 1} is not valid YAML or JSON: ${doc.errors[0]?.message.split('\n')[0] ?? ''}`);
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) return;
    if (typeof value !== 'object' || Array.isArray(value)) throw new InputError(`${source}: document ${i + 1} is not an object`);
    const obj = value as Record<string, unknown>;
    if (typeof obj.kind === 'string' && obj.kind.endsWith('List') && Array.isArray(obj.items)) objects.push(...(obj.items as Array<Record<string, unknown>>));
    else objects.push(obj);
  });
  return objects;
}

function expectKind(objects: Array<Record<string, unknown>>, kind: string, source: string): void {
  objects.forEach((o, i) => {
    if (o.kind !== undefined && o.kind !== kind) throw new InputError(`${source}: object ${i + 1} is a ${JSON.stringify(o.kind)}, expected a ${kind}`);
  });
}

export async function runMutate(argv: readonly string[], io: CommandIo = processIo): Promise<number> {
  const parsed = parseCommandLine({
    name: 'mutate', usage: 'mutate --pod <file|-> [--service-account <file>]... [--config-map <file>] [--container-credentials-config <file>] [webhook flags] [--output patch|pod]',
    description: 'Prints what the webhook would do to a pod: its JSON Patch (default) or the mutated pod, with admission warnings on stderr.\nExit code 0 when done, 1 for bad input.',
  }, MUTATE_FLAGS, argv, io);
  if (typeof parsed === 'number') return parsed;
  const v = parsed.values;
  try {
    if (v.pod === '') throw new InputError('--pod is required (a file, or - for standard input)');
    if (parsed.positionals.length > 0) throw new InputError(`unexpected argument "${parsed.positionals[0] ?? ''}"`);
    const { config } = buildWebhookConfig(v, parsed.given, { requireApiServer: false });
    const logger = pino({ level: 'silent' });

    const serviceAccounts = new ServiceAccountCache({ defaults: config.identity, read: undefined, gracePeriodMs: 0, logger });
    for (const file of v['service-account']) {
      const objects = parseObjects(await readText(file, 'ServiceAccount file'), file);
      expectKind(objects, 'ServiceAccount', file);
      for (const sa of objects) {
        const meta = (sa.metadata ?? {}) as { name?: string; namespace?: string };
        if (!meta.name) throw new InputError(`${file}: a ServiceAccount without metadata.name`);
        serviceAccounts.upsert(`${meta.namespace ?? 'default'}/${meta.name}`, serviceAccounts.parse(sa));
      }
    }
    let mapping = IdentityMapping.empty;
    if (v['config-map'] !== '') {
      const [cm] = parseObjects(await readText(v['config-map'], 'ConfigMap file'), v['config-map']);
      const text = (cm?.data as Record<string, string> | undefined)?.[MAPPING_CONFIG_KEY];
      const result = parseIdentityMapping(text, config.identity);
      if (!result.ok) throw new InputError(`${v['config-map']}: ${result.errors.join('; ')}`);
      for (const w of result.warnings) io.stderr.write(`Warning: ${w}\n`);
      mapping = result.mapping;
    }
    let containerCredentials = ContainerCredentialsConfig.empty;
    if (v['container-credentials-config'] !== '') {
      const result = parseContainerCredentialsConfig(await readText(v['container-credentials-config'], 'container-credentials file'));
      if (!result.ok) throw new InputError(`${v['container-credentials-config']}: ${result.errors.join('; ')}`);
      containerCredentials = result.config;
    }

    const pods = parseObjects(await readText(v.pod, 'pod file'), v.pod === '-' ? 'standard input' : v.pod);
    expectKind(pods, 'Pod', v.pod);
    if (pods.length === 0) throw new InputError(`${v.pod}: no pod found`);
    for (const [i, pod] of pods.entries()) {
      const meta = (pod.metadata ?? {}) as { name?: string; namespace?: string };
      const result = await admit({
        uid: `kube-irsa-mutate-${i + 1}`, kind: { group: '', version: 'v1', kind: 'Pod' }, operation: 'CREATE',
        namespace: meta.namespace ?? 'default', ...(meta.name ? { name: meta.name } : {}), object: pod,
      }, {
        resolver: new IdentityResolver({ serviceAccounts, mapping: () => mapping, containerCredentials: () => containerCredentials, defaults: config.identity }),
        settings: { ...config.mutation, random: Math.random },
      });
      const verdict = result.verdict;
      if (!verdict.allowed) throw new InputError(`${v.pod}: ${verdict.message}`);
      for (const w of verdict.warnings) io.stderr.write(`Warning: ${w}\n`);
      if (result.outcome === 'no-identity') {
        io.stderr.write(`pod ${meta.namespace ?? 'default'}/${meta.name ?? '(no name)'}: ServiceAccount ${result.serviceAccount ?? ''} has no AWS identity (no role annotation${v['service-account'].length === 0 ? ', and no --service-account file was given' : ''}); nothing to inject\n`);
      }
      const patch = verdict.patch;
      io.stdout.write(`${JSON.stringify(v.output === 'pod' ? applyAddPatch(pod, patch) : patch, null, 2)}\n`);
    }
    return 0;
  } catch (err) {
    if (err instanceof InputError || err instanceof ConfigError) {
      io.stderr.write(`kube-irsa mutate: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

export const mutateCommand: Command = {
  name: 'mutate',
  summary: 'Print what the webhook would do to a pod (offline)',
  run: (argv) => runMutate(argv),
};
