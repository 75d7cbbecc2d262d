import { setMaxListeners } from 'node:events';
import type { Logger } from 'pino';
import { createAnnouncer, defaultTiming, type Announcer, type AnnouncerDeps, type InterfaceSource } from '../layer2/announcer.js';
import type { PacketConnFactory } from '../layer2/packet-conn.js';
import { createLayer2Metrics } from '../layer2/metrics.js';
import { createEventRecorder, restEventApi } from '../k8s/events.js';
import { createKubeRest, loadKubeEndpoint, type KubeRest } from '../k8s/kube-rest.js';
import { createHeartbeatWatch } from '../k8s/heartbeat-watch.js';
import { restLeaseWriter, type LeaseWriter } from '../k8s/lease-api.js';
import { createMembershipReaper } from '../k8s/membership-reaper.js';
import { NodeLease, type NodeLeaseMetrics } from '../k8s/node-lease.js';
import { createSpeakerWatch, type SpeakerWatch } from '../k8s/speaker-watch.js';
import { defaultLoadBalancerClass } from '../service/service.js';
import { createObsServer } from '../obs/http-server.js';
import { createRegistry } from '../obs/metrics.js';
import type { Registry } from 'prom-client';
import type { NodeName } from '../shared/brand.js';
import { AppError, describeError, UsageError } from '../shared/errors.js';
import { err, ok, type Result } from '../shared/result.js';
import { announcingAnnotation, leaseNameOf, membershipLeaseRole, renewedLeaseRole } from '../speaker/lease-view.js';
import { createInterfacesPublisher } from '../speaker/interfaces-publisher.js';
import { interfacesAnnotation } from '../speaker/interfaces-record.js';
import { createSpeakerMetrics, type SpeakerMetrics } from '../speaker/metrics.js';
import { packetSocketBackoff, waitForPacketSockets, type PacketSocketRefusal } from '../speaker/packet-sockets.js';
import { createSpeakerReadiness, type SpeakerReadiness } from '../speaker/readiness.js';
import { createSpeaker, type AnnouncerPort, type MembershipPort, type Speaker } from '../speaker/speaker.js';
import { defaultStandbyCount, heartbeatLeasePrefix, leaseNodeLabel, leaseRoleLabel } from '../speaker/standby.js';
import { createStandbyLoop, type StandbyLoop } from '../speaker/standby-loop.js';
import { checkPacketCapability, createAfPacketConns } from '../sys/af-packet.js';
import { systemClock } from '../sys/clock.js';
import { createSystemInterfaceSource } from '../sys/net-interfaces.js';
import { exitCode, type CommandRunner } from './command.js';
import { commonFlags, printUsage, readFlags, type Flags } from './flags.js';
import { layer2ModeFlag, layer2Offloads } from './layer2-mode.js';

