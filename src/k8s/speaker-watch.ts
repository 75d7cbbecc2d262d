import type * as k8s from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import { configText, keepLastGoodConfig, type ConfigOutcome } from '../config/config-map.js';
import type { NodeView } from '../election/views.js';
import type { NodeName } from '../shared/brand.js';
import type { BackoffPolicy } from '../shared/backoff.js';
import type { Clock } from '../shared/clock.js';
import type { SpeakerLeaseView } from '../speaker/lease-view.js';
import type { ServiceRecord, SpeakerInputs } from '../speaker/speaker.js';
import { leaseRoleLabel } from '../speaker/standby.js';
import { createInformer, type Informer, type ListWatchSource } from './informer.js';
import type { KubeRest } from './kube-rest.js';
import { restListWatch, type Keyed, type Projection } from './rest-list-watch.js';
import { projectNode, projectService, projectSlice, toServiceRecords, toSpeakerLeaseView } from './speaker-views.js';

export interface SpeakerWatchDeps {
  /** The speaker's small client (kube-rest.ts): no client-node at run time. */
  readonly rest: KubeRest;
  /** Where the speaker Leases and the config ConfigMap live (ironlb-system). */
  readonly namespace: string;
  /** The ConfigMap name (`config`, key `config`). */
  readonly configMap: string;
  readonly lbClass: string;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Speaker Lease events, at the local time they arrive. */
  readonly onLease: (lease: SpeakerLeaseView) => void;
  readonly onLeaseDeleted: (node: NodeName) => void;
  /** Anything else changed (Services, EndpointSlices, Nodes, the config). */
  readonly onChange: () => void;
  /** Whether the ConfigMap currently holds an invalid config (the last good one stays in force). */
  readonly onConfigStale?: (stale: boolean) => void;
}

const speakerWatchBackoff: BackoffPolicy = { baseMs: 100, maxMs: 5000, jitter: 0.2 };

/** The speaker's informers: Services, EndpointSlices, Nodes, Leases and the config ConfigMap. */
export interface SpeakerWatch extends SpeakerInputs {
  /** Resolves once every informer has listed (and the config was read, if it exists). */
  readonly synced: Promise<void>;
  /** A membership Lease as last delivered (the reaper's resourceVersion and body). */
  lease(name: string): k8s.V1Lease | undefined;
  hasSynced(): boolean;
  run(signal: AbortSignal): Promise<void>;
}

/** Creates the informers; nothing is requested until `run`. */
export function createSpeakerWatch(deps: SpeakerWatchDeps): SpeakerWatch {
  const log = deps.logger.child({ component: 'speaker-watch' });
  // Retry failed watches within 5 s at most (not the default 30 s): after an API outage a
  // speaker announces from a frozen view until its Lease watch is back (docs/speaker.md).
  const base = { logger: deps.logger, clock: deps.clock, backoff: speakerWatchBackoff };
  // Services, slices and Nodes are cached as projections (speaker-views.ts): only what election reads.
  const projected = <W extends k8s.KubernetesObject, T extends Keyed>(path: string, project: Projection<W, T>): { path: string; source: ListWatchSource<T> } => ({
    path,
    source: restListWatch(deps.rest, path, {}, project),
  });
  const changed = (): void => { deps.onChange(); };
  let config: Config | undefined;
  /** The text of the config in force, and the last text seen (a repeat of it is not read again). */
  let inForce: string | undefined;
  let lastSeen: string | undefined;

  const readConfig = (cm: k8s.V1ConfigMap | undefined): void => {
    const text = configText(cm);
    if (text === lastSeen) return;
    lastSeen = text;
    const outcome = keepLastGoodConfig(text, inForce, { whenMissing: 'keep' });
    if (outcome.kind === 'loaded') inForce = text;
    report(outcome);
  };

  const report = (outcome: ConfigOutcome): void => {
    switch (outcome.kind) {
      case 'missing':
        log.warn({ event: 'configMissing', configMap: `${deps.namespace}/${deps.configMap}` }, 'no config: keeping the last good one');
        return;
      case 'invalid':
      case 'refused':
        deps.onConfigStale?.(true);
        log.error({ event: 'configInvalid', issues: outcome.kind === 'invalid' ? outcome.issues : [outcome.message] }, 'invalid config in the ConfigMap: keeping the last good one');
        return;
      case 'unchanged':
        deps.onConfigStale?.(false);
        return;
      case 'loaded':
        deps.onConfigStale?.(false);
        config = outcome.config;
        log.info({ event: 'configLoaded', pools: config.pools.map((p) => p.name) }, 'config loaded');
        changed();
    }
  };

  const services = createInformer({ ...base, ...projected('/api/v1/services', projectService), onChange: changed });
  const slices = createInformer({ ...base, ...projected('/apis/discovery.k8s.io/v1/endpointslices', projectSlice), onChange: changed });
  const nodes = createInformer({ ...base, ...projected('/api/v1/nodes', projectNode), onChange: changed });
  const leases = createInformer<k8s.V1Lease>({
    ...base,
    // Heartbeats are watched apart, by the few that need them (heartbeat-watch.ts); Leases
    // without the label (an older speaker's, the controller's) still come.
    path: `/apis/coordination.k8s.io/v1/namespaces/${deps.namespace}/leases`,
    source: restListWatch<k8s.V1Lease>(deps.rest, `/apis/coordination.k8s.io/v1/namespaces/${deps.namespace}/leases`, { labelSelector: `${leaseRoleLabel}!=heartbeat` }),
    onHealthChange: changed,
    onChange: (kind, lease) => {
      const view = toSpeakerLeaseView(lease);
      if (view === undefined) return;
      if (kind === 'delete') deps.onLeaseDeleted(view.node);
      else deps.onLease(view);
    },
  });
  const configMapPath = `/api/v1/namespaces/${deps.namespace}/configmaps`;
  const configMaps: Informer<k8s.V1ConfigMap> = createInformer<k8s.V1ConfigMap>({
    ...base,
    path: configMapPath,
    source: restListWatch<k8s.V1ConfigMap>(deps.rest, configMapPath, { fieldSelector: `metadata.name=${deps.configMap}` }),
    onChange: (kind, cm) => {
      if (cm.metadata?.name !== deps.configMap) return;
      readConfig(kind === 'delete' ? undefined : cm);
    },
  });
  const all: readonly Informer<unknown>[] = [services, slices, nodes, leases, configMaps];
  const synced = Promise.all(all.map((i) => i.synced)).then(() => undefined);

  return {
    synced,
    lease: (name) => leases.get(name, deps.namespace),
    hasSynced: () => all.every((i) => i.hasSynced()),
    services: (): readonly ServiceRecord[] => toServiceRecords(services.list(), slices.list(), deps.lbClass),
    nodes: (): readonly NodeView[] => nodes.list().map((n) => n.view),
    config: () => config,
    leaseViewLostAt: () => leases.lostAt(),
    async run(signal) {
      await Promise.all(all.map((i) => i.run(signal)));
    },
  };
}
