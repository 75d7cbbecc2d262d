import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { PoolStats } from '../ipam/allocator.js';

/** The controller's metrics (docs/controller.md), on the process's own registry. */
export interface ControllerMetrics {
  /** 1 while the config in the ConfigMap is not the one in force (invalid or refused). */
  readonly configStale: Gauge;
  /** 1 once a config has been loaded. */
  readonly configLoaded: Gauge;
  /** Per pool: addresses assigned to Services or quarantined (not free to give out). */
  readonly addressesInUse: Gauge<'pool'>;
  readonly addressesTotal: Gauge<'pool'>;
  readonly allocationFailures: Counter<'reason'>;
  readonly reconcileSeconds: Histogram<'result'>;
  readonly leader: Gauge;
  readonly queueDepth: Gauge;
  /** 1 per quarantined address (another host on the LAN answers for it). */
  readonly quarantined: Gauge<'ip'>;
  /** Sets the per-pool gauges from the allocator. */
  setPools(stats: readonly PoolStats[]): void;
}

export function createControllerMetrics(registry: Registry): ControllerMetrics {
  const registers = [registry];
  // A quarantined address counts as in use (docs/controller.md "Metrics"): total minus in use is
  // what can still be given out, the figure an admin plans capacity with.
  const addressesInUse = new Gauge({ name: 'ironlb_addresses_in_use', help: 'Addresses that cannot be given out, per pool: assigned to Services, or quarantined (another host on the LAN answers for them); total minus this is what is left', labelNames: ['pool'], registers });
  const addressesTotal = new Gauge({ name: 'ironlb_addresses_total', help: 'Usable addresses per pool (a /64 is about 1.8e19)', labelNames: ['pool'], registers });
  return {
    configStale: new Gauge({ name: 'ironlb_config_stale', help: '1 when the ConfigMap holds a config that is not in force (invalid or orphaning IPs)', registers }),
    configLoaded: new Gauge({ name: 'ironlb_config_loaded', help: '1 once a valid config has been loaded', registers }),
    addressesInUse,
    addressesTotal,
    allocationFailures: new Counter({ name: 'ironlb_allocation_failures_total', help: 'Services that could not be given an IP, by reason', labelNames: ['reason'], registers }),
    reconcileSeconds: new Histogram({
      name: 'ironlb_controller_reconcile_duration_seconds',
      help: 'Time to reconcile one Service or the config, including the status write',
      labelNames: ['result'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    leader: new Gauge({ name: 'ironlb_controller_leader', help: '1 while this replica holds the ironlb-controller Lease', registers }),
    queueDepth: new Gauge({ name: 'ironlb_controller_queue_depth', help: 'Keys waiting in the work queue', registers }),
    quarantined: new Gauge({ name: 'ironlb_addresses_quarantined', help: 'Addresses another host on the LAN answers for, kept out of allocation (1 per IP)', labelNames: ['ip'], registers }),
    setPools(stats) {
      addressesInUse.reset();
      addressesTotal.reset();
      for (const s of stats) {
        addressesInUse.set({ pool: s.pool }, s.inUse);
        addressesTotal.set({ pool: s.pool }, Number(s.total));
      }
    },
  };
}