const flagSpec = {
  ...commonFlags,
  ...layer2ModeFlag,
  'node-name': { type: 'string', description: 'the Kubernetes Node this speaker runs on (required)' },
  kubeconfig: { type: 'string', env: 'KUBECONFIG', description: 'kubeconfig file (default: KUBECONFIG, ~/.kube/config, in-cluster)' },
  namespace: { type: 'string', default: 'ironlb-system', description: 'namespace of the speaker Leases and the config ConfigMap' },
  'config-map': { type: 'string', default: 'config', description: 'name of the config ConfigMap (key "config")' },
  'lb-class': { type: 'string', default: defaultLoadBalancerClass, description: 'Services with another spec.loadBalancerClass are left alone' },
  liveness: {
    type: 'string',
    default: 'split',
    choices: ['lease', 'split'],
    description: 'split: membership Lease written on change, heartbeat every --heartbeat-renew, standbys probe their owners on the LAN and reap (docs/election.md "1,000 nodes"); lease: every speaker renews its Lease each --lease-renew and watches all (tens of nodes; needed with --no-announce, which sends no probes). Nodes may differ while a DaemonSet rolls from one to the other',
  },
  'heartbeat-renew': { type: 'number', default: 10, min: 0.1, description: 'split: seconds between renewals of the heartbeat Lease' },
  'heartbeat-duration': { type: 'number', default: 40, min: 1, description: 'split: seconds a heartbeat counts without renewal (self-fence after an API partition)' },
  'standby-probe-interval': { type: 'number', default: 0.5, min: 0.05, description: 'split: seconds between probe rounds a standby sends its owner' },
  'standby-probe-misses': { type: 'number', default: 3, min: 1, description: 'split: unanswered rounds in a row before a standby reaps its owner' },
  'lease-renew': { type: 'number', default: 1, min: 0.1, description: 'lease: seconds between renewals of this node Lease (1 PUT each)' },
  'lease-duration': { type: 'number', default: 3, min: 1, description: 'lease: seconds a Lease counts as alive without renewal (failover time after a crash)' },
  'hold-down': { type: 'number', default: 10, min: 0, description: 'seconds a rejoining node must be up before it may take over IPs (docs/election.md)' },
  interfaces: { type: 'strings', description: 'only announce on these interfaces (repeatable; globs like eth* allowed)' },
  'ignore-exclude-label': { type: 'boolean', description: 'ignore node.kubernetes.io/exclude-from-external-load-balancers (single-node clusters)' },
  'no-announce': { type: 'boolean', description: 'elect and keep the Lease, but send and answer nothing (no CAP_NET_RAW needed)' },
  'reannounce-interval': { type: 'number', default: 60, min: 0, description: 'seconds between gratuitous re-announcements while owning (MetalLB #2910)' },
  'no-probe': { type: 'boolean', description: 'announce an address at once, without first probing that no other host uses it (RFC 5227)' },
  'conflict-reprobe': { type: 'number', default: 30, min: 1, description: 'seconds between probes of an address another host answers for (the quarantine lifts after a clear one)' },
  'self-check-interval': { type: 'number', default: 60, min: 0, description: 'seconds between probes of owned addresses, counting other answerers (0: never)' },
  'metrics-port': { type: 'number', default: 7473, min: 0, max: 65535, description: 'port of /metrics, /healthz, /readyz (0: any free port)' },
  'metrics-host': { type: 'string', default: '0.0.0.0', description: 'address the metrics server listens on' },
} as const;

type SpeakerFlags = Flags<typeof flagSpec>;

/** After SIGTERM, give up waiting for parts still settling (a hung API request) after this long: exit within 2 s. */
const shutdownBudgetMs = 1500;

function checkFlags(flags: SpeakerFlags): string {
  const node = flags['node-name'];
  if (node === undefined || node === '') throw new UsageError('--node-name: required (or IRONLB_NODE_NAME)');
  if (flags['lease-renew'] >= flags['lease-duration']) {
    throw new UsageError(`--lease-renew: ${flags['lease-renew']} s must be shorter than --lease-duration ${flags['lease-duration']} s`);
  }
  if (flags['heartbeat-renew'] >= flags['heartbeat-duration']) {
    throw new UsageError(`--heartbeat-renew: ${flags['heartbeat-renew']} s must be shorter than --heartbeat-duration ${flags['heartbeat-duration']} s`);
  }
  return node;
}

const silentAnnouncer: AnnouncerPort & { run(signal: AbortSignal): Promise<void> } = {
  setOwned: () => ok(undefined),
  // Sends nothing, so sees nobody: every address is clear.
  probe: () => Promise.resolve({ kind: 'clear' }),
  defend: () => undefined,
  run: async () => Promise.resolve(),
};

/** `ironlb speaker --node-name NODE`: node Lease, election, layer2 announcements. */
export const speakerCommand: CommandRunner = {
  async run(ctx) {
    const { flags } = readFlags(flagSpec, ctx.argv, ctx.env);
    if (flags.help) return printUsage(ctx.stdout, 'ironlb speaker --node-name NODE [flags]', flagSpec);
    const node = checkFlags(flags) as NodeName;
    const logger = ctx.makeLogger(flags['log-level'], flags['log-format']).child({ node });
    // The speaker's small client, not client-node: it runs on every node (docs/speaker.md, "Memory").
    const rest = createKubeRest(loadKubeEndpoint({ kubeconfigPath: flags.kubeconfig, env: ctx.env }));
    await runSpeaker(flags, node, rest, logger, ctx.signal);
    return exitCode.ok;
  },
};

