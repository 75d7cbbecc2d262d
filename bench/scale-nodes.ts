/**
 * One worker process of the scale benchmark (bench/scale.ts): many simulated speakers in one
 * Node.js process, each running the speaker's real liveness code against the sandbox API
 * server: `NodeLease` (renewal, release), the speaker's Lease informer and `LivenessTracker`.
 * What a simulated speaker leaves out: the Service/EndpointSlice/Node/ConfigMap informers, the
 * election itself and the packet engine (the real-speaker rows of the benchmark cover those).
 *
 * Driven over the IPC channel by bench/scale.ts; see {@link WorkerRequest}.
 */
import type * as k8s from '@kubernetes/client-node';
import { pino } from 'pino';
import { defaultExpiryGraceMs, LivenessTracker } from '../src/election/liveness.js';
import { createHeartbeatWatch } from '../src/k8s/heartbeat-watch.js';
import { createInformer, type Informer } from '../src/k8s/informer.js';
import { createKubeRest, loadKubeEndpoint, type KubeRest } from '../src/k8s/kube-rest.js';
import { restLeaseWriter, type LeaseWriter } from '../src/k8s/lease-api.js';
import { restListWatch } from '../src/k8s/rest-list-watch.js';
import { NodeLease } from '../src/k8s/node-lease.js';
import { toSpeakerLeaseView } from '../src/k8s/speaker-views.js';
import type { NodeName } from '../src/shared/brand.js';
import { interfacesAnnotation } from '../src/speaker/interfaces-record.js';
import { announcingAnnotation, leaseNameOf } from '../src/speaker/lease-view.js';
import { heartbeatLeasePrefix, leaseNodeLabel, leaseRoleLabel } from '../src/speaker/standby.js';
import { systemClock } from '../src/sys/clock.js';

/** What the bench asks a worker. */
export type WorkerRequest =
  | {
      readonly type: 'start';
      readonly kubeconfig: string;
      readonly namespace: string;
      /** Nodes whose Leases this worker keeps. */
      readonly renew: readonly string[];
      /** Nodes that watch every speaker Lease (today) or every membership Lease (split). */
      readonly watch: readonly string[];
      readonly renewMs: number;
      readonly durationMs: number;
      /** The split prototype (docs/election.md, "1,000 nodes"), when set: see {@link SplitDesign}. */
      readonly split?: SplitDesign;
      /**
       * node -> the interfaces record it publishes on its membership Lease (docs/election.md,
       * "Reach"), as a speaker on another subnet would: real speakers then count it out of their
       * pools' IPs (`noInterface`) rather than as reaching every IP. Absent: none published.
       */
      readonly interfaces?: Readonly<Record<string, string>>;
    }
  /** Start timing how long each watcher of this worker takes to see `node` dead. */
  | { readonly type: 'observe'; readonly node: string }
  /** Crash (renewals stop, nothing released) or SIGTERM (released at once) one renewing node; answers with the time. */
  | { readonly type: 'fail'; readonly node: string; readonly how: 'crash' | 'term' }
  /** Start renewing `node` again (after a fail). */
  | { readonly type: 'restart'; readonly node: string }
  | { readonly type: 'cpu' }
  | { readonly type: 'stop' };

/**
 * `--liveness split` (docs/election.md "1,000 nodes") as far as the API sees it, with the
 * speaker's own parts: the membership `NodeLease` written only on change (an hour-long period,
 * as the speaker's), the heartbeat `NodeLease` with the speaker's labels, the membership watch
 * with the speaker's selector, and per node the speaker's scoped heartbeat watch
 * (k8s/heartbeat-watch.ts) on the nodes the real election gives it to watch. The LAN probe is
 * not modelled (no LAN here).
 */
export interface SplitDesign {
  readonly heartbeatRenewMs: number;
  readonly heartbeatDurationMs: number;
  /** node -> the heartbeats it watches: its owners' and its standbys' (speaker/standby.ts standbyDuties over the real election). */
  readonly watchSets: Readonly<Record<string, readonly string[]>>;
}

/** What a worker answers. */
export type WorkerReply =
  | { readonly type: 'ready' }
  | { readonly type: 'observing' }
  | { readonly type: 'failed'; readonly at: number }
  /** Date.now() at which each watcher saw the node dead (watchers that did not within the limit are left out). */
  | { readonly type: 'gone'; readonly node: string; readonly at: readonly number[] }
  | { readonly type: 'restarted' }
  | { readonly type: 'cpu'; readonly micros: number }
  | { readonly type: 'stopped' };

