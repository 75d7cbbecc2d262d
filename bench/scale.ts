import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import * as k8s from '@kubernetes/client-node';
import { startTestApiServer, type TestApiServer } from '../test/helpers/apiserver.js';
import { inNetns } from '../test/helpers/lan-netns.js';
import { startSpeakerCluster, uniquePlan, type SpeakerCluster } from '../test/netns/speaker-cluster.js';
import { failover as clientFailover, keepingLogs, listEveryMs, roundsLine, rssMb, type FailoverRound } from './speaker.js';
import { waitFor } from '../test/helpers/wait.js';
import type { WorkerReply, WorkerRequest } from './scale-nodes.js';
import type { BenchContext, BenchResult, BenchSuite } from './types.js';
import type { NodeName } from '../src/shared/brand.js';
import { desiredAnnouncements } from '../src/speaker/desired.js';
import { allCandidatesElectionMs, allCandidatesSnapshot } from './election.js';
import { defaultStandbyCount, standbyDuties } from '../src/speaker/standby.js';

const ns = 'ironlb-system';
const sizes = [10, 100, 300, 1000] as const;
const workerCount = 2;
const settleMs = 5000;
const windowMs = 10_000;
const failoverRounds = 3;
/**
 * Today every speaker watches every speaker Lease. 1,000 full watchers would need ~1,000,000
 * events/s, more than this machine can deliver while it also runs the writers, so at most this
 * many simulated speakers watch; the delivered rate is scaled to N watchers (see the notes).
 */
const maxWatchers = 30;
const workerPath = fileURLToPath(new URL('./scale-nodes.ts', import.meta.url));

/** A liveness design the benchmark runs: renewal timings of every simulated speaker. */
interface Design {
  readonly name: string;
  readonly renewMs: number;
  readonly durationMs: number;
  /** Split liveness (bench/scale-nodes.ts SplitDesign), without the watch sets (computed per size). */
  readonly split?: { readonly heartbeatRenewMs: number; readonly heartbeatDurationMs: number; readonly standbyCount: number };
}

const today: Design = { name: 'today', renewMs: 1000, durationMs: 3000 };
/**
 * docs/election.md "1,000 nodes": membership Leases written only on change (an hour-long
 * period stands for "never" in a 10 s window), heartbeats at the kubelet's NodeLease timings
 * (10 s / 40 s), each node watching the heartbeats of the two owners it stands by for.
 */
const split: Design = { name: 'split', renewMs: 3_600_000, durationMs: 7_200_000, split: { heartbeatRenewMs: 10_000, heartbeatDurationMs: 40_000, standbyCount: defaultStandbyCount } };

/**
 * node -> the heartbeats it watches under `--liveness split`: the speaker's own election
 * (standbys named) over `n` alive, settled nodes and 1,000 single-IP Services with an endpoint
 * on every node, then `standbyDuties` per node with every owner recorded as announcing.
 */
export function splitWatchSets(names: readonly string[], standbyCount: number): Record<string, readonly string[]> {
  const nodes = names as readonly NodeName[];
  const elected = desiredAnnouncements(allCandidatesSnapshot(nodes, standbyCount));
  const recorded = new Map([...elected.ips.values()].flatMap((d) => (d.owner === undefined ? [] : [[d.ip, d.owner] as const])));
  return Object.fromEntries(nodes.map((node) => [node, standbyDuties(node, elected.ips.values(), recorded).watch]));
}

/** Which speaker code the \`scale-real\` rows ran: this branch's small Kubernetes client (docs/speaker.md, "Memory"). */
const realLabel = 'small_client';

/** The period of the Lease writes a design makes at steady state: the heartbeat's in the split design. */
const renewedEveryMs = (d: Design): number => d.split?.heartbeatRenewMs ?? d.renewMs;

const round2 = (n: number): number => Math.round(n * 100) / 100;

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

const nodeName = (i: number): string => `node-${String(i).padStart(4, '0')}`;

/** One worker process and a typed request/answer channel to it. */
class WorkerProc {
  private readonly waiting: { type: WorkerReply['type']; resolve: (r: WorkerReply) => void; reject: (e: Error) => void }[] = [];
  readonly child: ChildProcess;

