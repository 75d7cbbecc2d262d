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
import type { EventRecorder, LeaderRunner, OpenConfigMap, OpenServices, StatusWriteOutcome, StatusWriter } from './ports.js';

/** What the controller is built from: its ports (`ports.ts`, implemented in `k8s/`) and settings. */
export interface ControllerDeps {
  readonly openServices: OpenServices;
  readonly openConfigMap: OpenConfigMap;
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
type QueueKey = ServiceKey | typeof configQueueKey;

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

  async function syncService(t: Term, key: ServiceKey): Promise<SyncResult> {
    if (t.configInForce === undefined) return 'ok'; // reprocessed when a config loads
    const [namespace = '', name = ''] = key.split('/');
    const svc = services.get(name, namespace);
    const heldBefore = t.allocator.assignmentOf(key) !== undefined;
    const decision = svc === undefined ? decideDeleted(t.allocator, key) : decideService(t.allocator, key, svc, deps.lbClass);
    // A Service that held IPs and was decided without a refusal may have freed an address, a
    // port or a sharing key that a waiting Service needs. A refused one changed nothing, which
    // also keeps two waiting holders from requeueing each other forever.
    if (heldBefore && decision.kind !== 'failed') retryWaiting(t, key);
    const result = svc === undefined ? (t.failures.delete(key), 'ok' as const) : await apply(t, key, svc, decision);
    deps.metrics.setPools(t.allocator.stats());
    return result;
  }

  async function handle(t: Term, key: QueueKey): Promise<SyncResult> {
    const timer = deps.metrics.reconcileSeconds.startTimer();
    let result: SyncResult = 'retry';
    try {
      result = key === configQueueKey ? syncConfig(t) : await syncService(t, key);
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
    const t: Term = { allocator: new Allocator(emptyConfig), queue, signal: leaderSignal, configInForce: undefined, failures: new Map(), lastConfigProblem: undefined };
    term = t;
    queue.add(configQueueKey);
    try {
      await queue.run(leaderSignal, (key) => handle(t, key), deps.concurrency ?? 4);
    } finally {
      if (term === t) term = undefined;
      deps.metrics.leader.set(0);
    }
  }

  return {
    notReadyReason() {
      if (!services.hasSynced() || !configMap.hasSynced()) return 'caches not synced';
      return configParses ? undefined : `config ${deps.namespace}/${deps.configName} missing or invalid`;
    },
    async run(signal) {
      const running = [services.run(signal), configMap.run(signal), deps.events.run(signal)];
      await Promise.all([services.synced, configMap.synced]);
      if (!signal.aborted) {
        log.info({ event: 'cachesSynced', services: services.list().length }, 'caches synced');
        await deps.leader.run(signal, lead);
      }
      await Promise.all(running);
    },
  };
}
