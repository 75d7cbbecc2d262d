import { allocationError, type AllocationError } from './allocation-error.js';
import type { ServicePort, ServiceRequest } from './service-request.js';

/** One Service using an IP: its current request says which ports it uses there. */
export interface IpUser {
  readonly request: Pick<ServiceRequest, 'key' | 'ports'>;
}

/** What the sharing rules need to know of an IP in use. */
export interface SharedIpView {
  /** Canonical text, for messages. */
  readonly text: string;
  /** The key all its users share; undefined when its one user does not share. */
  readonly sharingKey: string | undefined;
  /** See {@link backendKey}; equal for all users. */
  readonly backendKey: string;
  /** The Services using it and their ports, in the order they arrived (usually one: an array, not a Map). */
  readonly users: readonly IpUser[];
}

/**
 * What must match for two sharing Services to land on the same nodes: with policy Local the
 * IP is announced only where the pods run, so both must select the same pods; a Local and a
 * Cluster Service never share (MetalLB's "backend key").
 */
export function backendKey(req: Pick<ServiceRequest, 'externalTrafficPolicy' | 'selector'>): string {
  if (req.externalTrafficPolicy === 'Cluster') return 'Cluster';
  const pairs = Object.entries(req.selector).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `Local:${pairs.map(([k, v]) => `${k}=${v}`).join(',')}`;
}

function portClash(ours: readonly ServicePort[], theirs: readonly ServicePort[]): ServicePort | undefined {
  return ours.find((p) => theirs.some((q) => q.port === p.port && q.protocol === p.protocol));
}

/**
 * Whether `req` may use `ip` alongside its current users: the same `allow-shared-ip` key,
 * the same backend key, and no (port, protocol) in common (TCP/53 and UDP/53 may share).
 * The request's own earlier entry among the users is ignored. Undefined means allowed.
 */
export function sharingRefusal(ip: SharedIpView, req: Pick<ServiceRequest, 'key' | 'sharingKey' | 'ports'>, reqBackend: string): AllocationError | undefined {
  for (const { request: { key: other, ports } } of ip.users) {
    if (other === req.key) continue;
    if (req.sharingKey === undefined || ip.sharingKey === undefined) return allocationError.ipInUse(ip.text, other);
    if (req.sharingKey !== ip.sharingKey) return allocationError.sharingKeyMismatch(ip.text, other, ip.sharingKey, req.sharingKey);
    if (reqBackend !== ip.backendKey) return allocationError.backendMismatch(ip.text, other);
    const clash = portClash(req.ports, ports);
    if (clash !== undefined) return allocationError.portConflict(ip.text, clash, other);
  }
  return undefined;
}
