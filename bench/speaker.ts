import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { inNetns } from '../test/helpers/lan-netns.js';
import { startSpeakerCluster, uniquePlan, waitUntil, type SpeakerCluster, type SpeakerProcess } from '../test/netns/speaker-cluster.js';
import { waitFor } from '../test/helpers/wait.js';
import { defaultStandbyCount } from '../src/speaker/standby.js';
import { speakerNodeFlags } from '../src/speaker/runtime.js';
import type { BenchContext, BenchResult, BenchSuite } from './types.js';

const rounds = 10;

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round(sorted[Math.floor(sorted.length / 2)] ?? 0);
}

/**
 * `cluster`, keeping every speaker process it starts (restarted victims included), and `dump`:
 * with IRONLB_BENCH_LOGS=DIR, their logs go to DIR/WHAT/N-NODE.log for reading a slow failover.
 */
export function keepingLogs(cluster: SpeakerCluster): { readonly cluster: SpeakerCluster; readonly dump: (ctx: BenchContext, what: string) => void } {
  const started: SpeakerProcess[] = [];
  const c: SpeakerCluster = {
    ...cluster,
    startSpeaker: async (node, extra) => {
      const p = await cluster.startSpeaker(node, extra);
      started.push(p);
      return p;
    },
  };
  const dump = (ctx: BenchContext, what: string): void => {
    const dir = process.env.IRONLB_BENCH_LOGS;
    if (dir === undefined || dir === '') return;
    const into = join(dir, what);
    mkdirSync(into, { recursive: true });
    for (const [i, p] of started.entries()) writeFileSync(join(into, `${String(i)}-${p.node}.log`), p.output());
    ctx.log(`${what}: speaker logs in ${into}`);
  };
  return { cluster: c, dump };
}

/**
 * How often the bench lists the speakers' Leases while it waits: the API server runs in this
 * process, and a list of 1,000 membership Leases every 100 ms (the \`n1000\` rows) starved it
 * and the speakers it serves. The failover itself is timed by the client kernel's notifications ({@link failover}).
 */
export const listEveryMs = 500;

async function ownerOf(c: SpeakerCluster, ip: string): Promise<string> {
  const owners = await waitFor(`one owner of ${ip}`, async () => [...(await c.records())].filter(([, ips]) => ips.includes(ip)).map(([n]) => n), (o) => o.length === 1, { timeoutMs: 20_000, intervalMs: listEveryMs });
  return owners[0] ?? '';
}

/**
 * How many running speakers stand by for `owner` as their logs last said (the `standbyDuties`
 * line lists `owner:ip` for each owner a speaker probes; docs/speaker.md "Split liveness").
 */
export function standbysLogged(speakers: Iterable<SpeakerProcess>, owner: string): number {
  let n = 0;
  for (const p of speakers) {
    if (p.child.exitCode !== null || p.child.signalCode !== null) continue;
    // The last such line, found from the end: a speaker's output grows to megabytes.
    const out = p.output();
    const at = out.lastIndexOf('"event":"standbyDuties"');
    if (at < 0) continue;
    const last = out.slice(out.lastIndexOf('\n', at) + 1, out.indexOf('\n', at) < 0 ? undefined : out.indexOf('\n', at));
    const probing = (JSON.parse(last) as { probing?: unknown }).probing;
    if (Array.isArray(probing) && probing.some((o) => typeof o === 'string' && o.startsWith(`${owner}:`))) n += 1;
  }
  return n;
}

/** One failover round: the figure, and what the bench's own poll of the entry saw (logged beside it). */
export interface FailoverRound {
  /** Signal sent to the moment the client's kernel moved the entry, from its own notifications. */
  readonly ms: number;
  /** Signal sent to the first poll (every 100 ms, `ip neigh show` from this process) that saw the move. */
  readonly polledMs: number;
}

/**
 * One failover as the client sees it: its neighbour entry for `ip` points at the owner (STALE,
 * as after earlier traffic); the owner gets `signal`; the time until the client's kernel puts
 * another node's MAC in the entry (switched by that node's gratuitous ARP) is the figure, read
 * from the kernel's notifications by `ip monitor` in the client's namespace
 * (test/helpers/neighbour-monitor.ts). The bench's own 100 ms poll is kept as the round's end and
 * as a check: it runs in the process that also serves the API server, and while the speakers keep
 * that busy after a failover it read the move up to half a second late. The victim is restarted
 * afterwards. With `standbys` (split liveness), the round starts only once that many speakers
 * probe the owner, as at steady state: an owner that took the IP a moment ago, before any
 * standby knew, is found later (a second failure within seconds of the first, not the crash
 * this figure is about).
 */
