// Command-line flags with Go's conventions, because kube-irsa replaces a Go binary whose flags people
// already have in manifests: `--name=value`, `--name value`, a single dash (`-name`), booleans as
// `--name` or `--name=false`, durations such as `1m30s`. Every command declares its flags as data;
// parsing collects every problem instead of stopping at the first.

export interface FlagCommon {
  readonly help: string;
  /** Shown in --help as the value's placeholder. */
  readonly metavar?: string;
  /** Accepted for compatibility, listed separately in --help. */
  readonly compat?: boolean;
}
export interface StringFlag extends FlagCommon { readonly kind: 'string'; readonly default: string; readonly choices?: readonly string[] }
export interface IntFlag extends FlagCommon { readonly kind: 'int'; readonly default: number; readonly min?: number; readonly max?: number }
export interface BoolFlag extends FlagCommon { readonly kind: 'bool'; readonly default: boolean }
/** Milliseconds. */
export interface DurationFlag extends FlagCommon { readonly kind: 'duration'; readonly default: number }
/** Repeatable, and each occurrence may hold a comma-separated list. */
export interface ListFlag extends FlagCommon { readonly kind: 'list'; readonly default: readonly string[] }
export type FlagSpec = StringFlag | IntFlag | BoolFlag | DurationFlag | ListFlag;
export type FlagSpecs = Readonly<Record<string, FlagSpec>>;

type ValueOf<F extends FlagSpec> =
  F extends StringFlag ? string :
  F extends IntFlag ? number :
  F extends BoolFlag ? boolean :
  F extends DurationFlag ? number :
  F extends ListFlag ? string[] : never;

export type FlagValues<S extends FlagSpecs> = { -readonly [K in keyof S]: ValueOf<S[K]> };

export interface ParsedFlags<S extends FlagSpecs> {
  readonly values: FlagValues<S>;
  /** Names of the flags given on the command line (to tell a default from an explicit value). */
  readonly given: ReadonlySet<string>;
  readonly positionals: readonly string[];
}

/** Invalid configuration: every problem found, each a full sentence naming the flag. */
export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** Flags that do not parse (unknown, wrong type, out of range). */
export class UsageError extends ConfigError {
  constructor(problems: readonly string[]) {
    super(problems);
    this.name = 'UsageError';
  }
}

const DURATION_UNITS: Readonly<Record<string, number>> = { ns: 1e-6, us: 1e-3, '\u00b5s': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses a Go duration (`300ms`, `1h2m`, `0`) into milliseconds, or undefined when malformed. */
export function parseGoDuration(text: string): number | undefined {
  if (text === '0') return 0;
  const m = /^([+-]?)((?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|\u00b5s|ms|s|m|h))+$/.exec(text);
  if (!m) return undefined;
  let total = 0;
  for (const part of text.replace(/^[+-]/, '').matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|\u00b5s|ms|s|m|h)/g)) {
    total += Number(part[1]) * (DURATION_UNITS[part[2] ?? ''] ?? NaN);
  }
  return Number.isFinite(total) ? (m[1] === '-' ? -total : total) : undefined;
}

export function formatGoDuration(ms: number): string {
  if (ms === 0) return '0s';
  const parts: string[] = [];
  let rest = ms;
  for (const [unit, size] of [['h', 3_600_000], ['m', 60_000]] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  if (rest > 0) parts.push(rest % 1000 === 0 ? `${rest / 1000}s` : `${rest}ms`);
  return parts.join('');
}

function convert(name: string, spec: FlagSpec, raw: string, problems: string[]): unknown {
  switch (spec.kind) {
    case 'string':
      if (spec.choices && !spec.choices.includes(raw)) {
        problems.push(`--${name}: "${raw}" is not one of ${spec.choices.join(', ')}`);
      }
      return raw;
    case 'int': {
      if (!/^[+-]?\d+$/.test(raw)) {
        problems.push(`--${name}: "${raw}" is not a whole number`);
        return spec.default;
      }
      const n = Number(raw);
      if ((spec.min !== undefined && n < spec.min) || (spec.max !== undefined && n > spec.max)) {
        problems.push(`--${name}: ${n} is out of range (${spec.min ?? '-∞'} to ${spec.max ?? '∞'})`);
      }
      return n;
    }
    case 'bool':
      if (/^(1|t|true|TRUE|True)$/.test(raw)) return true;
      if (/^(0|f|false|FALSE|False)$/.test(raw)) return false;
      problems.push(`--${name}: "${raw}" is not a boolean (true or false)`);
      return spec.default;
    case 'duration': {
      const d = parseGoDuration(raw);
      if (d === undefined || d < 0) {
        problems.push(`--${name}: "${raw}" is not a duration (for example 30s, 5m, 1h30m)`);
        return spec.default;
      }
      return d;
    }
    case 'list':
      return raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
  }
}

export function parseFlags<S extends FlagSpecs>(specs: S, argv: readonly string[]): ParsedFlags<S> {
  const values: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(specs)) values[name] = spec.kind === 'list' ? [...spec.default] : spec.default;
  const given = new Set<string>();
  const positionals: string[] = [];
  const problems: string[] = [];

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      positionals.push(arg);
      continue;
    }
    const body = arg.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const name = eq >= 0 ? body.slice(0, eq) : body;
    const spec = specs[name];
    if (!spec) {
      problems.push(`unknown flag: --${name}`);
      continue;
    }
    let raw: string;
    if (eq >= 0) raw = body.slice(eq + 1);
    else if (spec.kind === 'bool') raw = 'true';
    else if (i + 1 < argv.length) raw = argv[++i] ?? '';
    else {
      problems.push(`--${name} needs a value`);
      continue;
    }
    const value = convert(name, spec, raw, problems);
    if (spec.kind === 'list' && given.has(name)) values[name] = [...(values[name] as string[]), ...(value as string[])];
    else values[name] = value;
    given.add(name);
  }
  if (problems.length > 0) throw new UsageError(problems);
  return { values: values as FlagValues<S>, given, positionals };
}

/** The flags section of a command's --help, compatibility flags last. */
export function formatFlagHelp(specs: FlagSpecs): string {
  const line = ([name, spec]: [string, FlagSpec]): string => {
    const meta = spec.kind === 'bool' ? '' : ` ${spec.metavar ?? spec.kind}`;
    const def = spec.kind === 'duration' ? formatGoDuration(spec.default)
      : Array.isArray(spec.default) ? (spec.default as string[]).join(',') : String(spec.default);
    const shown = def === '' ? '' : ` (default ${def})`;
    return `  --${name}${meta}\n      ${spec.help}${shown}`;
  };
  const entries = Object.entries(specs);
  const own = entries.filter(([, s]) => !s.compat).map(line);
  const compat = entries.filter(([, s]) => s.compat).map(line);
  return [...own, ...(compat.length > 0 ? ['', 'Accepted for compatibility with amazon-eks-pod-identity-webhook:', ...compat] : [])].join('\n');
}
