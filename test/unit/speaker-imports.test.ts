import { readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Modules a file imports at run time (`import type` and `export type` leave nothing behind). */
function runtimeImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/^(?:import|export)\s+(?!type\b)[^;]*?from\s+'([^']+)';/gms)].map((m) => m[1] ?? '');
  return specs;
}

/** Every module reachable from `entry` through run-time imports: our files (relative) and packages. */
function reachable(entry: string): { files: Set<string>; packages: Map<string, string> } {
  const files = new Set<string>();
  const packages = new Map<string, string>(); // package -> first importer
  const queue = [entry];
  for (let file = queue.pop(); file !== undefined; file = queue.pop()) {
    if (files.has(file)) continue;
    files.add(file);
    for (const spec of runtimeImports(file)) {
      if (spec.startsWith('.')) queue.push(join(dirname(file), spec).replace(/\.js$/, '.ts'));
      else if (!packages.has(spec)) packages.set(spec, relative(root, file));
    }
  }
  return { files, packages };
}

describe('the speaker loads only what it uses (docs/speaker.md, "Memory")', () => {
  // main.ts loads each command lazily (import()), so its static graph plus the speaker's is what a speaker loads.
  it.each(['speaker.ts', 'main.ts'])('src/cli/%s does not import @kubernetes/client-node at run time', (entry) => {
    const { files, packages } = reachable(join(root, 'src', 'cli', entry));
    expect(files.size).toBeGreaterThan(entry === 'main.ts' ? 3 : 20);
    expect(packages.has('@kubernetes/client-node') ? `imported by ${packages.get('@kubernetes/client-node') ?? ''}` : 'not imported').toBe('not imported');
    expect([...files].map((f) => relative(root, f))).not.toContain('src/k8s/client.ts');
  });
});