function createSpeakerAnnouncer(flags: SpeakerFlags, deps: Pick<AnnouncerDeps, 'conns' | 'interfaces' | 'metrics' | 'logger' | 'onConflict'>): Announcer {
  const { conns, interfaces, metrics, logger, onConflict } = deps;
  const offloads = layer2Offloads(flags['layer2-mode'], metrics, logger);
  return createAnnouncer({
    conns,
    interfaces,
    clock: systemClock,
    logger,
    metrics,
    policy: { patterns: flags.interfaces, explicit: false },
    timing: { ...defaultTiming, reannounceMs: flags['reannounce-interval'] * 1000 },
    fastPath: true,
    onConflict,
    ...(offloads === undefined ? {} : { offloads }),
  });
}

/** The errno code (`EPERM`) an AppError's cause carries, if any. */
function errnoOf(e: AppError): string | undefined {
  const cause: unknown = e.cause;
  return typeof cause === 'object' && cause !== null && 'code' in cause && typeof cause.code === 'string' ? cause.code : undefined;
}

/** One packet socket opened and closed, as a Result (cli/ turns sys/'s AppError into the speaker's terms). */
function tryPacketSocket(): Result<void, PacketSocketRefusal> {
  try {
    checkPacketCapability();
    return ok(undefined);
  } catch (e: unknown) {
    if (e instanceof AppError && e.code === 'ERR_NO_CAP_NET_RAW') return err({ kind: 'noCapability', detail: errnoOf(e) ?? 'EPERM' });
    return err({ kind: 'failed', detail: describeError(e) });
  }
}

/** What the speaker's parts share once it is past its packet sockets. */
interface SpeakerBase {
  readonly registry: Registry;
  readonly metrics: SpeakerMetrics;
  readonly readiness: SpeakerReadiness;
  /** The metrics/health server, already serving. */
  readonly serving: Promise<void>;
  readonly running: AbortController;
  readonly late: { speaker?: Speaker };
}

/**
 * The speaker: its /healthz, /readyz and /metrics serve from the start; nothing else runs until
 * packet sockets open (speaker/packet-sockets.ts), so a speaker without CAP_NET_RAW is running
 * but not ready, says why, and never takes a Lease.
 */
async function runSpeaker(flags: SpeakerFlags, node: NodeName, rest: KubeRest, logger: Logger, stop: AbortSignal): Promise<void> {
  const registry = createRegistry();
  const metrics = createSpeakerMetrics(registry);
  const readiness = createSpeakerReadiness({ registry, logger });
  readiness.fail('cachesNotSynced', 'caches not synced');
  const running = new AbortController();
  // Every long-lived part (informers, Leases, loops, servers) listens for the stop: more than
  // Node's default of 10 with --liveness split, which is not a leak.
  setMaxListeners(32, running.signal);
  // Late-bound: the announcer, the Lease and the informers call into the speaker, which needs them.
  const late: { speaker?: Speaker } = {};
  // SIGTERM: stop answering first (synchronously), then everything else stops and the Lease is released.
  const onStop = (): void => {
    late.speaker?.silence();
    running.abort();
  };
  if (stop.aborted) onStop();
  else stop.addEventListener('abort', onStop, { once: true });
  const obs = createObsServer({ registry, logger, host: flags['metrics-host'], port: flags['metrics-port'], health: readiness });
  // A server that fails (the port taken, say) stops the speaker, then the error is reported.
  const serving = obs.run(running.signal).catch((e: unknown) => { onStop(); throw e; });
  // Awaited below (after the gate, or among the parts); handled now so a failure while waiting
  // for packet sockets is not an unhandled rejection.
  serving.catch(() => undefined);
  const gate = { tryOpen: tryPacketSocket, readiness, clock: systemClock, logger, backoff: packetSocketBackoff, random: Math.random };
  if (flags['no-announce'] || (await waitForPacketSockets(gate, running.signal))) {
    await runSpeakerParts(flags, node, rest, logger, { registry, metrics, readiness, serving, running, late });
  } else await serving;
  stop.removeEventListener('abort', onStop);
  logger.info({ event: 'speakerStopped' }, 'speaker stopped');
}

