// The scrape configuration docs/metrics.md gives SREs who run Prometheus without the operator: the
// YAML block after its `<!-- scrape-config -->` marker, checked by promtool (integration) and run
// beside the operator's monitors on the real node (e2e), which compares the labels both give.
import { readFile } from 'node:fs/promises';
import path from 'node:path';

const DOC = path.join(import.meta.dirname, '..', '..', 'docs', 'metrics.md');

/** The YAML text of the block, a Prometheus configuration with `scrape_configs`. */
export async function docsScrapeConfig(): Promise<string> {
  const docs = await readFile(DOC, 'utf8');
  const block = /<!-- scrape-config[^\n]*\n```yaml\n([\s\S]*?)\n```/.exec(docs)?.[1];
  if (block === undefined) throw new Error('docs/metrics.md has no ```yaml block after its <!-- scrape-config --> marker');
  return block;
}