  constructor() {
    this.child = fork(workerPath, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    this.child.on('message', (m: WorkerReply) => {
      const i = this.waiting.findIndex((w) => w.type === m.type);
      if (i < 0) return;
      const [w] = this.waiting.splice(i, 1);
      w?.resolve(m);
    });
    this.child.on('exit', (code) => {
      for (const w of this.waiting.splice(0)) w.reject(new Error(`scale worker exited (${String(code)}) while waiting for ${w.type}`));
    });
  }

  send(m: WorkerRequest): void {
    this.child.send(m);
  }

  next<T extends WorkerReply['type']>(type: T, timeoutMs = 180_000): Promise<Extract<WorkerReply, { type: T }>> {
    return new Promise((resolve, reject) => {
      const entry = {
        type,
        resolve: (r: WorkerReply) => {
          clearTimeout(timer);
          resolve(r as Extract<WorkerReply, { type: T }>);
        },
        reject: (e: Error) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      const timer = setTimeout(() => {
        this.waiting.splice(this.waiting.indexOf(entry), 1);
        reject(new Error(`scale worker: no ${type} within ${String(timeoutMs)} ms`));
      }, timeoutMs);
      this.waiting.push(entry);
    });
  }

  async request<T extends WorkerReply['type']>(m: WorkerRequest, type: T, timeoutMs?: number): Promise<Extract<WorkerReply, { type: T }>> {
    const answer = this.next(type, timeoutMs);
    this.send(m);
    return answer;
  }

  async cpuMicros(): Promise<number> {
    return (await this.request({ type: 'cpu' }, 'cpu')).micros;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.send({ type: 'stop' });
    const timedOut = await Promise.race([exited.then(() => false), new Promise<boolean>((r) => setTimeout(() => { r(true); }, 5000))]);
    if (timedOut) this.child.kill('SIGKILL');
  }
}

interface Window {
  readonly writesPerS: number;
  readonly eventsPerS: number;
  readonly apiCpuPct: number;
  readonly workersCpuPct: number;
}

/** Lease writes the API server counts (create, update, patch, delete). */
const leaseWriteVerbs: ReadonlySet<string> = new Set(['create', 'update', 'patch', 'delete']);

/**
 * The counting window of a design: a whole number of its renewal periods, at least `windowMs`.
 * A window one clump of renewals longer than a whole number of periods counts that clump twice
 * (the simulated nodes boot in batches, so their renewals come in clumps): 104 writes/s was
 * once read for a design that writes 100/s.
 */
export function windowFor(periodMs: number, atLeastMs: number): number {
  return Math.max(1, Math.ceil(atLeastMs / periodMs)) * periodMs;
}

/**
 * Lease writes per second in [from, from + lengthMs), by the API server's own request times:
 * exactly a window, however late the bench's timer fired. Undefined when the request log no
 * longer holds the whole window (it keeps the most recent requests only).
 */
export function leaseWritesPerS(entries: readonly { readonly at: number; readonly verb: string; readonly resource: string }[], total: number, from: number, lengthMs: number): number | undefined {
  if (entries.length !== total) return undefined;
  const writes = entries.filter((e) => e.resource === 'leases' && leaseWriteVerbs.has(e.verb) && e.at >= from && e.at < from + lengthMs).length;
  return writes / (lengthMs / 1000);
}

/**
 * Counts API writes and delivered watch events over `lengthMs` (a whole number of renewal
 * periods, {@link windowFor}), with the API server's (this process's) and the workers' CPU.
 * Writes are counted by the request times the server logged; watch events (a counter) over the
 * time the bench's timer actually took.
 */
async function measureWindow(api: TestApiServer, workers: readonly WorkerProc[], lengthMs: number): Promise<Window> {
  const cpu0 = process.cpuUsage();
  const w0 = await Promise.all(workers.map((w) => w.cpuMicros()));
  api.server.requests.reset();
  const from = Date.now();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, lengthMs));
  const seconds = (performance.now() - t0) / 1000;
  const events = api.server.requests.watchEvents();
  const cpu = process.cpuUsage(cpu0);
  const w1 = await Promise.all(workers.map((w) => w.cpuMicros()));
  const workersMicros = w1.reduce((s, v, i) => s + v - (w0[i] ?? 0), 0);
  // Writes answered just before the window closed are logged when their answer is written.
  await new Promise((r) => setTimeout(r, 500));
  const writesPerS = leaseWritesPerS(api.server.requests.entries(), api.server.requests.total(), from, lengthMs);
  if (writesPerS === undefined) throw new Error(`the API server's request log no longer holds the whole ${String(lengthMs)} ms window`);
  return {
    writesPerS,
    eventsPerS: events / seconds,
    apiCpuPct: ((cpu.user + cpu.system) / 1e6 / seconds) * 100,
    workersCpuPct: (workersMicros / 1e6 / seconds) * 100,
  };
}

