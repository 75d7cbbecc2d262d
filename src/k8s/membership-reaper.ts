import type * as k8s from '@kubernetes/client-node';
import type { NodeName } from '../shared/brand.js';
import { leaseNameOf } from '../speaker/lease-view.js';
import type { ReaperPort } from '../speaker/standby-loop.js';
import type { LeaseWriter } from './lease-api.js';

export interface MembershipReaperDeps {
  readonly writer: LeaseWriter;
  /** The membership Lease as the speaker's watch last delivered it. */
  readonly cached: (name: string) => k8s.V1Lease | undefined;
}

/**
 * Reaps a member (docs/election.md, "1,000 nodes"): replaces its membership Lease with no
 * holder, carrying the resourceVersion the standby judged. The API server's optimistic
 * concurrency is the arbiter: of several standbys one write wins, and a Lease that moved since
 * (the member renewed, rejoined or was reaped by another) answers 409: `moved`, judge again.
 * The record annotations stay: peers read them only while the holder is set.
 */
export function createMembershipReaper(deps: MembershipReaperDeps): ReaperPort {
  return {
    async reap(node: NodeName, version: string) {
      const lease = deps.cached(leaseNameOf(node));
      if (lease?.metadata?.resourceVersion !== version || (lease.spec?.holderIdentity ?? '') === '') return 'moved';
      const stored = await deps.writer.replace({ ...lease, metadata: { ...lease.metadata, resourceVersion: version }, spec: { ...lease.spec, holderIdentity: '' } });
      return stored === 'conflict' ? 'moved' : 'reaped';
    },
  };
}