export async function failover(c: SpeakerCluster, ip: string, signal: 'SIGKILL' | 'SIGTERM', standbys = 0): Promise<FailoverRound> {
  const victim = await ownerOf(c, ip);
  if (standbys > 0) await waitFor(`${String(standbys)} standbys probing ${victim}`, () => Promise.resolve(standbysLogged(c.speakers.values(), victim)), (n) => n >= standbys, { timeoutMs: 60_000, intervalMs: listEveryMs });
  await c.pinNeighbour(ip, victim);
  // The monitor has the entry at the victim (the pin, or the announcement that put it there when
  // the pin changed nothing): the move below is the next change it reports.
  await waitFor('the neighbour monitor to report the pinned entry', () => Promise.resolve(c.neighbourChanges(ip).at(-1)?.node === victim), (x) => x, { timeoutMs: 5000, intervalMs: 20 });
  const killed = Date.now();
  const started = performance.now();
  c.speakers.get(victim)?.child.kill(signal);
  await waitUntil('the neighbour entry to move', () => c.neighbourOwner(ip), (o) => o !== undefined && o !== victim, 15_000);
  const polledMs = performance.now() - started;
  const moved = await waitFor('the move in the client kernel notifications', () => Promise.resolve(c.neighbourChanges(ip).find((x) => x.at >= killed && x.node !== undefined && x.node !== victim)), (x) => x !== undefined, { timeoutMs: 5000, intervalMs: 20 });
  await c.startSpeaker(victim);
  await waitFor(`${victim} back`, async () => (await c.records()).has(victim), (x) => x, { timeoutMs: 20_000, intervalMs: listEveryMs });
  return { ms: moved.at - killed, polledMs };
}

/** The rounds for the bench log: the kernel's figure of each, and the poll's in brackets. */
export function roundsLine(samples: readonly FailoverRound[]): string {
  return `${samples.map((x) => String(Math.round(x.ms))).join(', ')} ms (the bench's poll saw: ${samples.map((x) => String(Math.round(x.polledMs))).join(', ')} ms)`;
}

/**
 * The liveness modes the failover rows are measured in: the default (`--liveness split`, rows
 * without a suffix, as a user who sets nothing runs) and `--liveness lease` (rows `.lease`).
 */
const modes = [
  { suffix: '', args: [] as readonly string[], standbys: defaultStandbyCount },
  { suffix: '.lease', args: ['--liveness', 'lease'] as readonly string[], standbys: 0 },
] as const;

async function measureFailover(ctx: BenchContext, mode: (typeof modes)[number]): Promise<BenchResult[]> {
  const plan = uniquePlan('ibs', 3);
  const ip = `${plan.v4Net}.200`;
  const { cluster: c, dump } = keepingLogs(await startSpeakerCluster(plan, mode.args, { logToFiles: true }));
  try {
    for (const n of c.lan.nodes) await c.startSpeaker(n.name);
    await c.createService('web', ip, c.lan.nodes.map((n) => n.name));
    await ownerOf(c, ip);
    const results: BenchResult[] = [];
    for (const [signal, name, target] of [['SIGKILL', 'speaker.failover_crash_ms', '< 4000'], ['SIGTERM', 'speaker.failover_graceful_ms', '< 500']] as const) {
      const samples: FailoverRound[] = [];
      for (let i = 0; i < rounds; i++) samples.push(await failover(c, ip, signal, mode.standbys));
      ctx.log(`speaker${mode.suffix}: ${signal}: ${roundsLine(samples)}`);
      results.push({ name: `${name}${mode.suffix}`, value: median(samples.map((x) => x.ms)), unit: 'ms', target });
    }
    return results;
  } finally {
    dump(ctx, `speaker/failover${mode.suffix === '' ? '' : `-${mode.suffix.slice(1)}`}`);
    await c.close();
  }
}