/**
 * One failover of `victim`, as the other (simulated) speakers' liveness sees it: every watcher
 * starts looking, the victim crashes or is stopped, and each watcher's time to count it dead is
 * a sample. Returns the median over watchers, then brings the victim back.
 */
async function failover(workers: readonly WorkerProc[], owner: WorkerProc, victim: string, how: 'crash' | 'term'): Promise<number> {
  const gone = workers.map((w) => w.next('gone', 60_000));
  await Promise.all(workers.map((w) => w.request({ type: 'observe', node: victim }, 'observing')));
  const { at } = await owner.request({ type: 'fail', node: victim, how }, 'failed');
  const seen = (await Promise.all(gone)).flatMap((g) => g.at.map((t) => t - at));
  await owner.request({ type: 'restart', node: victim }, 'restarted');
  // Renewed and seen alive again by every watcher before the next round.
  await new Promise((r) => setTimeout(r, 2500));
  return median(seen);
}

async function runSize(ctx: BenchContext, design: Design, n: number): Promise<BenchResult[]> {
  // Plain HTTP: TLS would cost this crowded machine CPU that says nothing about the design.
  const api = await startTestApiServer({ eventLogSize: 50_000, tls: false });
  const workers = Array.from({ length: workerCount }, () => new WorkerProc());
  try {
    await api.kubeConfig().makeApiClient(k8s.CoreV1Api).createNamespace({ body: { metadata: { name: ns } } });
    const names = Array.from({ length: n }, (_, i) => nodeName(i));
    const watchers = Math.min(n, maxWatchers);
    const watchSets = design.split === undefined ? {} : splitWatchSets(names, design.split.standbyCount);
    if (design.split !== undefined) ctx.log(`scale split n=${String(n)}: heartbeat watches per node (real election) mean ${String(round2(Object.values(watchSets).reduce((a, w) => a + w.length, 0) / n))}`);
    const share = <T>(list: readonly T[], i: number): T[] => list.filter((_, j) => j % workerCount === i);
    await Promise.all(
      workers.map((w, i) =>
        w.request(
          {
            type: 'start',
            kubeconfig: api.kubeconfigPath,
            namespace: ns,
            renew: share(names, i),
            watch: share(names.slice(0, watchers), i),
            renewMs: design.renewMs,
            durationMs: design.durationMs,
            ...(design.split === undefined ? {} : { split: { heartbeatRenewMs: design.split.heartbeatRenewMs, heartbeatDurationMs: design.split.heartbeatDurationMs, watchSets } }),
          },
          'ready',
          600_000,
        ),
      ),
    );
    await new Promise((r) => setTimeout(r, settleMs));
    const lengthMs = windowFor(renewedEveryMs(design), windowMs);
    const win = await measureWindow(api, workers, lengthMs);
    const prefix = `scale.${design.name}`;
    const tag = `n${String(n)}`;
    const atTarget = n === 1000;
    const victim = names[0] ?? '';
    const owner = workers[0];
    if (owner === undefined) throw new Error('no worker');
    const results: BenchResult[] = [
      { name: `${prefix}.api_writes_per_s${tag}`, value: round2(win.writesPerS), unit: '/s', ...(atTarget ? { target: '<= 100' } : {}) },
      // Below 100%: the machine could not keep up (renewals starved), so the other rows understate the design's load.
      { name: `${prefix}.renewals_achieved_pct.${tag}`, value: Math.round((win.writesPerS / (n / (renewedEveryMs(design) / 1000))) * 100), unit: '% of N/renew' },
      // Today every speaker watches every Lease: scaled from the sampled watchers to N. The split
      // design's heartbeat watchers all run and its membership watchers see no steady-state event: as counted.
      { name: `${prefix}.watch_events_per_s${tag}`, value: Math.round(design.split === undefined ? (win.eventsPerS * n) / watchers : win.eventsPerS), unit: '/s', ...(atTarget ? { target: '<= 2000' } : {}) },
      { name: `${prefix}.watchers_run.${tag}`, value: watchers, unit: 'speakers' },
      { name: `${prefix}.apiserver_cpu_pct${tag}`, value: round2(win.apiCpuPct), unit: '%' },
      { name: `${prefix}.speaker_cpu_pct${tag}`, value: round2(win.workersCpuPct / n), unit: '% (simulated, per speaker)' },
    ];
    // The split design detects a crash on the LAN (not modelled here): only its graceful path runs.
    const kinds = design.split === undefined ? ([['crash', 'failover_crash_ms'], ['term', 'failover_graceful_ms']] as const) : ([['term', 'failover_graceful_ms']] as const);
    for (const [how, name] of kinds) {
      const samples: number[] = [];
      for (let i = 0; i < failoverRounds; i += 1) samples.push(await failover(workers, owner, victim, how));
      ctx.log(`scale ${design.name} n=${String(n)}: ${how}: ${samples.map((s) => Math.round(s)).join(', ')} ms`);
      results.push({ name: `${prefix}.${name}${tag}`, value: Math.round(median(samples)), unit: 'ms (liveness, simulated)' });
    }
    ctx.log(`scale ${design.name} n=${String(n)}: ${JSON.stringify(win)}; load ${loadavg().map(round2).join(' ')}`);
    return results;
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
    await api.close();
  }
}

