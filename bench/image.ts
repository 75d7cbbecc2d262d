import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sh } from '../test/helpers/netns.js';
import type { BenchContext, BenchResult, BenchSuite } from './types.js';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const version = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;
// Its own tag, so a bench run never replaces the image a test is running.
const tag = `localhost/ironlb-bench:${version}`;

/** One line of the build's output and when it arrived (ms, monotonic). */
export interface TimedLine {
  readonly t: number;
  readonly text: string;
}

/** One Dockerfile instruction as podman ran it: its stage (1-based), the instruction, its time. */
export interface StepTime {
  readonly stage: number;
  readonly instruction: string;
  readonly seconds: number;
}

// podman (buildah) prints `[1/2] STEP 5/14: RUN npm ci ...` for a multi-stage build and
// `STEP 5/14: ...` for a single stage, when each instruction starts.
const stepLine = /^(?:\[(\d+)\/\d+\] )?STEP \d+\/\d+: (.*)$/;
// What buildah prints once the last instruction of a stage is done (`[2/2] COMMIT tag`).
const doneLine = /^(?:\[\d+\/\d+\] )?COMMIT\b|^Successfully tagged\b/;

/**
 * Each instruction's time, from when its STEP line arrived to when the next STEP line (or the
 * final COMMIT) did: the build prints nothing else that marks a boundary, so an instruction's
 * time includes its layer commit. Steps without a following boundary are left out.
 */
export function stepTimes(lines: readonly TimedLine[]): StepTime[] {
  const marks: { t: number; stage: number; instruction: string | undefined }[] = [];
  for (const l of lines) {
    const m = stepLine.exec(l.text);
    if (m !== null) marks.push({ t: l.t, stage: Number(m[1] ?? '1'), instruction: m[2] ?? '' });
    else if (doneLine.test(l.text) && marks.at(-1)?.instruction !== undefined) marks.push({ t: l.t, stage: 0, instruction: undefined });
  }
  const out: StepTime[] = [];
  for (const [i, mark] of marks.entries()) {
    const next = marks[i + 1];
    if (mark.instruction === undefined || next === undefined) continue;
    out.push({ stage: mark.stage, instruction: mark.instruction, seconds: (next.t - mark.t) / 1000 });
  }
  return out;
}

/** The script's own stage lines: `build-image: <what>   12.3 s` -> what -> seconds. */
export function scriptStages(lines: readonly TimedLine[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const l of lines) {
    const m = /^build-image: (.+?)\s+(\d+(?:\.\d+)?) s$/.exec(l.text);
    if (m?.[1] !== undefined) out.set(m[1].trim(), Number(m[2]));
  }
  return out;
}

const round1 = (x: number): number => Math.round(x * 10) / 10;

