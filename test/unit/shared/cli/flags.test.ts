import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatFlagHelp, formatGoDuration, parseFlags, parseGoDuration, UsageError, type FlagSpecs } from '../../../../shared/cli/flags.ts';

const specs = {
  port: { kind: 'int', default: 443, min: 1, max: 65535, help: 'port' },
  'in-cluster': { kind: 'bool', default: true, help: 'in cluster', compat: true },
  'annotation-prefix': { kind: 'string', default: 'eks.amazonaws.com', help: 'prefix' },
  'resync-period': { kind: 'duration', default: 60_000, help: 'resync' },
  'tls-cipher-suites': { kind: 'list', default: [], help: 'suites' },
  output: { kind: 'string', default: 'patch', choices: ['patch', 'pod'], help: 'output' },
} as const satisfies FlagSpecs;

describe('parseFlags', () => {
  test('returns defaults when nothing is given', () => {
    const { values, given, positionals } = parseFlags(specs, []);
    assert.deepEqual(values, { port: 443, 'in-cluster': true, 'annotation-prefix': 'eks.amazonaws.com', 'resync-period': 60_000, 'tls-cipher-suites': [], output: 'patch' });
    assert.equal(given.size, 0);
    assert.deepEqual(positionals, []);
  });

  test('accepts Go spellings: =value, separate value, single dash, bare and explicit booleans', () => {
    const { values, given } = parseFlags(specs, ['--port=8443', '-annotation-prefix', 'x.io', '--in-cluster=false', '-resync-period=1m30s']);
    assert.equal(values.port, 8443);
    assert.equal(values['annotation-prefix'], 'x.io');
    assert.equal(values['in-cluster'], false);
    assert.equal(values['resync-period'], 90_000);
    assert.deepEqual([...given].sort(), ['annotation-prefix', 'in-cluster', 'port', 'resync-period']);
    assert.equal(parseFlags(specs, ['--in-cluster']).values['in-cluster'], true);
  });

  test('a boolean never swallows the next argument', () => {
    const { values, positionals } = parseFlags(specs, ['--in-cluster', 'pod.yaml']);
    assert.equal(values['in-cluster'], true);
    assert.deepEqual(positionals, ['pod.yaml']);
  });

  test('list flags repeat and split on commas', () => {
    const { values } = parseFlags(specs, ['--tls-cipher-suites=A,B', '--tls-cipher-suites', 'C']);
    assert.deepEqual(values['tls-cipher-suites'], ['A', 'B', 'C']);
  });

  test('everything after -- is positional', () => {
    assert.deepEqual(parseFlags(specs, ['a', '--', '--port=1']).positionals, ['a', '--port=1']);
  });

  test('collects every problem with the flag name and the reason', () => {
    assert.throws(() => parseFlags(specs, ['--nope', '--port=abc', '--resync-period=soon', '--in-cluster=maybe', '--output=yaml', '--port']), (err: unknown) => {
      assert.ok(err instanceof UsageError);
      assert.deepEqual(err.problems, [
        'unknown flag: --nope',
        '--port: "abc" is not a whole number',
        '--resync-period: "soon" is not a duration (for example 30s, 5m, 1h30m)',
        '--in-cluster: "maybe" is not a boolean (true or false)',
        '--output: "yaml" is not one of patch, pod',
        '--port needs a value',
      ]);
      return true;
    });
  });

  test('rejects integers out of range', () => {
    assert.throws(() => parseFlags(specs, ['--port=70000']), /--port: 70000 is out of range \(1 to 65535\)/);
  });
});

describe('Go durations', () => {
  const cases: Array<[string, number | undefined]> = [
    ['0', 0], ['300ms', 300], ['1.5s', 1500], ['2h45m', 9_900_000], ['1m30s', 90_000], ['10us', 0.01],
    ['', undefined], ['5', undefined], ['1d', undefined], ['s', undefined], ['1m 30s', undefined],
  ];
  for (const [text, ms] of cases) {
    test(`"${text}" parses to ${String(ms)}`, () => assert.equal(parseGoDuration(text), ms));
  }
  test('formats back to the short form', () => {
    assert.equal(formatGoDuration(0), '0s');
    assert.equal(formatGoDuration(90_000), '1m30s');
    assert.equal(formatGoDuration(3_600_000), '1h');
    assert.equal(formatGoDuration(250), '250ms');
  });
});

describe('formatFlagHelp', () => {
  test('lists compatibility flags in their own section with defaults', () => {
    const help = formatFlagHelp(specs);
    assert.match(help, /--port int\n {6}port \(default 443\)/);
    assert.match(help, /--resync-period duration\n {6}resync \(default 1m\)/);
    const compatAt = help.indexOf('Accepted for compatibility');
    assert.ok(compatAt > 0 && help.indexOf('--in-cluster') > compatAt);
  });
});
