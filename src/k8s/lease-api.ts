import type * as k8s from '@kubernetes/client-node';
import { AppError } from '../shared/errors.js';
import { httpStatusOf, type KubeRest } from './kube-rest.js';

/**
 * The Lease calls ironlb makes, on one namespace: the one writer for leader election and node
 * membership. Answers carry the stored Lease (and so its new resourceVersion).
 */
export interface LeaseWriter {
  get(name: string): Promise<k8s.V1Lease | undefined>;
  /** The created Lease, or 'conflict' when it already exists (409). */
  create(lease: k8s.V1Lease): Promise<k8s.V1Lease | 'conflict'>;
  /** The stored Lease, or 'conflict' when metadata.resourceVersion is stale (409) or it is gone (404). */
  replace(lease: k8s.V1Lease): Promise<k8s.V1Lease | 'conflict'>;
}

const conflictOr = (e: unknown, statuses: readonly number[]): 'conflict' => {
  if (statuses.includes(httpStatusOf(e))) return 'conflict';
  throw e;
};

/** A LeaseWriter over client-node's CoordinationV1Api (the controller's leader election). */
export function leaseWriter(api: k8s.CoordinationV1Api, namespace: string): LeaseWriter {
  return {
    async get(name) {
      try {
        return await api.readNamespacedLease({ name, namespace });
      } catch (e: unknown) {
        if (httpStatusOf(e) === 404) return undefined;
        throw e;
      }
    },
    async create(lease) {
      try {
        return await api.createNamespacedLease({ namespace, body: lease });
      } catch (e: unknown) {
        return conflictOr(e, [409]);
      }
    },
    async replace(lease) {
      try {
        return await api.replaceNamespacedLease({ name: lease.metadata?.name ?? '', namespace, body: lease });
      } catch (e: unknown) {
        return conflictOr(e, [409, 404]);
      }
    },
  };
}

/** A LeaseWriter over the speaker's small client (kube-rest.ts): the same calls, as plain JSON. */
export function restLeaseWriter(rest: KubeRest, namespace: string): LeaseWriter {
  const base = `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/leases`;
  const named = (name: string): string => `${base}/${encodeURIComponent(name)}`;
  return {
    async get(name) {
      try {
        return await rest.request<k8s.V1Lease>('GET', named(name));
      } catch (e: unknown) {
        if (httpStatusOf(e) === 404) return undefined;
        throw e;
      }
    },
    async create(lease) {
      try {
        return await rest.request<k8s.V1Lease>('POST', base, lease);
      } catch (e: unknown) {
        return conflictOr(e, [409]);
      }
    },
    async replace(lease) {
      try {
        return await rest.request<k8s.V1Lease>('PUT', named(lease.metadata?.name ?? ''), lease);
      } catch (e: unknown) {
        return conflictOr(e, [409, 404]);
      }
    },
  };
}

/** A Lease write that kept meeting a newer version (409 after a fresh read). */
export class LeaseConflictError extends AppError {
  constructor(name: string) {
    super('ERR_LEASE_CONFLICT', `the Lease kept changing under us (409): ${name}`);
  }
}

/** A Lease request given up: no answer in time, or the process is stopping. */
export class LeaseRequestAbandonedError extends AppError {
  constructor(message: string) {
    super('ERR_LEASE_ABANDONED', message);
  }
}

/** What a renewal writes, besides the Lease it renews. */
export interface Renewal {
  readonly name: string;
  readonly identity: string;
  readonly durationMs: number;
  /** Wall-clock time of the write (`renewTime`, and `acquireTime` when acquiring). */
  readonly now: Date;
  /**
   * Whether a Lease `identity` already holds keeps its `acquireTime`. The node Lease says no
   * after a gap in its renewals longer than the duration: peers saw it die (docs/election.md).
   */
  readonly continuous: boolean;
  /** Annotations set on the Lease (merged over the ones it has). */
  readonly annotations?: Readonly<Record<string, string>>;
  /** Labels set on the Lease (merged over the ones it has). */
  readonly labels?: Readonly<Record<string, string>>;
}

/**
 * The Lease `identity` writes to take or keep `current` (undefined: none exists yet). As in
 * client-go's leader election, `leaseTransitions` counts changes of holder, and `acquireTime`
 * moves when the holder changes (or, see `continuous`, comes back).
 */
export function renewedLease(current: k8s.V1Lease | undefined, r: Renewal): k8s.V1Lease {
  return { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: renewedMetadata(current, r), spec: renewedSpec(current, r) };
}

function renewedMetadata(current: k8s.V1Lease | undefined, r: Renewal): k8s.V1ObjectMeta {
  const metadata: k8s.V1ObjectMeta = { ...current?.metadata, name: r.name };
  if (r.annotations !== undefined) metadata.annotations = { ...current?.metadata?.annotations, ...r.annotations };
  if (r.labels !== undefined) metadata.labels = { ...current?.metadata?.labels, ...r.labels };
  return metadata;
}

function renewedSpec(current: k8s.V1Lease | undefined, r: Renewal): k8s.V1LeaseSpec {
  const spec = current?.spec ?? {};
  const holding = spec.holderIdentity === r.identity;
  const before = spec.leaseTransitions ?? 0;
  return {
    holderIdentity: r.identity,
    leaseDurationSeconds: Math.max(1, Math.ceil(r.durationMs / 1000)),
    acquireTime: holding && r.continuous ? (spec.acquireTime ?? r.now) : r.now,
    renewTime: r.now,
    leaseTransitions: holding || current === undefined ? before : before + 1,
  };
}