const realNodes = 10;
/** Real speakers in the 1,000-member run (the rest are simulated): few, so the two cores keep up. */
const realAmong1000 = 4;
const services = 1000;

/** CPU time (user + system) of a process so far, in seconds, from /proc/PID/stat. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${String(pid)}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
  // After "pid (comm) ": state is field 0, utime field 11, stime field 12 (proc(5)).
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** 1,000 Services: `web` on the LAN's own prefix (the client watches it), the rest in 10.250.0.0/20 (an address on every node). */
async function createServices(c: SpeakerCluster, webIp: string): Promise<void> {
  for (const [i, node] of c.lan.nodes.entries()) await inNetns(node.netns, 'ip', ['addr', 'add', `10.250.0.${String(i + 1)}/20`, 'dev', c.lan.lanInterface]);
  const lanPool = webIp.replace(/\.\d+$/, '');
  await c.setConfig(`address-pools:\n- name: lan\n  protocol: layer2\n  addresses: [${lanPool}.200-${lanPool}.250]\n- name: big\n  protocol: layer2\n  addresses: [10.250.0.10-10.250.15.250]\n`);
  const all = c.lan.nodes.map((n) => n.name);
  await c.createService('web', webIp, all);
  const ips = Array.from({ length: services - 1 }, (_, i) => `10.250.${String(Math.floor((i + 10) / 250))}.${String(((i + 10) % 250) + 1)}`);
  for (let i = 0; i < ips.length; i += 25) await Promise.all(ips.slice(i, i + 25).map((ip, j) => c.createService(`svc-${String(i + j)}`, ip, all)));
}

/** One run of real speakers (the \`scale-real\` suite). */
interface RealRun {
  /** Rows are named \`scale-real.LABEL.FIGURE[.TAG]\`. */
  readonly label: string;
  readonly tag?: string;
  /** Real \`ironlb speaker\` processes, one per node namespace. */
  readonly nodes: number;
  readonly args: readonly string[];
  /**
   * Simulated members beside them (bench/scale-nodes.ts): split membership and heartbeat Leases
   * renewed by the speaker's own \`NodeLease\`, a Node object each, and an interfaces record on
   * a subnet no pool uses, so the real speakers' election counts them out (\`noInterface\`).
   */
  readonly simulated?: number;
}

/** The prefix the simulated members publish: no pool and no real node uses it. */
const simulatedPrefix = '172.30.0.0/16';

/** The interfaces record of the \`index\`-th simulated member: one \`eth0\` with a made-up, locally administered MAC on \`prefix\`. */
export function simulatedInterfaces(index: number, prefix: string): string {
  const hex = (n: number): string => n.toString(16).padStart(2, '0');
  return `eth0=02:1b:00:${hex((index >> 16) & 0xff)}:${hex((index >> 8) & 0xff)}:${hex(index & 0xff)};${prefix}`;
}

