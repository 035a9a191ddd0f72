import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import pkg from '../../package.json' with { type: 'json' };

const CLI = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'kube-irsa');
const run = (...args: string[]) => spawnSync(CLI, args, { encoding: 'utf8' });

describe('bin/kube-irsa', () => {
  test('--help lists the commands and exits 0', () => {
    const r = run('--help');
    assert.equal(r.status, 0);
    assert.match(r.stdout, /Usage: kube-irsa <command> \[flags\]/);
    assert.match(r.stdout, /^ {2}version +Print the version$/m);
  });

  test('--version prints the package version on Node 24', () => {
    const r = run('--version');
    assert.equal(r.status, 0);
    assert.match(r.stdout, new RegExp(`^kube-irsa ${pkg.version.replaceAll('.', '\\.')} \\(node 24\\.`));
  });

  test('an unknown command is a clear error with exit code 1', () => {
    const r = run('frobnicate');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /unknown command "frobnicate"/);
  });

  test('an unknown top-level flag is a clear error with exit code 1', () => {
    const r = run('--frobnicate');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /unknown flag "--frobnicate"/);
  });

  test('no command prints the help and exits non-zero', () => {
    const r = run();
    assert.equal(r.status, 1);
    assert.match(r.stdout, /Commands:/);
  });
});
