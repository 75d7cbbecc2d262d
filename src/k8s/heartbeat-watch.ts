import type * as k8s from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { LeaseObservation } from '../election/liveness.js';
import type { NodeName } from '../shared/brand.js';
import type { BackoffPolicy } from '../shared/backoff.js';
import type { Clock } from '../shared/clock.js';
import { heartbeatLeasePrefix, heartbeatSelector, leaseNodeLabel } from '../speaker/standby.js';
import type { HeartbeatWatchPort } from '../speaker/standby-loop.js';
import { createInformer, type Informer } from './informer.js';
import type { KubeRest } from './kube-rest.js';
import { restListWatch } from './rest-list-watch.js';

export interface HeartbeatWatchDeps {
  readonly rest: KubeRest;
  readonly namespace: string;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly backoff?: BackoffPolicy;
  readonly onHeartbeat: (lease: Omit<LeaseObservation, 'observedAt'>) => void;
  readonly onHeartbeatDeleted: (node: NodeName) => void;
}

/** The heartbeat watch: one label-scoped informer, replaced whenever the set of nodes changes. */
export interface HeartbeatWatch extends HeartbeatWatchPort {
  /** Runs the current informer (and its successors) until `signal` aborts. */
  run(signal: AbortSignal): Promise<void>;
}

/** A heartbeat Lease as the standby reads it, or undefined for another Lease. */
export function toHeartbeatObservation(lease: k8s.V1Lease): Omit<LeaseObservation, 'observedAt'> | undefined {
  const node = heartbeatNode(lease.metadata ?? {});
  if (node === '') return undefined;
  const spec = lease.spec ?? {};
  return {
    node: node as NodeName,
    version: lease.metadata?.resourceVersion ?? '',
    holderIdentity: spec.holderIdentity,
    leaseDurationSeconds: spec.leaseDurationSeconds,
  };
}

/** The node of a heartbeat Lease: its `ironlb.io/node` label, else its name; '' for neither. */
function heartbeatNode(metadata: k8s.V1ObjectMeta): string {
  const name = metadata.name ?? '';
  return metadata.labels?.[leaseNodeLabel] ?? (name.startsWith(heartbeatLeasePrefix) ? name.slice(heartbeatLeasePrefix.length) : '');
}

/**
 * Watches only the heartbeats a speaker needs (docs/election.md, "1,000 nodes": label selector
 * `ironlb.io/lease=heartbeat,ironlb.io/node in (...)`), so a renewal reaches its owner's standbys
 * and its standbys' owner, not every speaker. A new set stops the old watch and lists anew.
 */
export function createHeartbeatWatch(deps: HeartbeatWatchDeps): HeartbeatWatch {
  const path = `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(deps.namespace)}/leases`;
  let nodes: readonly NodeName[] = [];
  let current: { informer: Informer<k8s.V1Lease>; stop: AbortController; done: Promise<void> } | undefined;
  let runSignal: AbortSignal | undefined;
  // Replaces the informer; each waits for its predecessor to stop, and `run` awaits the last.
  const start = (): void => {
    const previous = current;
    previous?.stop.abort();
    current = undefined;
    if (runSignal === undefined || runSignal.aborted || nodes.length === 0) return;
    const informer = createInformer<k8s.V1Lease>({
      source: restListWatch<k8s.V1Lease>(deps.rest, path, { labelSelector: heartbeatSelector(nodes) }),
      path,
      logger: deps.logger,
      clock: deps.clock,
      ...(deps.backoff === undefined ? {} : { backoff: deps.backoff }),
      onChange: (kind, lease) => {
        const view = toHeartbeatObservation(lease);
        if (view === undefined) return;
        if (kind === 'delete') deps.onHeartbeatDeleted(view.node);
        else deps.onHeartbeat(view);
      },
    });
    const stop = new AbortController();
    const both = AbortSignal.any([runSignal, stop.signal]);
    const done = (previous?.done ?? Promise.resolve()).then(async () => informer.run(both));
    current = { informer, stop, done };
  };
  return {
    watch(next) {
      if (next.join(',') === nodes.join(',')) return;
      nodes = [...next];
      start();
    },
    lostAt: () => current?.informer.lostAt(),
    lastGap: () => current?.informer.lastGap(),
    async run(signal) {
      runSignal = signal;
      start();
      await new Promise<void>((resolve) => {
        if (signal.aborted) resolve();
        else signal.addEventListener('abort', () => { resolve(); }, { once: true });
      });
      await current?.done;
    },
  };
}