/**
 * Starts \`count\` simulated split members against the cluster's API server (Node objects,
 * membership and heartbeat Leases with an interfaces record off every pool), in
 * {@link workerCount} worker processes; resolves once every Lease was written.
 */
async function startSimulated(ctx: BenchContext, c: SpeakerCluster, count: number): Promise<WorkerProc[]> {
  const names = Array.from({ length: count }, (_, i) => `sim-${String(i).padStart(4, '0')}`);
  const core = c.kc.makeApiClient(k8s.CoreV1Api);
  for (let i = 0; i < names.length; i += 25) {
    await Promise.all(names.slice(i, i + 25).map((name) => core.createNode({ body: { metadata: { name, labels: {} }, status: { conditions: [{ type: 'Ready', status: 'True' }] } } })));
  }
  const workers = Array.from({ length: workerCount }, () => new WorkerProc());
  try {
    const share = <T>(list: readonly T[], i: number): T[] => list.filter((_, j) => j % workerCount === i);
    const heartbeat = { heartbeatRenewMs: 10_000, heartbeatDurationMs: 40_000, watchSets: {} };
    await Promise.all(
      workers.map((w, i) =>
        w.request(
          {
            type: 'start',
            kubeconfig: c.api.kubeconfigPath,
            namespace: ns,
            renew: share(names, i),
            watch: [],
            renewMs: split.renewMs,
            durationMs: split.durationMs,
            split: heartbeat,
            interfaces: Object.fromEntries(share(names, i).map((name) => [name, simulatedInterfaces(names.indexOf(name), simulatedPrefix)])),
          },
          'ready',
          600_000,
        ),
      ),
    );
  } catch (e: unknown) {
    await Promise.all(workers.map((w) => w.stop()));
    throw e;
  }
  ctx.log(`scale-real: ${String(count)} simulated members renewing`);
  return workers;
}

/**
 * Held speaker Leases (the members every speaker elects among), as the API server has them: the
 * membership Leases of split speakers and the renewed Leases of \`--liveness lease\` ones
 * (labelled \`renewed\`; heartbeats are left out).
 */
async function heldMembers(c: SpeakerCluster): Promise<number> {
  const leases = await c.kc.makeApiClient(k8s.CoordinationV1Api).listNamespacedLease({ namespace: ns, labelSelector: 'ironlb.io/lease!=heartbeat' });
  return leases.items.filter((l) => (l.metadata?.name ?? '').startsWith('ironlb-speaker-') && (l.spec?.holderIdentity ?? '') !== '').length;
}

/**
 * Real \`ironlb speaker\` processes in node namespaces, 1,000 Services (and, with
 * \`run.simulated\`, simulated members beside them): API writes and watch events (all resources)
 * over the window, per-speaker CPU and RSS, and failover as the client on the LAN sees it
 * (bench/speaker.ts).
 */
