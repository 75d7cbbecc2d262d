import type { IpAddr, IpFamily } from '../ip/ip-addr.js';
import type { PoolName, ServiceKey } from '../shared/brand.js';

/** Transport protocols of a Service port; (port, protocol) is the unit of collision. */
export type PortProtocol = 'TCP' | 'UDP' | 'SCTP';

/** One port a Service exposes on its load-balancer IP. */
export interface ServicePort {
  readonly port: number;
  readonly protocol: PortProtocol;
}

/** `spec.externalTrafficPolicy`. */
export type TrafficPolicy = 'Cluster' | 'Local';
/** `spec.ipFamilyPolicy`. */
export type IpFamilyPolicy = 'SingleStack' | 'PreferDualStack' | 'RequireDualStack';

/**
 * Everything the allocator knows of a Service: a projection built at the edge (by
 * `toServiceRequest` in `service/service-request.ts`), so the allocator never sees Kubernetes types.
 */
export interface ServiceRequest {
  readonly key: ServiceKey;
  /** Creation time in ms since the epoch: when two Services claim one IP, the older wins. */
  readonly createdAt: number;
  /** Specific IPs asked for (annotation `loadBalancerIPs` or `spec.loadBalancerIP`), at most one per family. */
  readonly requestedIps: readonly IpAddr[];
  /** The pool asked for by annotation `address-pool`. */
  readonly requestedPool?: PoolName;
  /** The `allow-shared-ip` key: Services with the same key may share an IP. */
  readonly sharingKey?: string;
  readonly ports: readonly ServicePort[];
  readonly externalTrafficPolicy: TrafficPolicy;
  /** The pod selector; Services with policy Local share an IP only with the same selector. */
  readonly selector: Readonly<Record<string, string>>;
  /** `spec.ipFamilies` in order (primary first); empty when the API server set none. */
  readonly ipFamilies: readonly IpFamily[];
  readonly ipFamilyPolicy: IpFamilyPolicy;
}

