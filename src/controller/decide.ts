import type { Allocator } from '../ipam/allocator.js';
import { isForeign, isOurs, statusIps, type ServiceView } from '../service/service.js';
import { toServiceRequest } from '../service/service-request.js';
import type { ServiceKey } from '../shared/brand.js';

/** An Event the decision asks for. */
export interface EventIntent {
  readonly type: 'Normal' | 'Warning';
  readonly reason: 'IPAllocated' | 'AllocationFailed' | 'IPReleased';
  readonly message: string;
}

/**
 * What to do about one Service. The allocator has already been updated; the shell writes the
 * status (when `ips` is set) and emits the Event.
 * - `write`: set `status.loadBalancer.ingress` to `ips` (empty: clear it);
 * - `failed`: leave the status alone; `reason` is a stable label for metrics;
 * - `none`: nothing to write (already right, or not ours).
 */
export type ServiceDecision =
  | { readonly kind: 'write'; readonly ips: readonly string[]; readonly event: EventIntent | undefined }
  | { readonly kind: 'failed'; readonly reason: string; readonly event: EventIntent }
  | { readonly kind: 'none' };

const none: ServiceDecision = { kind: 'none' };

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** The Service was deleted: free its IPs. Nothing to write; an Event on a gone object helps nobody. */
export function decideDeleted(allocator: Allocator, key: ServiceKey): ServiceDecision {
  allocator.release(key);
  return none;
}

/**
 * Decides one Service: allocate or keep its IPs when it is ours, release and clear them when it
 * stopped being ours, leave foreign-class Services alone. Idempotent; safe on every resync.
 */
export function decideService(allocator: Allocator, key: ServiceKey, svc: ServiceView, lbClass: string): ServiceDecision {
  if (!isOurs(svc, lbClass)) return decideNotOurs(allocator, key, svc, lbClass);
  const req = toServiceRequest(svc);
  if (!req.ok) return { kind: 'failed', reason: req.error.kind, event: { type: 'Warning', reason: 'AllocationFailed', message: req.error.message } };
  const outcome = allocator.assign(req.value);
  if (!outcome.ok) {
    return { kind: 'failed', reason: outcome.error.kind, event: { type: 'Warning', reason: 'AllocationFailed', message: `Failed to allocate IP for "${key}": ${outcome.error.message}` } };
  }
  const ips = outcome.value.assignment.ips.map((i) => i.text);
  if (sameList(ips, statusIps(svc))) return none;
  const pools = [...new Set(outcome.value.assignment.ips.map((i) => i.pool))].join(', ');
  return { kind: 'write', ips, event: { type: 'Normal', reason: 'IPAllocated', message: `Assigned IP [${ips.join(' ')}] from pool ${pools}` } };
}

function decideNotOurs(allocator: Allocator, key: ServiceKey, svc: ServiceView, lbClass: string): ServiceDecision {
  const released = allocator.release(key);
  // Another implementation's Service: its status is not ours to touch.
  if (isForeign(svc, lbClass)) return none;
  const shown = statusIps(svc);
  if (shown.length === 0) return none;
  const ips = released?.ips.map((i) => i.text) ?? shown;
  return { kind: 'write', ips: [], event: { type: 'Normal', reason: 'IPReleased', message: `Released IP [${ips.join(' ')}]: the Service is no longer of type LoadBalancer` } };
}