interface Renewer {
  readonly lease: NodeLease;
  /** The split design's heartbeat Lease. */
  readonly heartbeat?: NodeLease;
  readonly stop: AbortController;
  readonly crash: { crashed: boolean };
  readonly done: Promise<void>;
}

interface Watcher {
  readonly node: string;
  readonly tracker: LivenessTracker;
  readonly informer: Informer<k8s.V1Lease>;
}

const logger = pino({ level: 'silent' });
/** Leases started together at boot. */
const bootBatch = 25;
const reply = (r: WorkerReply): void => {
  process.send?.(r);
};

const leasesPath = (ns: string): string => `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases`;

/** A LeaseWriter whose every call fails once `crash.crashed` is set: a process that died, seen from the API. */
function crashable(writer: LeaseWriter, crash: { crashed: boolean }): LeaseWriter {
  const guard = async <T>(work: () => Promise<T>): Promise<T> => {
    if (crash.crashed) throw new Error('crashed');
    return work();
  };
  return {
    get: (name) => guard(() => writer.get(name)),
    create: (lease) => guard(() => writer.create(lease)),
    replace: (lease) => guard(() => writer.replace(lease)),
  };
}

class Worker {
  private readonly renewers = new Map<string, Renewer>();
  private readonly watchers: Watcher[] = [];
  // per heartbeat watch: whether it has seen every heartbeat it watches (synced)
  private readonly heartbeatWatchers: (() => boolean)[] = [];
  private readonly watchStop = new AbortController();
  private readonly running: Promise<void>[] = [];
  private readonly rest: KubeRest;
  private readonly writer: LeaseWriter;

  constructor(private readonly start: Extract<WorkerRequest, { type: 'start' }>) {
    this.rest = createKubeRest(loadKubeEndpoint({ kubeconfigPath: start.kubeconfig, env: {} }));
    this.writer = restLeaseWriter(this.rest, start.namespace);
  }

  renew(node: string): Renewer {
    const crash = { crashed: false };
    const stop = new AbortController();
    const split = this.start.split;
    const nodeLease = (name: string, labels: Record<string, string>, renewMs: number, durationMs: number): NodeLease =>
      new NodeLease({ writer: crashable(this.writer, crash), name, identity: node, durationMs, renewMs, recordAnnotation: announcingAnnotation, labels, clock: systemClock, logger });
    const lease = nodeLease(leaseNameOf(node), split === undefined ? {} : { [leaseRoleLabel]: 'membership' }, this.start.renewMs, this.start.durationMs);
    const heartbeat = split === undefined ? undefined : nodeLease(`${heartbeatLeasePrefix}${node}`, { [leaseRoleLabel]: 'heartbeat', [leaseNodeLabel]: node }, split.heartbeatRenewMs, split.heartbeatDurationMs);
    const interfaces = this.start.interfaces?.[node];
    if (interfaces !== undefined) lease.setAnnotation(interfacesAnnotation, interfaces);
    const done = Promise.all([lease.run(stop.signal), heartbeat?.run(stop.signal)]).then(() => undefined);
    const renewer = { lease, ...(heartbeat === undefined ? {} : { heartbeat }), stop, crash, done };
    this.renewers.set(node, renewer);
    return renewer;
  }

  watch(node: string): Watcher {
    // The speaker's judgement: membership by holder alone in the split design.
    const tracker = new LivenessTracker(defaultExpiryGraceMs, this.start.split === undefined);
    const path = leasesPath(this.start.namespace);
    const informer = createInformer<k8s.V1Lease>({
      // The speaker's selector (k8s/speaker-watch.ts): every Lease but the heartbeats.
      source: restListWatch<k8s.V1Lease>(this.rest, path, this.start.split === undefined ? {} : { labelSelector: `${leaseRoleLabel}!=heartbeat` }),
      path,
      logger,
      clock: systemClock,
      onChange: (kind, lease) => {
        const view = toSpeakerLeaseView(lease);
        if (view === undefined) return;
        if (kind === 'delete') tracker.remove(view.node);
        else tracker.observe({ ...view, observedAt: systemClock.now() });
      },
    });
    this.running.push(informer.run(this.watchStop.signal));
    const w = { node, tracker, informer };
    this.watchers.push(w);
    return w;
  }

