import type { Logger } from 'pino';
import { emptyConfig } from '../config/config.js';
import { Allocator } from '../ipam/allocator.js';
import { configText, type ConfigMapView } from '../config/config-map.js';
import { ingressIps, isOurs, serviceKeyOf, serviceRef, serviceVersion, type ServiceView } from '../service/service.js';
import { toRestoreRequest } from '../service/service-request.js';
import type { ServiceKey } from '../shared/brand.js';
import type { Clock } from '../shared/clock.js';
import type { ObjectRef } from '../shared/event-sink.js';
import type { SyncResult } from '../shared/sync-result.js';
import { createWorkQueue, type WorkQueue } from '../shared/work-queue.js';
import { applyConfig } from './config-decision.js';
import { decideDeleted, decideService, type EventIntent, type ServiceDecision } from './decide.js';
import type { ControllerMetrics } from './metrics.js';
import type { EventRecorder, LeaderRunner, OpenConfigMap, OpenServices, OpenSpeakerLeases, StatusWriteOutcome, StatusWriter } from './ports.js';
import { quarantinedAddresses, reassignedMessage, type Quarantined } from './quarantine.js';

/** What the controller is built from: its ports (`ports.ts`, implemented in `k8s/`) and settings. */
export interface ControllerDeps {
  readonly openServices: OpenServices;
  readonly openConfigMap: OpenConfigMap;
  /** The speakers' Leases, for the quarantine; absent: nothing is ever quarantined. */
  readonly openSpeakerLeases?: OpenSpeakerLeases;
  readonly status: StatusWriter;
  readonly events: EventRecorder;
  readonly leader: LeaderRunner;
  readonly metrics: ControllerMetrics;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly random: () => number;
  readonly namespace: string;
  readonly configName: string;
  readonly lbClass: string;
  /** Workers processing keys at once (status writes overlap; decisions stay sequential). */
  readonly concurrency?: number;
}

/** The controller as `ironlb controller` runs it. */
export interface Controller {
  /** Runs until `signal` aborts; informers keep running on standby replicas, so a takeover is quick. */
  run(signal: AbortSignal): Promise<void>;
  /** undefined when ready (caches synced and the config parses), else why not: for /readyz. */
  notReadyReason(): string | undefined;
}

/** The work-queue key of the config; Service keys always contain a '/'. */
const configQueueKey = 'config';
/** The work-queue key of the quarantine (docs/controller.md "Quarantine"). */
const quarantineQueueKey = 'quarantine';
type QueueKey = ServiceKey | typeof configQueueKey | typeof quarantineQueueKey;

/** One leadership term: state rebuilt from the API every time this replica becomes leader. */
interface Term {
  readonly allocator: Allocator;
  readonly queue: WorkQueue<QueueKey>;
  readonly signal: AbortSignal;
  /** The config text in force, once one was loaded in this term. */
  configInForce: string | undefined;
  /** Last AllocationFailed message per Service, so a retry does not repeat the Event. */
  readonly failures: Map<ServiceKey, string>;
  /** The last config problem reported, so a resync does not repeat the Event. */
  lastConfigProblem: string | undefined;
  /** ip text -> quarantined address, as last applied to the allocator. */
  quarantine: ReadonlyMap<string, Quarantined>;
}

/**
 * Creates the controller (docs/controller.md): informers on Services and the config ConfigMap; while
 * leader, restores every assignment from Service status before allocating anything, then
 * reconciles Services through one keyed work queue and writes their ingress status.
 */