/**
 * The child that times elections: the speaker's compiled election (dist/speaker/desired.js, as
 * the speaker runs it) over \`services\` single-IP Services with an endpoint on every one of
 * \`nodes\` alive, settled nodes (every node a candidate for every IP), standbys named. Prints
 * the median of the last half of \`rounds\` elections, warm, as a takeover in a running
 * speaker computes one.
 */
const electionChild = `
const dist = process.argv.at(-1);
const { desiredAnnouncements } = await import(dist + '/speaker/desired.js');
const { defaultStandbyCount } = await import(dist + '/speaker/standby.js');
const [services, n, rounds] = process.argv.slice(-4, -1).map(Number);
const nodes = Array.from({ length: n }, (_, i) => 'node-' + i);
const all = new Set(nodes);
const input = {
  self: nodes[0],
  services: Array.from({ length: services }, (_, i) => ({ key: 'bench/s' + i, ips: ['10.' + (100 + Math.floor(i / 250)) + '.' + (Math.floor(i / 250) % 256) + '.' + (i % 250)], endpoints: [{ ready: true, serving: true, terminating: false }], trafficPolicy: 'Cluster' })),
  nodes: nodes.map((name) => ({ name, labels: {}, conditions: {} })), alive: all, settled: all, currentOwners: new Map(), isLayer2: () => true, options: { ignoreExcludeLabel: false }, standbyCount: defaultStandbyCount,
};
const times = [];
for (let i = 0; i < rounds; i++) { const t0 = performance.now(); desiredAnnouncements(input); times.push(performance.now() - t0); }
const warm = times.slice(Math.floor(rounds / 2)).sort((a, b) => a - b);
process.stdout.write(String(warm[Math.floor(warm.length / 2)]));
`;

/** Milliseconds of one warm election in a child started with \`nodeFlags\` (see {@link electionChild}). */
async function electionMs(nodeFlags: readonly string[], services: number, nodes: number, rounds: number): Promise<number> {
  const dist = fileURLToPath(new URL('../dist', import.meta.url));
  const child = spawn(process.execPath, [...nodeFlags, '--input-type=module', '-e', electionChild, String(services), String(nodes), String(rounds), dist], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`election child exited ${String(code)}`);
  return Math.round(Number(out) * 10) / 10;
}

/**
 * \`speaker.election_ms.sN\`: one warm election over N Services as the speaker computes it, in a
 * child with the speaker's Node.js flags, and (\`.turbofan\`) without \`--no-opt\` and \`--no-maglev\`.
 */
async function measureElections(ctx: BenchContext): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  for (const [services, nodes, rounds] of [[1000, 3, 40], [10_000, 10, 12]] as const) {
    for (const variant of rssVariants) {
      const ms = await electionMs(variant.nodeFlags, services, nodes, rounds);
      ctx.log(`speaker${variant.suffix}: election over ${String(services)} Services, ${String(nodes)} nodes: ${String(ms)} ms`);
      results.push({ name: `speaker.election_ms.s${String(services)}${variant.suffix}`, value: ms, unit: 'ms' });
    }
  }
  return results;
}

/** VmRSS or VmHWM (the peak) of a process, in MB with one decimal. */
function statusMb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith(`${field}:`)) ?? '';
  return Math.round((Number(line.replace(/\D+/g, ' ').trim()) / 1024) * 10) / 10;
}

export function rssMb(pid: number): number {
  return statusMb(pid, 'VmRSS');
}

/** User and system CPU seconds a process has used so far (/proc/PID/stat utime + stime), two decimals. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  // utime and stime are fields 14 and 15 of proc(5), 12 and 13 after the command name; clock ticks of 1/100 s.
  return Math.round(Number(fields[11] ?? 0) + Number(fields[12] ?? 0)) / 100;
}

/**
 * The Node.js flags the RSS rows are measured with: the speaker's own (rows without a suffix)
 * and the same without \`--no-opt\` and \`--no-maglev\` (rows \`.turbofan\`), so the memory V8's
 * optimizing compilers cost, and the start-up time and CPU they save or cost, stay measured side
 * by side.
 */
interface RssVariant {
  readonly suffix: string;
  readonly nodeFlags: readonly string[];
}

