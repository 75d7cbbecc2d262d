import type { ConfigMapView } from '../config/config-map.js';
import type { ServiceVersion, ServiceView } from '../service/service.js';
import type { SpeakerLeaseView } from './quarantine.js';

/**
 * The controller's ports: everything it needs from the Kubernetes API, declared here and
 * implemented in `k8s/` (wired in `cli/controller.ts`), the way the speaker declares
 * `SpeakerInputs`. Tests hand the controller small fakes of these.
 */

/** A synced, watched cache of one kind of object (an informer). */
export interface ObjectCache<T> {
  list(): readonly T[];
  get(name: string, namespace?: string): T | undefined;
  /** True once the first list has completed and its watch opened. */
  hasSynced(): boolean;
  /** Resolves when synced (or when `run` stops before it ever synced). */
  readonly synced: Promise<void>;
  /** Lists, watches and restarts until `signal` aborts; settles when stopped. */
  run(signal: AbortSignal): Promise<void>;
}

/** The outcome of a status write: conflicts and vanished Services are expected, other failures throw. */
export type StatusWriteOutcome = 'written' | 'conflict' | 'notFound';

/** Writes `status.loadBalancer.ingress` on the Service version a decision was made on. */
export interface StatusWriter {
  writeIngress(svc: ServiceVersion, ips: readonly string[]): Promise<StatusWriteOutcome>;
}

/** Runs `lead` while this replica holds the leader Lease; `leaderSignal` aborts when it is lost. */
export interface LeaderRunner {
  run(signal: AbortSignal, lead: (leaderSignal: AbortSignal) => Promise<void>): Promise<void>;
}

export type { EventRecorder } from '../shared/event-sink.js';

/** Opens the Service informer (cluster-wide); `onChange` only enqueues. */
export type OpenServices = (onChange: (svc: ServiceView) => void) => ObjectCache<ServiceView>;

/** Opens the informer of the speakers' Leases in the namespace (their conflict reports); `onChange` only enqueues. */
export type OpenSpeakerLeases = (onChange: () => void) => ObjectCache<SpeakerLeaseView>;

/** Opens the informer of the one config ConfigMap; `onChange` only enqueues. */
export type OpenConfigMap = (onChange: () => void) => ObjectCache<ConfigMapView>;