export function createController(deps: ControllerDeps): Controller {
  const log = deps.logger.child({ component: 'controller' });
  let term: Term | undefined;
  let configParses = false;
  const services = deps.openServices((svc) => term?.queue.add(serviceKeyOf(svc)));
  const leases = deps.openSpeakerLeases?.(() => term?.queue.add(quarantineQueueKey));
  const configMap = deps.openConfigMap(() => {
    configParses = applyConfig(new Allocator(emptyConfig), configText(currentConfigMap()), undefined).kind !== 'invalid';
    term?.queue.add(configQueueKey);
  });

  function currentConfigMap(): ConfigMapView | undefined {
    return configMap.get(deps.configName, deps.namespace);
  }

  const emit = (svc: ServiceView, e: EventIntent): void => {
    deps.events.emit(serviceRef(svc), e.type, e.reason, e.message);
  };

  const configRef = (): ObjectRef => {
    const uid = currentConfigMap()?.metadata?.uid;
    return { apiVersion: 'v1', kind: 'ConfigMap', namespace: deps.namespace, name: deps.configName, ...(uid === undefined ? {} : { uid }) };
  };

  /** Restores every assignment from status (older Services win), before anything new is assigned. */
  function restore(t: Term): void {
    const ours = services.list().filter((s) => isOurs(s, deps.lbClass) && ingressIps(s).length > 0);
    const outcomes = t.allocator.restore(ours.map((s) => ({ request: toRestoreRequest(s), ips: ingressIps(s) })));
    // key -> Service, for the rare rejected claim (a search per outcome was quadratic: 10,000 Services at start).
    const byKey = new Map(ours.map((s) => [serviceKeyOf(s), s]));
    for (const o of outcomes) {
      const svc = byKey.get(o.key);
      for (const r of o.rejected) {
        log.warn({ event: 'restoreRejected', service: o.key, reason: r.error.message }, 'an IP in status could not be restored');
        if (svc !== undefined) emit(svc, { type: 'Warning', reason: 'AllocationFailed', message: `IP from status not kept: ${r.error.message}` });
      }
    }
    log.info({ event: 'assignmentsRestored', services: outcomes.length }, 'restored assignments from Service status');
  }

  function reportConfigProblem(t: Term, kind: 'ConfigInvalid' | 'ConfigRefused', message: string): void {
    deps.metrics.configStale.set(1);
    if (t.lastConfigProblem === message) return;
    t.lastConfigProblem = message;
    log.error({ event: kind === 'ConfigInvalid' ? 'configInvalid' : 'configRefused', reason: message }, 'config not loaded; the last good config stays in force');
    deps.events.emit(configRef(), 'Warning', kind, message);
  }

  /**
   * No ConfigMap (or no `config` key) before any config was in force: load nothing. Loading "no
   * pools" here would restore no IP from status, and the config that arrives next would then
   * hand the Services new IPs; waiting keeps every IP across a restart. Requeued by the
   * ConfigMap informer when it appears.
   */
  function waitForConfig(t: Term): SyncResult {
    const message = `config ${deps.namespace}/${deps.configName} (key config) not found; waiting for it before assigning anything`;
    if (t.lastConfigProblem !== message) {
      t.lastConfigProblem = message;
      log.warn({ event: 'configMissing' }, message);
    }
    return 'giveUp';
  }

  function syncConfig(t: Term): SyncResult {
    const first = t.configInForce === undefined;
    const text = configText(currentConfigMap());
    if (first && text === undefined) return waitForConfig(t);
    const outcome = applyConfig(t.allocator, text, t.configInForce);
    switch (outcome.kind) {
      case 'missing': // not with whenMissing 'noPools'; waiting is the safe answer
        return waitForConfig(t);
      case 'unchanged':
        deps.metrics.configStale.set(0);
        return 'ok';
      case 'invalid':
        reportConfigProblem(t, 'ConfigInvalid', outcome.message);
        return 'giveUp';
      case 'refused':
        reportConfigProblem(t, 'ConfigRefused', outcome.message);
        return 'giveUp';
      case 'loaded':
        t.configInForce = text ?? '';
        t.lastConfigProblem = undefined;
        deps.metrics.configStale.set(0);
        deps.metrics.configLoaded.set(1);
        log.info({ event: 'configLoaded', pools: outcome.config.pools.map((p) => p.name) }, outcome.message);
        deps.events.emit(configRef(), 'Normal', 'ConfigLoaded', outcome.message);
        if (first) restore(t);
        deps.metrics.setPools(t.allocator.stats());
        return 'reprocessAll';
    }
  }

  async function write(t: Term, svc: ServiceView, key: ServiceKey, ips: readonly string[]): Promise<StatusWriteOutcome | 'stopped'> {
    // Leadership lost: not one more write.
    if (t.signal.aborted) return 'stopped';
    const outcome = await deps.status.writeIngress(serviceVersion(svc), ips);
    log.debug({ event: 'statusWritten', service: key, ips, outcome }, 'status write');
    return outcome;
  }

  /** An unservable Service: count it, and emit the Event only when the reason changed. */
  function failed(t: Term, key: ServiceKey, svc: ServiceView, decision: Extract<ServiceDecision, { kind: 'failed' }>): SyncResult {
    deps.metrics.allocationFailures.inc({ reason: decision.reason });
    if (t.failures.get(key) !== decision.event.message) {
      t.failures.set(key, decision.event.message);
      log.warn({ event: 'allocationFailed', service: key, reason: decision.event.message }, 'cannot give the Service an IP');
      emit(svc, decision.event);
    }
    // Retried when the config changes or another Service frees an address, not on a timer.
    return 'giveUp';
  }

  async function apply(t: Term, key: ServiceKey, svc: ServiceView, decision: ServiceDecision): Promise<SyncResult> {
    switch (decision.kind) {
      case 'none':
        t.failures.delete(key);
        return 'ok';
      case 'failed':
        return failed(t, key, svc, decision);
      case 'write': {
        const outcome = await write(t, svc, key, decision.ips);
        if (outcome === 'conflict') return 'retry';
        if (outcome !== 'written') return 'ok';
        t.failures.delete(key);
        log.info({ event: decision.ips.length === 0 ? 'ipReleased' : 'ipAllocated', service: key, ips: decision.ips }, decision.event?.message ?? 'status written');
        if (decision.event !== undefined) emit(svc, decision.event);
        return 'ok';
      }
    }
  }

  /** Requeues Services waiting for an address, a port or a sharing key that `changed` may have freed. */
  function retryWaiting(t: Term, changed: ServiceKey): void {
    for (const waiting of t.failures.keys()) if (waiting !== changed) t.queue.add(waiting);
  }

  /**
   * Applies the speakers' conflict reports: quarantined addresses leave the allocator's free
   * space, Services holding one they did not ask for are requeued (and get another), and a
   * lifted quarantine retries the Services waiting for an address.
   */
  function syncQuarantine(t: Term): SyncResult {
    const next = quarantinedAddresses(leases?.list() ?? []);
    const added = [...next.values()].filter((q) => !t.quarantine.has(q.text));
    const lifted = [...t.quarantine.keys()].filter((ip) => !next.has(ip));
    t.quarantine = next;
    if (added.length === 0 && lifted.length === 0) return 'ok';
    const moved = t.allocator.setBlocked([...next.values()].map((q) => q.ip));
    for (const q of added) log.warn({ event: 'addressQuarantined', ip: q.text, mac: q.mac, node: q.reporter, interface: q.iface }, 'another host answers for this address; not allocated until a speaker finds it free');
    for (const ip of lifted) log.info({ event: 'quarantineLifted', ip }, 'no other host answers for this address any more');
    deps.metrics.quarantined.reset();
    for (const ip of next.keys()) deps.metrics.quarantined.set({ ip }, 1);
    // Moved Services get another address; a lifted one may serve a Service that waits.
    for (const key of [...moved, ...(lifted.length > 0 ? t.failures.keys() : [])]) t.queue.add(key);
    deps.metrics.setPools(t.allocator.stats());
    return 'ok';
  }

  function heldTexts(t: Term, key: ServiceKey): readonly string[] {
    return t.allocator.assignmentOf(key)?.ips.map((i) => i.text) ?? [];
  }

  /** A Warning Event when a Service was moved off a quarantined address (once: the move happens once). */
  function reportMove(t: Term, svc: ServiceView, before: readonly string[], decision: ServiceDecision): void {
    if (decision.kind !== 'write' || decision.ips.length === 0) return;
    const from = before.map((ip) => t.quarantine.get(ip)).find((q) => q !== undefined && !decision.ips.includes(q.text));
    if (from === undefined) return;
    log.warn({ event: 'ipReassigned', service: serviceKeyOf(svc), from: from.text, to: decision.ips }, reassignedMessage(from, decision.ips));
    deps.events.emit(serviceRef(svc), 'Warning', 'AddressConflict', reassignedMessage(from, decision.ips));
  }

  async function syncService(t: Term, key: ServiceKey): Promise<SyncResult> {
    if (t.configInForce === undefined) return 'ok'; // reprocessed when a config loads
    const [namespace = '', name = ''] = key.split('/');
    const svc = services.get(name, namespace);
    const heldIps = heldTexts(t, key);
    const heldBefore = heldIps.length > 0;
    const decision = svc === undefined ? decideDeleted(t.allocator, key) : decideService(t.allocator, key, svc, deps.lbClass);
    // A Service that held IPs and was decided without a refusal may have freed an address, a
    // port or a sharing key that a waiting Service needs. A refused one changed nothing, which
    // also keeps two waiting holders from requeueing each other forever.
    if (heldBefore && decision.kind !== 'failed') retryWaiting(t, key);
    const result = svc === undefined ? (t.failures.delete(key), 'ok' as const) : await apply(t, key, svc, decision);
    if (result === 'ok' && svc !== undefined) reportMove(t, svc, heldIps, decision);
    deps.metrics.setPools(t.allocator.stats());
    return result;
  }

  async function handle(t: Term, key: QueueKey): Promise<SyncResult> {
    const timer = deps.metrics.reconcileSeconds.startTimer();
    let result: SyncResult = 'retry';
    try {
      result = key === configQueueKey ? syncConfig(t) : key === quarantineQueueKey ? syncQuarantine(t) : await syncService(t, key);
    } catch (e: unknown) {
      log.warn({ event: 'reconcileFailed', key, err: e }, 'reconcile failed; retrying with backoff');
    } finally {
      timer({ result });
      deps.metrics.queueDepth.set(t.queue.stats().depth);
    }
    return result;
  }

  async function lead(leaderSignal: AbortSignal): Promise<void> {
    deps.metrics.leader.set(1);
    const queue = createWorkQueue<QueueKey>({ clock: deps.clock, random: deps.random, listAllKeys: () => services.list().map(serviceKeyOf) });
    const t: Term = { allocator: new Allocator(emptyConfig), queue, signal: leaderSignal, configInForce: undefined, failures: new Map(), lastConfigProblem: undefined, quarantine: new Map() };
    term = t;
    queue.add(configQueueKey);
    if (leases !== undefined) queue.add(quarantineQueueKey);
    try {
      await queue.run(leaderSignal, (key) => handle(t, key), deps.concurrency ?? 4);
    } finally {
      if (term === t) term = undefined;
      deps.metrics.leader.set(0);
    }
  }

  return {
    notReadyReason() {
      if (!services.hasSynced() || !configMap.hasSynced() || leases?.hasSynced() === false) return 'caches not synced';
      return configParses ? undefined : `config ${deps.namespace}/${deps.configName} missing or invalid`;
    },
    async run(signal) {
      const running = [services.run(signal), configMap.run(signal), deps.events.run(signal), ...(leases === undefined ? [] : [leases.run(signal)])];
      await Promise.all([services.synced, configMap.synced, leases?.synced]);
      if (!signal.aborted) {
        log.info({ event: 'cachesSynced', services: services.list().length }, 'caches synced');
        await deps.leader.run(signal, lead);
      }
      await Promise.all(running);
    },
  };
}