async function runSpeakerParts(flags: SpeakerFlags, node: NodeName, rest: KubeRest, logger: Logger, base: SpeakerBase): Promise<void> {
  const clock = systemClock;
  const { registry, metrics, readiness, running, late } = base;
  const interfaces = watchedInterfaces(createSystemInterfaceSource(), readiness);
  const conns = flags['no-announce'] ? undefined : watchedConns(createAfPacketConns(), readiness);
  const announcer =
    conns === undefined
      ? silentAnnouncer
      : createSpeakerAnnouncer(flags, {
          conns,
          interfaces,
          metrics: createLayer2Metrics(registry),
          logger,
          // The responder's `conflict` drops: the split-brain guard (docs/speaker.md).
          onConflict: (ip, mac, iface) => {
            late.speaker?.conflict(ip, mac, iface);
          },
        });
  const writer = restLeaseWriter(rest, flags.namespace);
  const liveness = livenessLeases(flags, node, writer, logger, {
    renewal: (result) => { metrics.leaseRenewals.inc({ result }); },
    onAlive: () => late.speaker?.changed(),
  });
  const membership = liveness.membership;
  // What this node can announce on, for peers' elections (docs/election.md, "Reach"). A speaker
  // that sends nothing announces on no interface and publishes none: peers count it as before
  // (reaching everything), and a sandbox without root, whose speakers share the host's
  // interfaces, is not told that no node is on its LAN.
  const publisher = conns === undefined ? undefined : createInterfacesPublisher({
    source: interfaces,
    patterns: flags.interfaces,
    publish: (value) => { membership.setAnnotation(interfacesAnnotation, value); },
    clock,
    logger,
  });
  const watch = createSpeakerWatch({
    rest,
    namespace: flags.namespace,
    configMap: flags['config-map'],
    lbClass: flags['lb-class'],
    clock,
    logger,
    onLease: (lease) => late.speaker?.observeLease(lease),
    onLeaseDeleted: (n) => late.speaker?.forgetLease(n),
    onChange: () => late.speaker?.changed(),
    onConfigStale: (stale) => { metrics.configStale.set(stale ? 1 : 0); },
  });
  // A speaker that sends nothing cannot probe: its rounds say nothing (never a miss), the heartbeat alone counts.
  const prober: Pick<AnnouncerPort, 'probe'> = conns === undefined ? { probe: () => Promise.resolve({ kind: 'noInterface' }) } : announcer;
  const standby = createStandby(flags, node, liveness.split, { prober, rest, writer, watch, metrics, logger });
  const events = createEventRecorder({ core: restEventApi(rest), clock, logger, component: 'ironlb-speaker', instance: node });
  const speaker = createSpeaker({
    self: node,
    inputs: watch,
    announcer,
    membership: liveness.port,
    events,
    metrics,
    clock,
    logger,
    ...standby.deps,
    options: {
      ...standby.options,
      ignoreExcludeLabel: flags['ignore-exclude-label'],
      holdDownMs: flags['hold-down'] * 1000,
      conflicts: { reprobeMs: flags['conflict-reprobe'] * 1000, selfCheckMs: flags['self-check-interval'] * 1000, probeFirst: !flags['no-probe'] },
    },
  });
  late.speaker = speaker;
  // Stopped before it began (SIGTERM while the sockets were refused and then allowed).
  if (running.signal.aborted) speaker.silence();
  const onStop = (): void => {
    speaker.silence();
    running.abort();
  };
  void watch.synced.then(() => { readiness.clear('cachesNotSynced'); }, () => undefined);
  logger.info({ event: 'speakerStarting', lease: leaseNameOf(node), namespace: flags.namespace, announce: conns !== undefined }, 'speaker starting');
  // Before the first Lease write, so peers never see this node without its interfaces.
  await publisher?.refresh();
  const parts = [
    publisher?.run(running.signal) ?? Promise.resolve(),
    watch.run(running.signal),
    liveness.run(running.signal),
    standby.run(running.signal),
    speaker.run(running.signal, watch.synced),
    announcer.run(running.signal),
    events.run(running.signal),
    base.serving,
  ];
  // A part that fails (the metrics port taken, say) stops the others, then the error is reported.
  const all = Promise.all(parts.map(async (part) => part.catch((e: unknown) => { onStop(); throw e; })));
  await Promise.race([all, new Promise<void>((resolve) => { running.signal.addEventListener('abort', () => { resolve(); }, { once: true }); })]);
  // Once stopping, wait for a clean stop, but not past the budget.
  await Promise.race([all, clock.sleep(shutdownBudgetMs)]);
}

