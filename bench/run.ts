// `npm run bench -- [--only NAME,...] [--json FILE]`: runs the suites of bench/suites.ts, writes
// the results as JSON (default .bench/results.json), merges them into docs/benchmarks.json (the
// latest figure per result name, so a partial run keeps the other suites' rows) and regenerates
// docs/benchmarks.md from it. Figures are only ever written by this script, never by hand.
// A suite object may carry `notes` (a markdown string): it is printed under the suite's table.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, release, totalmem, type } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { suites } from './suites.js';
import type { BenchContext, BenchResult, BenchSuite } from './types.js';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const docsJson = join(repoRoot, 'docs', 'benchmarks.json');
const docsMd = join(repoRoot, 'docs', 'benchmarks.md');

/** The machine a run measured, as written to the JSON files. */
export interface Machine {
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly kernel: string;
  readonly node: string;
}

/** One row of docs/benchmarks.json: a result with where, when and how it was measured. */
export interface StoredResult extends BenchResult {
  readonly suite: string;
  readonly date: string;
  readonly machine: Machine;
  readonly command: string;
}

interface StoredFile {
  readonly note: string;
  readonly results: readonly StoredResult[];
}

const usage = 'usage: npm run bench -- [--only NAME,...] [--json FILE]\n  NAME: a suite name or a result-name prefix';

function fail(message: string, code: number): never {
  process.stderr.write(`bench: ${message}\n`);
  process.exit(code);
}

function readArgs(argv: readonly string[]): { only: readonly string[]; json: string } {
  try {
    const { values } = parseArgs({ args: [...argv], options: { only: { type: 'string', multiple: true }, json: { type: 'string' }, help: { type: 'boolean' } }, strict: true });
    if (values.help === true) {
      process.stdout.write(`${usage}\n`);
      process.exit(0);
    }
    const only = (values.only ?? []).flatMap((s) => s.split(',')).map((s) => s.trim()).filter((s) => s !== '');
    return { only, json: values.json ?? join(repoRoot, '.bench', 'results.json') };
  } catch (e: unknown) {
    return fail(`${e instanceof Error ? e.message : String(e)}\n${usage}`, 2);
  }
}

/** Whether `--only` token `t` selects suite `s`: its name, or a result name under it. */
const selects = (t: string, s: BenchSuite): boolean => t === s.name || t.startsWith(`${s.name}.`);

function machine(): Machine {
  const cpuList = cpus();
  return {
    cpu: cpuList[0]?.model.trim() ?? 'unknown',
    cores: cpuList.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: `${type()} ${release()}`,
    node: process.version,
  };
}

const describeMachine = (m: Machine): string => `${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.kernel}, Node.js ${m.node}`;

/** Evaluates a simple target such as `< 20` or `<= 2`; undefined when it is not one. */
export function meets(value: number, target: string | undefined): boolean | undefined {
  const m = /^\s*(<=|>=|<|>)\s*(-?[0-9.]+)\s*(?:\(.*\))?\s*$/.exec(target ?? '');
  if (m === null) return undefined;
  const limit = Number(m[2]);
  switch (m[1]) {
    case '<':
      return value < limit;
    case '<=':
      return value <= limit;
    case '>':
      return value > limit;
    default:
      return value >= limit;
  }
}

function readStored(): StoredResult[] {
  try {
    const parsed = JSON.parse(readFileSync(docsJson, 'utf8')) as StoredFile;
    return [...parsed.results];
  } catch {
    return [];
  }
}

/**
 * The stored rows after a run: every fresh row, and every old row whose name this run did not
 * measure (other suites, or results left out by --only). Grouped by suite, in a stable order.
 */
export function mergeResults(old: readonly StoredResult[], fresh: readonly StoredResult[]): StoredResult[] {
  const measured = new Set(fresh.map((f) => f.name));
  const merged = [...old.filter((o) => !measured.has(o.name)), ...fresh];
  const suiteOrder = [...new Set(merged.map((r) => r.suite))].sort();
  return suiteOrder.flatMap((suite) => merged.filter((r) => r.suite === suite));
}

/** The optional `notes` of a registered suite (not part of BenchSuite, so read structurally). */
function suiteNotes(name: string): string | undefined {
  const suite: object | undefined = suites.find((s) => s.name === name);
  return suite !== undefined && 'notes' in suite && typeof suite.notes === 'string' ? suite.notes : undefined;
}