const rssVariants: readonly RssVariant[] = [
  { suffix: '', nodeFlags: speakerNodeFlags },
  { suffix: '.turbofan', nodeFlags: speakerNodeFlags.filter((f) => f !== '--no-opt' && f !== '--no-maglev') },
];

/** Seconds after every IP is recorded during which RSS is sampled once a second; the last third is the settled figure. */
const settleSeconds = 30;

/**
 * RSS of one speaker announcing 1,000 Services (a /20 on its LAN interface holds their IPs),
 * with the defaults (split liveness): settled (median of the samples 20-30 s after all 1,000 are
 * recorded) and the peak since start (VmHWM). The first seconds are the start-up burst (lists,
 * 1,000 probes and gratuitous bursts, 1,000 Events); V8 returns that memory over the next ~10 s.
 * The speaker is started with `variant.nodeFlags`; rows carry `variant.suffix`.
 */
async function measureRss(ctx: BenchContext, variant: RssVariant): Promise<BenchResult[]> {
  const plan = uniquePlan('ibr', 1);
  const c = await startSpeakerCluster(plan, [], { nodeFlags: variant.nodeFlags });
  try {
    const node = c.lan.nodes[0];
    if (node === undefined) throw new Error('no node');
    await inNetns(node.netns, 'ip', ['addr', 'add', '10.250.0.1/20', 'dev', c.lan.lanInterface]);
    const { CoreV1Api } = await import('@kubernetes/client-node');
    const core = c.kc.makeApiClient(CoreV1Api);
    const cm = await core.readNamespacedConfigMap({ name: 'config', namespace: 'ironlb-system' });
    await core.replaceNamespacedConfigMap({ name: 'config', namespace: 'ironlb-system', body: { ...cm, data: { config: 'address-pools:\n- name: big\n  protocol: layer2\n  addresses: [10.250.0.10-10.250.15.250]\n' } } });
    const ips = Array.from({ length: 1000 }, (_, i) => `10.250.${Math.floor((i + 10) / 250)}.${((i + 10) % 250) + 1}`);
    for (let i = 0; i < ips.length; i += 25) {
      await Promise.all(ips.slice(i, i + 25).map((ip, j) => c.createService(`svc-${i + j}`, ip, [node.name])));
    }
    const started = performance.now();
    const speaker = await c.startSpeaker(node.name);
    await waitUntil('1,000 IPs announced', async () => (await c.records()).get(node.name)?.length ?? 0, (n) => n === 1000, 120_000);
    const recordedMs = performance.now() - started;
    const pid = speaker.child.pid ?? 0;
    const samples: number[] = [];
    for (let s = 1; s <= settleSeconds; s++) {
      await new Promise((r) => setTimeout(r, 1000));
      samples.push(rssMb(pid));
    }
    const settled = [...samples.slice(-10)].sort((a, b) => a - b)[5] ?? 0;
    const peak = statusMb(pid, 'VmHWM');
    const cpu = cpuSeconds(pid);
    // The targets are the speaker's as it runs; the comparison rows have none.
    const target = variant.suffix === '' ? { target: '< 80' } : {};
    ctx.log(`speaker${variant.suffix} (${variant.nodeFlags.join(' ')}): RSS (MB) each second after 1,000 IPs were recorded: ${samples.join(' ')}; settled ${String(settled)}, peak ${String(peak)}; 1,000 IPs recorded ${String(Math.round(recordedMs))} ms after start; CPU ${String(cpu)} s`);
    return [
      { name: `speaker.rss_mb${variant.suffix}`, value: settled, unit: 'MB', ...target },
      { name: `speaker.rss_peak_mb${variant.suffix}`, value: peak, unit: 'MB', ...target },
      { name: `speaker.start_1000_ms${variant.suffix}`, value: Math.round(recordedMs), unit: 'ms' },
      { name: `speaker.start_cpu_s${variant.suffix}`, value: cpu, unit: 's' },
    ];
  } finally {
    await c.close();
  }
}