async function build(ctx: BenchContext, noCache: boolean): Promise<TimedLine[]> {
  const lines: TimedLine[] = [];
  const child = spawn('bash', [join(repoRoot, 'scripts', 'build-image.sh'), tag], { env: { ...process.env, IRONLB_IMAGE_NO_CACHE: noCache ? '1' : '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
  const take = (chunk: string, rest: { s: string }): void => {
    const t = performance.now();
    const parts = (rest.s + chunk).split('\n');
    rest.s = parts.pop() ?? '';
    for (const text of parts) lines.push({ t, text: text.trimEnd() });
  };
  const out = { s: '' };
  const err = { s: '' };
  child.stdout.setEncoding('utf8').on('data', (d: string) => { take(d, out); });
  child.stderr.setEncoding('utf8').on('data', (d: string) => { take(d, err); });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`scripts/build-image.sh ${noCache ? '(no cache) ' : ''}failed (${String(code)}): ${lines.slice(-20).map((l) => l.text).join('\n')}`);
  ctx.log(`image: ${noCache ? 'uncached' : 'cached'} build done: ${lines.filter((l) => l.text.startsWith('build-image:')).map((l) => l.text.slice(13)).join('; ')}`);
  return lines;
}

/** Sum of the steps of `stage` whose instruction matches `re`. */
const stepSum = (steps: readonly StepTime[], stage: number, re: RegExp): number => steps.filter((s) => s.stage === stage && re.test(s.instruction)).reduce((a, s) => a + s.seconds, 0);

function buildResults(label: 'uncached' | 'cached', lines: readonly TimedLine[]): BenchResult[] {
  const stages = scriptStages(lines);
  const imageStage = [...stages].find(([what]) => what.startsWith('image '))?.[1];
  if (imageStage === undefined) throw new Error('build-image.sh printed no "image" stage time');
  const steps = stepTimes(lines);
  const rows: BenchResult[] = [{ name: `image.build_s.${label}`, value: round1(imageStage), unit: 's' }];
  if (label === 'cached') return rows;
  return [
    ...rows,
    { name: 'image.stage_s.build.uncached', value: round1(stepSum(steps, 1, /./)), unit: 's' },
    { name: 'image.step_s.build_apt.uncached', value: round1(stepSum(steps, 1, /^RUN apt-get/)), unit: 's' },
    { name: 'image.step_s.npm_ci.uncached', value: round1(stepSum(steps, 1, /^RUN npm ci/)), unit: 's' },
    { name: 'image.stage_s.runtime.uncached', value: round1(stepSum(steps, 2, /./)), unit: 's' },
    { name: 'image.step_s.runtime_apt.uncached', value: round1(stepSum(steps, 2, /^RUN apt-get/)), unit: 's' },
  ];
}

async function sizeRows(): Promise<BenchResult[]> {
  const inspect = await sh('podman', ['image', 'inspect', '--format', '{{.Size}}', tag], 60_000);
  if (inspect.code !== 0) throw new Error(`podman image inspect ${tag}: ${inspect.stderr}`);
  const du = await sh('podman', ['run', '--rm', '--pull=never', '--network', 'none', '--entrypoint', 'du', tag, '-sk', '/app/node_modules'], 60_000);
  const kb = Number(/^(\d+)/.exec(du.stdout)?.[1] ?? Number.NaN);
  if (du.code !== 0 || Number.isNaN(kb)) throw new Error(`du of /app/node_modules in ${tag}: ${du.stderr}`);
  return [
    { name: 'image.size_mb', value: round1(Number(inspect.stdout.trim()) / 1e6), unit: 'MB' },
    { name: 'image.node_modules_mb', value: round1((kb * 1024) / 1e6), unit: 'MB' },
  ];
}

async function loadAverage(): Promise<string> {
  return (await sh('cat', ['/proc/loadavg'])).stdout.split(' ').slice(0, 3).join(' ');
}

async function run(ctx: BenchContext): Promise<readonly BenchResult[]> {
  ctx.log(`image: load average before: ${await loadAverage()}`);
  const uncached = await build(ctx, true);
  const cached = await build(ctx, false);
  ctx.log(`image: load average after: ${await loadAverage()}`);
  for (const s of stepTimes(uncached)) ctx.log(`image: uncached stage ${String(s.stage)} ${s.seconds.toFixed(1)} s  ${s.instruction.slice(0, 80)}`);
  const rows = [...buildResults('uncached', uncached), ...buildResults('cached', cached), ...(await sizeRows())];
  await sh('podman', ['rmi', tag], 60_000);
  return rows;
}

/** Image size and build times: scripts/build-image.sh run twice, without and then with layer cache. */
export const imageSuite: BenchSuite & { readonly notes: string } = {
  name: 'image',
  needsRoot: true,
  notes: `\`scripts/build-image.sh\` builds the unchanged Dockerfile with podman, once with \`IRONLB_IMAGE_NO_CACHE=1\` (every instruction runs) and once with the layer cache (nothing changed in between); the stand-in \`node:24-bookworm(-slim)\` bases are cached by version and not rebuilt here. \`build_s\` is the script's \`podman build\` time; \`stage_s\` and \`step_s\` come from when podman printed each \`STEP\` line (an instruction's time includes committing its layer): stage 1 builds the addons and TypeScript (\`build_apt\` installs clang and libbpf-dev, \`npm ci\` includes \`prepare\`), stage 2 is the slim runtime (\`runtime_apt\` installs libbpf1). \`size_mb\` is podman's image size; \`node_modules_mb\` what \`du\` counts under /app/node_modules in it. One round: these machines' 2 cores are shared, so build times move with the load average (printed by the run).`,
  run,
};