  /** The split design's second watch, the speaker's own: the heartbeats of the nodes the election gives `node` to watch. */
  watchHeartbeats(node: string, split: SplitDesign): void {
    const targets = (split.watchSets[node] ?? []) as readonly NodeName[];
    if (targets.length === 0) return;
    const tracker = new LivenessTracker();
    const watch = createHeartbeatWatch({
      rest: this.rest,
      namespace: this.start.namespace,
      clock: systemClock,
      logger,
      onHeartbeat: (lease) => { tracker.observe({ ...lease, observedAt: systemClock.now() }); },
      onHeartbeatDeleted: (n) => { tracker.remove(n); },
    });
    watch.watch(targets);
    this.running.push(watch.run(this.watchStop.signal));
    this.heartbeatWatchers.push(() => targets.every((t) => tracker.has(t)));
  }

  async boot(): Promise<void> {
    // In batches, each renewed once before the next starts: a whole cluster's first renewals at
    // once would time out (a renewal is abandoned after one duration) and be retried forever.
    for (let i = 0; i < this.start.renew.length; i += bootBatch) {
      const batch = this.start.renew.slice(i, i + bootBatch).map((node) => this.renew(node));
      await until(() => batch.every((r) => r.lease.aliveUntil() !== undefined && (r.heartbeat === undefined || r.heartbeat.aliveUntil() !== undefined)), 120_000);
    }
    for (const node of this.start.watch) this.watch(node);
    const split = this.start.split;
    if (split !== undefined) for (const node of this.start.renew) this.watchHeartbeats(node, split);
    await Promise.all(this.watchers.map((w) => w.informer.synced));
    await until(() => this.heartbeatWatchers.every((synced) => synced()), 120_000);
  }

  /** Resolves once every watcher sees `node` alive (the previous round's restart reached them all). */
  async seenAlive(node: string): Promise<void> {
    const others = this.watchers.filter((w) => w.node !== node);
    await until(() => others.every((w) => w.tracker.isAlive(node as NodeName, systemClock.now())), 60_000);
  }

  /** Resolves with the Date.now() at which each watcher saw `node` dead, within `limitMs`. */
  async observe(node: string, limitMs: number): Promise<number[]> {
    const name = node as NodeName;
    const pending = new Set(this.watchers.filter((w) => w.node !== node));
    const seen: number[] = [];
    const deadline = Date.now() + limitMs;
    while (pending.size > 0 && Date.now() < deadline) {
      const now = systemClock.now();
      for (const w of pending) {
        if (!w.tracker.isAlive(name, now)) {
          seen.push(Date.now());
          pending.delete(w);
        }
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    return seen;
  }

  async fail(node: string, how: 'crash' | 'term'): Promise<number> {
    const r = this.renewers.get(node);
    if (r === undefined) throw new Error(`not renewing ${node}`);
    const at = Date.now();
    if (how === 'crash') r.crash.crashed = true;
    r.stop.abort();
    await r.done;
    return at;
  }

  async stop(): Promise<void> {
    for (const r of this.renewers.values()) r.stop.abort();
    this.watchStop.abort();
    await Promise.allSettled([...this.running, ...[...this.renewers.values()].map((r) => r.done)]);
  }
}

async function until(cond: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('scale worker: timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

let worker: Worker | undefined;

async function handle(m: WorkerRequest): Promise<void> {
  switch (m.type) {
    case 'start':
      worker = new Worker(m);
      await worker.boot();
      reply({ type: 'ready' });
      return;
    case 'observe': {
      const w = worker;
      await w?.seenAlive(m.node);
      reply({ type: 'observing' });
      const at = w === undefined ? [] : await w.observe(m.node, 30_000);
      reply({ type: 'gone', node: m.node, at });
      return;
    }
    case 'fail':
      reply({ type: 'failed', at: (await worker?.fail(m.node, m.how)) ?? Date.now() });
      return;
    case 'restart':
      worker?.renew(m.node);
      reply({ type: 'restarted' });
      return;
    case 'cpu': {
      const u = process.cpuUsage();
      reply({ type: 'cpu', micros: u.user + u.system });
      return;
    }
    case 'stop':
      await worker?.stop();
      reply({ type: 'stopped' });
      process.exit(0);
  }
}

process.on('message', (m: WorkerRequest) => {
  handle(m).catch((e: unknown) => {
    process.stderr.write(`scale worker: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  });
});
process.on('disconnect', () => {
  process.exit(0);
});
