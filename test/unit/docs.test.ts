// The reference docs stay complete: every metric the components register is documented, and every
// agent reason and every diagnosis cause has its row (as fastify checks its error codes against its docs).
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { REASONS } from '../../agent/core/reasons.ts';
import { createAgentMetrics } from '../../agent/metrics.ts';
import { createWebhookMetrics } from '../../webhook/metrics.ts';
import { CAUSES } from '../../shared/iam/diagnose.ts';

const docs = (name: string) => readFileSync(path.join(import.meta.dirname, '..', '..', 'docs', name), 'utf8');

test('every webhook and agent metric is documented in docs/metrics.md', async () => {
  const names = new Set<string>();
  for (const registry of [createWebhookMetrics(new Registry()).registry, createAgentMetrics(new Registry(), 'n').registry]) {
    for (const m of await registry.getMetricsAsJSON()) names.add(m.name);
  }
  const text = docs('metrics.md');
  const missing = [...names].filter((n) => !text.includes(`\`${n}\``));
  assert.deepEqual(missing, []);
  assert.ok(names.size > 20);
});

test('docs/metrics.md gives every kube-irsa metric a row naming each of its labels', () => {
  const rows = docs('metrics.md').split('\n').filter((l) => l.startsWith('| `'));
  const problems: string[] = [];
  for (const registry of [createWebhookMetrics(new Registry()).registry, createAgentMetrics(new Registry(), 'n').registry]) {
    for (const m of registry.getMetricsAsArray()) {
      const row = rows.find((r) => r.startsWith(`| \`${m.name}\` |`));
      const labels = (m as unknown as { labelNames?: string[] }).labelNames ?? [];
      if (!row) {
        if (m.name.startsWith('kube_irsa_') || m.name.startsWith('pod_identity_webhook_') || m.name.startsWith('http_request_')) problems.push(`${m.name}: no row`);
        continue;
      }
      for (const l of labels) if (!row.includes(`\`${l}\``)) problems.push(`${m.name}: label ${l} not in its row`);
    }
  }
  assert.deepEqual(problems, []);
});

test('every agent reason has a row in docs/reasons.md', () => {
  const text = docs('reasons.md');
  const missing = Object.keys(REASONS).filter((r) => !text.includes(`| \`${r}\` |`));
  assert.deepEqual(missing, []);
});

test('every path docs/architecture.md names exists', () => {
  const root = path.join(import.meta.dirname, '..', '..');
  const paths = [...docs('architecture.md').matchAll(/`((?:agent|shared|webhook|test|bin|docs)\/[\w./-]*)`/g)].map((m) => m[1]!);
  const missing = paths.filter((p) => !existsSync(path.join(root, p)));
  assert.ok(paths.length > 10);
  assert.deepEqual(missing, []);
});

test('every diagnosis cause has a row in docs/reasons.md, with its meaning and fix', () => {
  const text = docs('reasons.md');
  const missing = Object.entries(CAUSES).filter(([cause, { meaning, fix }]) => !text.includes(`| \`${cause}\` | ${meaning} | ${fix} |`)).map(([cause]) => cause);
  assert.deepEqual(missing, []);
});