async function runReal(ctx: BenchContext, run: RealRun): Promise<BenchResult[]> {
  const label = run.label;
  const plan = uniquePlan('ibk', run.nodes);
  const webIp = `${plan.v4Net}.200`;
  const cluster = await startSpeakerCluster(plan, run.args, { logToFiles: true });
  const { cluster: c, dump } = keepingLogs(cluster);
  let workers: WorkerProc[] = [];
  try {
    if (run.simulated !== undefined) workers = await startSimulated(ctx, c, run.simulated);
    await createServices(c, webIp);
    for (const n of c.lan.nodes) await c.startSpeaker(n.name);
    // Every IP recorded by exactly one node (a sum of records also reaches 1,000 while IPs move).
    const announced = async (): Promise<number> => soleOwners(await c.records());
    await waitFor('1,000 IPs announced, each by one node', announced, (n) => n === services, { timeoutMs: 300_000, intervalMs: 4 * listEveryMs });
    await new Promise((r) => setTimeout(r, settleMs));
    const pids = [...c.speakers.values()].map((s) => s.child.pid ?? 0);
    const cpu0 = pids.map(cpuSeconds);
    const api0 = process.cpuUsage();
    c.api.server.requests.reset();
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, windowMs));
    const seconds = (performance.now() - t0) / 1000;
    const writes = [...c.api.server.requests.counts()].filter(([key]) => / (create|update|patch|delete) /.test(key)).reduce((sum, [, n]) => sum + n, 0);
    const events = c.api.server.requests.watchEvents();
    const apiCpu = process.cpuUsage(api0);
    const speakerCpu = pids.map((p, i) => cpuSeconds(p) - (cpu0[i] ?? 0));
    const rss = median(pids.map(rssMb));
    // Every member held (a speaker reaped while alive rejoins within moments), before the window.
    const expected = run.nodes + (run.simulated ?? 0);
    const members = await waitFor(`${String(expected)} held membership Leases`, () => heldMembers(c), (n) => n === expected, { timeoutMs: 60_000, intervalMs: 4 * listEveryMs });
    ctx.log(`scale-real ${label}: ${String(members)} members; load ${loadavg().map(round2).join(' ')}`);
    const prefix = `scale-real.${label}`;
    const tag = run.tag === undefined ? '' : `.${run.tag}`;
    const results: BenchResult[] = [
      { name: `${prefix}.api_writes_per_s${tag}`, value: round2(writes / seconds), unit: '/s' },
      { name: `${prefix}.watch_events_per_s${tag}`, value: Math.round(events / seconds), unit: '/s' },
      { name: `${prefix}.apiserver_cpu_pct${tag}`, value: round2(((apiCpu.user + apiCpu.system) / 1e6 / seconds) * 100), unit: '%' },
      { name: `${prefix}.speaker_cpu_pct${tag}`, value: round2((median(speakerCpu) / seconds) * 100), unit: '% (median speaker)' },
      { name: `${prefix}.speaker_rss_mb${tag}`, value: rss, unit: 'MB (median speaker)' },
    ];
    // This machine is shared: the failover rows below move with the load on it.
    results.push({ name: `${prefix}.load_average_1m${tag}`, value: round2(loadavg()[0] ?? 0), unit: 'load (before the failovers)' });
    for (const [signal, name] of [['SIGKILL', 'failover_crash_ms'], ['SIGTERM', 'failover_graceful_ms']] as const) {
      // A failover that never shows at the client leaves its row out (logged) but keeps the rows above.
      results.push(
        ...(await guarded(ctx, `${label} ${signal}`, async () => {
          const samples: FailoverRound[] = [];
          for (let i = 0; i < failoverRounds; i += 1) samples.push(await clientFailover(c, webIp, signal, run.args.includes('lease') ? 0 : defaultStandbyCount));
          ctx.log(`scale-real ${label}: ${signal}: ${roundsLine(samples)}`);
          return [{ name: `${prefix}.${name}${tag}`, value: Math.round(median(samples.map((x) => x.ms))), unit: 'ms (client-observed)' }];
        })),
      );
    }
    // What the simulated members leave out: one election with every member a candidate for every IP.
    if (run.simulated !== undefined) results.push({ name: `${prefix}.election_all_candidates_ms${tag}`, value: Math.round(allCandidatesElectionMs(run.nodes + run.simulated)), unit: 'ms (one election after a reap, memo warm, bench process)' });
    return results;
  } finally {
    dump(ctx, `scale-real/${label}`);
    await Promise.all(workers.map((w) => w.stop()));
    await cluster.close();
  }
}

/** IPs recorded as announced by exactly one node, when none is recorded twice; else -1. */
export function soleOwners(records: ReadonlyMap<string, readonly string[]>): number {
  const all = [...records.values()].flat();
  return new Set(all).size === all.length ? all.length : -1;
}