/** The Leases that keep this node a member: one renewed Lease, or (split) a membership Lease written on change and a heartbeat. */
interface LivenessLeases {
  readonly split: boolean;
  readonly membership: NodeLease;
  /** What the speaker loop reads of them. */
  readonly port: MembershipPort;
  /** Renews them until `signal` aborts, then releases them. */
  run(signal: AbortSignal): Promise<void>;
}

function livenessLeases(flags: SpeakerFlags, node: NodeName, writer: LeaseWriter, logger: Logger, hooks: { renewal: NodeLeaseMetrics['renewal']; onAlive: () => void }): LivenessLeases {
  const clock = systemClock;
  const common = { writer, identity: node, clock, logger, metrics: { renewal: hooks.renewal }, onAlive: hooks.onAlive };
  if (flags.liveness !== 'split') {
    // Labelled `renewed`: a Lease this node once wrote in split mode keeps its labels otherwise, and would read as a membership Lease.
    const labels = { [leaseRoleLabel]: renewedLeaseRole };
    const membership = new NodeLease({ ...common, name: leaseNameOf(node), durationMs: flags['lease-duration'] * 1000, renewMs: flags['lease-renew'] * 1000, recordAnnotation: announcingAnnotation, labels });
    return { split: false, membership, port: membership, run: async (signal) => membership.run(signal) };
  }
  const heartbeat = new NodeLease({
    ...common,
    name: `${heartbeatLeasePrefix}${node}`,
    durationMs: flags['heartbeat-duration'] * 1000,
    renewMs: flags['heartbeat-renew'] * 1000,
    labels: { [leaseRoleLabel]: 'heartbeat', [leaseNodeLabel]: node },
  });
  // Up without a gap while the heartbeat is: the membership Lease keeps its acquireTime.
  const continuous = (start: number): boolean => start < (heartbeat.aliveUntil() ?? Number.NEGATIVE_INFINITY);
  const membership = new NodeLease({
    ...common,
    name: leaseNameOf(node),
    // Written on change (record, settling, rejoin); the hourly write only re-asserts it. Its
    // declared duration covers two of those, so a speaker that judges every Lease by its
    // renewals (a `lease`-mode speaker from before modes could be mixed) also sees a member
    // while it is held, as split speakers do (docs/election.md, "Mixed modes").
    durationMs: membershipDurationMs,
    requestTimeoutMs: flags['heartbeat-duration'] * 1000,
    renewMs: membershipRewriteMs,
    // A write that failed (the API unreachable at a reap or a record change) is tried again soon, not in an hour.
    retryMs: 1000,
    recordAnnotation: announcingAnnotation,
    labels: { [leaseRoleLabel]: membershipLeaseRole },
    continuous,
  });
  const port: MembershipPort = {
    // Alive while the heartbeat is (the self-fence) and once the membership Lease is ours.
    aliveUntil: () => (membership.storedVersion() === undefined ? undefined : heartbeat.aliveUntil()),
    setRecord: (ips) => { membership.setRecord(ips); },
    setAnnotation: (key, value) => { membership.setAnnotation(key, value); },
    touch: () => { membership.touch(); },
    echoed: (lease) => { membership.echoed(lease); },
  };
  return { split: true, membership, port, run: async (signal) => { await Promise.all([membership.run(signal), heartbeat.run(signal)]); } };
}