/** docs/benchmarks.md from the stored rows: one table per suite, registered suites first. */
export function markdown(results: readonly StoredResult[]): string {
  const order = [...suites.map((s) => s.name), ...[...new Set(results.map((r) => r.suite))].sort()];
  const lines = [
    '# Benchmarks',
    '',
    'Generated by `npm run bench` from docs/benchmarks.json; do not edit by hand. Each suite shows the',
    'machine, date and exact command of its latest run. Run `npm run bench -- --only SUITE` to refresh one',
    "suite: the other suites' rows stay.",
    '',
  ];
  for (const suite of [...new Set(order)]) {
    const rows = results.filter((r) => r.suite === suite);
    if (rows.length === 0) continue;
    lines.push(`## ${suite}`, '', '| name | value | unit | target | meets target |', '| --- | ---: | --- | --- | --- |');
    for (const r of rows) {
      const ok = meets(r.value, r.target);
      lines.push(`| \`${r.name}\` | ${r.value} | ${r.unit} | ${r.target ?? ''} | ${ok === undefined ? '' : ok ? 'yes' : '**no**'} |`);
    }
    lines.push('');
    const notes = suiteNotes(suite);
    if (notes !== undefined) lines.push(notes.trim(), '');
    const runs = new Map(rows.map((r) => [`${r.date}|${describeMachine(r.machine)}|${r.command}`, r]));
    for (const r of runs.values()) lines.push(`Measured ${r.date} on ${describeMachine(r.machine)}, with \`${r.command}\`.`, '');
  }
  return `${lines.join('\n').trimEnd()}\n`;
}

async function runSuites(selected: readonly BenchSuite[], only: readonly string[], ctx: BenchContext): Promise<{ results: { suite: string; result: BenchResult }[]; failed: boolean }> {
  const results: { suite: string; result: BenchResult }[] = [];
  let failed = false;
  for (const suite of selected) {
    if (suite.needsRoot && !ctx.isRoot) {
      ctx.log(`skipping suite ${suite.name}: it needs root (its previous figures stay in docs/benchmarks.md)`);
      continue;
    }
    ctx.log(`running suite ${suite.name}`);
    const tokens = only.filter((t) => selects(t, suite));
    const wanted = (r: BenchResult): boolean => tokens.length === 0 || tokens.some((t) => t === suite.name || r.name.startsWith(t));
    const wants = (prefix: string): boolean => tokens.length === 0 || tokens.some((t) => t === suite.name || prefix.startsWith(t) || t.startsWith(prefix));
    try {
      const produced = await suite.run({ ...ctx, wants });
      results.push(...produced.filter(wanted).map((result) => ({ suite: suite.name, result })));
    } catch (e: unknown) {
      failed = true;
      ctx.log(`suite ${suite.name} failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return { results, failed };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const { only, json } = readArgs(argv);
  const unknown = only.filter((t) => !suites.some((s) => selects(t, s)));
  if (unknown.length > 0) fail(`no suite matches ${unknown.join(', ')}; suites: ${suites.map((s) => s.name).join(', ')}`, 2);
  const selected = only.length === 0 ? suites : suites.filter((s) => only.some((t) => selects(t, s)));
  const ctx: BenchContext = { isRoot: process.getuid?.() === 0, log: (m) => process.stderr.write(`bench: ${m}\n`) };

  const { results, failed } = await runSuites(selected, only, ctx);
  const run = { machine: machine(), date: new Date().toISOString(), command: `npm run bench${argv.length > 0 ? ` -- ${argv.join(' ')}` : ''}` };

  mkdirSync(dirname(json), { recursive: true });
  writeFileSync(json, `${JSON.stringify({ machine: run.machine, date: run.date, results: results.map((r) => r.result) }, null, 2)}\n`);

  const fresh: StoredResult[] = results.map(({ suite, result }) => ({ suite, ...result, ...run }));
  const merged = mergeResults(readStored(), fresh);
  mkdirSync(dirname(docsJson), { recursive: true });
  writeFileSync(docsJson, `${JSON.stringify({ note: 'Written by npm run bench (bench/run.ts): the latest figure per result name.', results: merged }, null, 2)}\n`);
  writeFileSync(docsMd, markdown(merged));

  for (const { result } of results) {
    const ok = meets(result.value, result.target);
    process.stdout.write(`${result.name} ${result.value} ${result.unit}${result.target === undefined ? '' : ` (target ${result.target}: ${ok === undefined ? 'not evaluated' : ok ? 'met' : 'MISSED'})`}\n`);
  }
  ctx.log(`wrote ${json}, docs/benchmarks.json and docs/benchmarks.md`);
  if (failed) process.exitCode = 1;
}

// Run only as the script (`npm run bench`), not when a test imports the functions above.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