const realNotes = `
${String(realNodes)} real \`ironlb speaker\` processes in node namespaces on one bridge (test/netns/speaker-cluster.ts),
${String(services)} LoadBalancer Services with IPs and endpoints on every node, counted over a ${String(windowMs / 1000)} s window once every
IP is recorded as announced by exactly one node (writes and watch events of every resource, not only Leases); failover as the
client on the LAN sees it (its neighbour entry, as in the \`speaker\` suite; with split liveness a round starts once both
standbys of the owner probe it), median of ${String(failoverRounds)} rounds.
The second part of a row's name says which speaker code ran: \`small_client\` is the speaker with
its small Kubernetes client (docs/speaker.md, "Memory") run with \`--liveness lease\`, \`split\` the same speaker
with its default liveness, split (heartbeat 10 s / 40 s, standby probes every 500 ms, 3 misses); \`today\`, the speaker before it (client-node), has no
rows: of its two runs on this (shared, loaded) machine, the first failed on its failover (the
suite then still failed as a whole) and the second did not see all 1,000 IPs announced within
3 minutes.

\`n1000\` rows: ${String(realAmong1000)} real speakers (default liveness, split) among 1,000 members, the other
${String(1000 - realAmong1000)} simulated by bench/scale-nodes.ts in ${String(workerCount)} worker processes: each has a Node object, a split
membership Lease and a heartbeat Lease renewed every 10 s by the speaker's own \`NodeLease\`, and an
interfaces record on a subnet no pool uses (${simulatedPrefix}), so the real speakers elect among 1,000 Nodes and 1,000 held
membership Leases (checked before the window), watch them all, and count the simulated ones out of
every pool IP (\`noInterface\`, docs/election.md "Reach"; test/unit/bench-scale.test.ts checks it with
the election's own code). The ${String(services)} Services and the failover are as above, with the
real speakers' standby probes and reaping at that membership. What the figure leaves out: the simulated members run no
election, probe nobody, watch nothing and own no IP, so the API server and the machine carry
neither their watches nor their elections (the \`scale\` suite counts the API side of those), and
every IP's candidates are the ${String(realAmong1000)} real nodes: at 1,000 real nodes on one subnet every node
would be a candidate for every IP, and that cost on each speaker is not in the failover figures:
\`election_all_candidates_ms\` is one such election (the speaker's \`desiredAnnouncements\`, 1,000 nodes all
candidates for 1,000 IPs, 2 standbys each) as a speaker runs it on a failover: its rendezvous memo warm from the
election before, one member reaped since (docs/election.md, "Cost"); timed in the bench process after the
failovers, median of 3. Before the memo and the once-per-election node checks it was one cold election, seconds
here; the \`election\` suite times today's election (the oracle) beside the new one.

The speakers log into files, not into pipes this process reads (it also serves the API): a speaker
logs synchronously, and a takeover's burst of lines through a full pipe could wait on the bench. The
\`n1000\` rows, failover included, come from one run after the election's cost stopped growing with
nodes × Services (docs/election.md, "Cost"); in the runs before it the failover rounds mostly timed out.
In that run's speaker logs a graceful round is: the victim stops answering and releases its Leases
(0.05-0.5 s after it stopped), and the new owner starts announcing 0.55-0.6 s after the release (the
logs do not say on what it waited; not a takeover probe: an IP a speaker has seen recorded is taken
over without one). A crash round is three unanswered 500 ms probe rounds, the reap, and
0.1-0.6 s to the new owner's first announcement. In one crash round a restarted earlier victim, settled
by then, elected itself for 363 IPs another node had taken 4 s before and announced them for about
1 s (\`ipConflict\`), stopping with that node named as the recorded owner (by all signs its record of
them had reached it late).
\`load_average_1m\`: /proc/loadavg just before the failover rounds (2 cores, shared with other
work: the failover rows move with it). A failover row
is left out when the client's neighbour entry did not move within 15 s (see the bench log;
\`IRONLB_BENCH_LOGS=DIR\` keeps every speaker's log).
Run under \`flock /work/netns.lock\`; the simulated 10-1,000 node rows are the \`scale\` suite.
`;