/** Split liveness: the membership Lease is written at least this often (a re-assertion, 1,000 nodes cost 0.3 writes/s). */
const membershipRewriteMs = 3_600_000;
/** Split liveness: the duration the membership Lease declares, two re-assertions (see livenessLeases). */
const membershipDurationMs = 2 * membershipRewriteMs;

interface StandbyParts {
  readonly prober: Pick<AnnouncerPort, 'probe'>;
  readonly rest: KubeRest;
  readonly writer: LeaseWriter;
  readonly watch: SpeakerWatch;
  readonly metrics: SpeakerMetrics;
  readonly logger: Logger;
}

/** The standby loop (both modes: a lease-mode node stands by for split owners while modes are mixed) and, in split mode, the option. */
interface StandbyWiring {
  readonly deps: { readonly standby?: StandbyLoop };
  readonly options: { readonly split?: { readonly standbyCount: number } };
  run(signal: AbortSignal): Promise<void>;
}

/**
 * The standby loop and its scoped heartbeat watch. It runs in lease mode too: while the cluster
 * switches modes node by node, a lease-mode node may be named standby of a split owner, and
 * nobody else would check that owner. In a cluster that is all lease it has no duties, watches
 * nothing and sends nothing.
 */
function createStandby(flags: SpeakerFlags, node: NodeName, split: boolean, parts: StandbyParts): StandbyWiring {
  const late: { loop?: StandbyLoop } = {};
  const heartbeats = createHeartbeatWatch({
    rest: parts.rest,
    namespace: flags.namespace,
    clock: systemClock,
    logger: parts.logger,
    onHeartbeat: (lease) => late.loop?.observeHeartbeat(lease),
    onHeartbeatDeleted: (n) => late.loop?.forgetHeartbeat(n),
  });
  const loop = createStandbyLoop({
    self: node,
    prober: parts.prober,
    heartbeats,
    reaper: createMembershipReaper({ writer: parts.writer, cached: (name) => parts.watch.lease(name) }),
    clock: systemClock,
    logger: parts.logger,
    timing: { probeEveryMs: flags['standby-probe-interval'] * 1000, missesToReap: flags['standby-probe-misses'] },
    metrics: parts.metrics,
  });
  late.loop = loop;
  return {
    deps: { standby: loop },
    options: split ? { split: { standbyCount: defaultStandbyCount } } : {},
    run: async (signal) => { await Promise.all([loop.run(signal), heartbeats.run(signal)]); },
  };
}

/** The interface source, reporting whether the kernel's tables could be read to readiness. */
function watchedInterfaces(inner: InterfaceSource, readiness: SpeakerReadiness): InterfaceSource {
  return {
    async list() {
      try {
        const list = await inner.list();
        readiness.clear('interfacesUnreadable');
        return list;
      } catch (e: unknown) {
        readiness.fail('interfacesUnreadable', describeError(e));
        throw e;
      }
    },
  };
}

/** The packet socket factory, reporting sockets the kernel refused to readiness. */
function watchedConns(inner: PacketConnFactory, readiness: SpeakerReadiness): PacketConnFactory {
  return {
    ...inner,
    open(iface, kind, onFrames) {
      try {
        const conn = inner.open(iface, kind, onFrames);
        readiness.clear('packetSocketsFailed');
        return conn;
      } catch (e: unknown) {
        readiness.fail('packetSocketsFailed', `opening a ${kind} packet socket on ${iface.name} failed: ${describeError(e)}`);
        throw e;
      }
    },
  };
}