const notes = `
Failover figures are what a client on the LAN sees: its neighbour entry for the Service IP
points at the owner (STALE, as after earlier traffic), the owner's speaker process gets the
signal, and the time until the entry holds another node's MAC (switched by that node's
gratuitous ARP) is one sample, read from the client kernel's own notifications (\`ip -ts monitor
neigh\` in the client namespace, a process apart from the bench's, which also serves the API
server; the bench log gives beside each sample what its 100 ms poll of the entry saw, up to half a
second later with 1,000 members); median of ${rounds}, three speakers in node namespaces on one
bridge, one Service; after each sample the victim is started again and the next round fails
over whichever node then owns the IP, in split mode once both its standbys probe it (their
\`standbyDuties\` log line), as at steady state. Rows without a suffix run the speakers as a user who sets
nothing does: \`--liveness split\` (docs/election.md, "1,000 nodes"), where a crash is found by
the standbys' LAN probes (a round every 500 ms, three unanswered: reaped by one conditional
write) and SIGTERM releases the membership Lease. \`.lease\` rows run \`--liveness lease\` (renew
1 s, duration 3 s), where a crash costs up to one lease duration after the peers last saw a
renewal, so its samples spread over ~2-3 s.

\`speaker.rss_mb\`: one speaker with the defaults (split liveness) announcing 1,000 Services,
settled: the median of the samples 20-30 s after all 1,000 IPs are recorded on its Lease (until
2026-12-05 the row was one sample 5 s after, inside the start-up burst that V8 gives back over
the next ~10 s). \`speaker.rss_peak_mb\` is the peak since start (VmHWM): lists, 1,000 probes,
gratuitous bursts and Events at once; a memory limit must cover it, so it has the same target.
\`speaker.start_1000_ms\` is the time from starting the process until all 1,000 IPs are recorded
on its Lease, and \`speaker.start_cpu_s\` the CPU the speaker had used when sampling ended (~30 s
after). Rows \`.turbofan\` are the same speaker started without \`--no-opt\` and \`--no-maglev\`
in the same run, the price of V8's optimizing compilers side by side. \`npm run bench -- --only speaker.rss\`
measures the RSS rows alone (\`--only speaker\` records the start rows too). The speaker does not load \`@kubernetes/client-node\` (its KubeConfig alone pulls
in every generated model and API class, most of the speaker's memory before); it uses its own
small client (src/k8s/kube-rest.ts, docs/speaker.md "Memory"). The figure with client-node, for
comparison, is this row as the bench recorded it before that change (git history of
docs/benchmarks.json). The CLI loads only the
running command's module, so a speaker carries no controller or sandbox code. The speaker is
started as \`node ${speakerNodeFlags.join(' ')} bin/ironlb.js speaker\`
(src/speaker/runtime.ts; the DaemonSet's command, the sandbox and these benchmarks alike; rows
recorded before 2026-12-05T04:00Z ran without \`--no-opt\`; the \`.turbofan\` rows measure that difference).
V8's lite mode (jitless) saved memory too but starved Lease renewals with 10,000 Services
(docs/speaker.md, "Memory"), so it is not used. \`speaker.election_ms.sN\`: one warm election
(the median of the later half of a run of them) over N single-IP Services with every node a
candidate (3 nodes for 1,000, 10 for 10,000), the speaker's compiled election in a child started
with its flags (\`.turbofan\`: without \`--no-opt\` and \`--no-maglev\`), what a takeover in a running
speaker computes.
`;

/** `npm run bench -- --only speaker` (root: namespaces and packet sockets). */
export const speakerSuite: BenchSuite & { readonly notes: string } = {
  name: 'speaker',
  notes,
  needsRoot: true,
  async run(ctx) {
    // `--only speaker.rss` measures memory alone, `--only speaker.failover` failover alone
    // (`--only speaker.failover_crash_ms.lease` the lease cluster alone).
    const results: BenchResult[] = [];
    const wants = (prefix: string): boolean => ctx.wants?.(prefix) !== false;
    for (const mode of modes) {
      if (!wants(`speaker.failover_crash_ms${mode.suffix}`) && !wants(`speaker.failover_graceful_ms${mode.suffix}`)) continue;
      results.push(...(await measureFailover(ctx, mode)));
    }
    for (const variant of rssVariants) {
      if (wants(`speaker.rss_mb${variant.suffix}`) || wants(`speaker.rss_peak_mb${variant.suffix}`)) results.push(...(await measureRss(ctx, variant)));
    }
    if (wants('speaker.election_ms')) results.push(...(await measureElections(ctx)));
    return results;
  },
};