const notes = `
Simulated speakers: ${String(workerCount)} worker processes (bench/scale-nodes.ts) run, per node,
the speaker's real liveness code against the sandbox API server over HTTPS: \`NodeLease\`
(renewal and release), the Lease informer and \`LivenessTracker\`. Left out: the other informers
(Services, EndpointSlices, Nodes, config), the election and the packet engine. After every Lease
exists and every watch synced, ${String(settleMs / 1000)} s of settling, then a window of a whole number of
renewal periods, at least ${String(windowMs / 1000)} s (${String(windowMs / 1000)} s for \`today\`, one 10 s heartbeat period for \`split\`),
counted in the API server: \`api_writes_per_s\` (Lease create/update/patch/delete requests, by
the times the server logged them, so the window is exact: a window a little longer than whole
periods counts a clump of renewals twice, the simulated nodes boot in batches of ${String(25)}, and once
read 104.3/s for a design that writes 100/s) and \`watch_events_per_s\` (ADDED/MODIFIED/DELETED
events written to watch streams, counted by the server, \`GET /sandbox/v1/requests\`, over the
time the window's timer took). At most ${String(maxWatchers)} simulated speakers watch
(\`watchers_run\`); the delivered rate is scaled by N / watchers_run to N watchers, as every
speaker watches in the real design. \`apiserver_cpu_pct\` is the CPU of the process that serves
the API (100% = one core); \`speaker_cpu_pct\` the workers' CPU divided by N (renewing nodes and
watchers together). Failover rows are liveness only: the median over watchers of the time from
the crash (renewals stop, nothing released) or SIGTERM (Lease released) of one node until a
watcher counts it dead (each round starts once every watcher sees the victim alive again);
median of ${String(failoverRounds)} rounds. A negative sample means watchers had already counted the
victim dead before it failed: its renewals reached them more than a duration apart, a false
expiry that a real speaker would act on (another node takes the IP). \`renewals_achieved_pct\` is the measured write rate as a share of N / renewal period:
below 100% the machine could not keep up and the other rows understate the design's load. The
sandbox API server serves plain HTTP here (TLS would only add CPU that says nothing of the design). Designs: \`today\` (every speaker renews its Lease every 1 s, 3 s duration,
and watches every speaker Lease) and \`split\` (\`--liveness split\`, docs/election.md "1,000 nodes",
run with the speaker's own NodeLeases, membership selector and k8s/heartbeat-watch.ts: membership
Leases written only on change, heartbeats every 10 s with a 40 s duration, each node watching the
membership Leases (selector \`ironlb.io/lease!=heartbeat\`; at most ${String(maxWatchers)} run, their
steady-state events are none) and the heartbeats of the nodes the speaker's own election gives it
(its owners' and its standbys', 2 standbys per owner, 1,000 Services; every node; its events are not
scaled; the mean watch-set size per N is in the bench log)). The split design's crash path is a LAN
probe, which needs a LAN: its crash failover comes from real speakers in test/netns/speaker.test.ts,
not from this suite. The client-observed figures come from real speakers (the \`scale-real\` suite). The machine is shared (see load average in the bench log): counts are
robust, CPU figures are not.
`;

/** One part of the suite; a failure is logged and leaves only that part's rows out (their previous figures stay). */
async function guarded(ctx: BenchContext, what: string, part: () => Promise<BenchResult[]>): Promise<BenchResult[]> {
  try {
    return await part();
  } catch (e: unknown) {
    ctx.log(`scale ${what} failed, its rows are left out: ${e instanceof Error ? e.message : String(e)}`);
    return [];
  }
}

/** `npm run bench -- --only scale`: liveness cost and failover for 10 to 1,000 nodes. */
export const scaleSuite: BenchSuite & { readonly notes: string } = {
  name: 'scale',
  notes,
  needsRoot: false,
  async run(ctx) {
    const results: BenchResult[] = [];
    for (const design of [today, split]) {
      // `--only scale.split` runs that design alone.
      if (ctx.wants?.(`scale.${design.name}.`) === false) continue;
      for (const n of sizes) results.push(...(await guarded(ctx, `${design.name} n=${String(n)}`, () => runSize(ctx, design, n))));
    }
    return results;
  },
};

/** `npm run bench -- --only scale-real` (root, under the netns lock): 10 real speakers, 1,000 Services. */
export const scaleRealSuite: BenchSuite & { readonly notes: string } = {
  name: 'scale-real',
  notes: realNotes,
  needsRoot: true,
  async run(ctx) {
    const results: BenchResult[] = [];
    // `--only scale-real.split` runs the split speakers alone.
    // `small_client` pins lease mode (its rows predate split as the default); `split` runs the default.
    if (ctx.wants?.(`scale-real.${realLabel}.`) !== false) results.push(...(await runReal(ctx, { label: realLabel, tag: `n${String(realNodes)}`, nodes: realNodes, args: ['--liveness', 'lease'] })));
    if (ctx.wants?.('scale-real.split.') !== false) results.push(...(await guarded(ctx, 'real split', () => runReal(ctx, { label: 'split', tag: `n${String(realNodes)}`, nodes: realNodes, args: [] }))));
    // `--only scale-real.n1000`: a few real speakers among 1,000 members.
    if (ctx.wants?.('scale-real.n1000.') !== false) results.push(...(await guarded(ctx, 'real n1000', () => runReal(ctx, { label: 'n1000', nodes: realAmong1000, args: [], simulated: 1000 - realAmong1000 }))));
    return results;
  },
};
