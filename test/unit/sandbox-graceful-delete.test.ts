import { describe, expect, it } from 'vitest';
import { nodeLeaseLive, podDeletion, requestedGracePeriod } from '../../src/sandbox/apiserver/graceful-delete.js';
import type { JsonObject } from '../../src/sandbox/apiserver/object.js';
import { ApiStatusError } from '../../src/sandbox/apiserver/status.js';
import { renewedNodeLease } from '../../src/sandbox/kubelet/node-lease.js';

const now = new Date('2026-12-04T18:00:00.000Z');

function pod(opts: { node?: string; grace?: number; phase?: string; deleting?: { at: string; grace?: number } } = {}): JsonObject {
  const metadata: JsonObject = { name: 'web-1', namespace: 'default', uid: 'u1', generation: 1 };
  if (opts.deleting !== undefined) {
    metadata.deletionTimestamp = opts.deleting.at;
    if (opts.deleting.grace !== undefined) metadata.deletionGracePeriodSeconds = opts.deleting.grace;
  }
  const spec: JsonObject = { containers: [{ name: 'c', image: 'nginx' }], terminationGracePeriodSeconds: opts.grace ?? 30 };
  if (opts.node !== undefined) spec.nodeName = opts.node;
  return { metadata, spec, status: { phase: opts.phase ?? 'Running' } };
}

describe('graceful Pod deletion (BeforeDelete and the Pod strategy)', () => {
  it.each([
    { name: 'the spec grace by default', p: pod({ node: 'n' }), asked: undefined, want: { kind: 'mark', deletionTimestamp: '2026-12-04T18:00:30Z', gracePeriodSeconds: 30, bumpGeneration: true } },
    { name: 'the grace asked for', p: pod({ node: 'n' }), asked: 5, want: { kind: 'mark', deletionTimestamp: '2026-12-04T18:00:05Z', gracePeriodSeconds: 5, bumpGeneration: true } },
    { name: 'a negative grace as 1 s', p: pod({ node: 'n' }), asked: -3, want: { kind: 'mark', deletionTimestamp: '2026-12-04T18:00:01Z', gracePeriodSeconds: 1, bumpGeneration: true } },
    { name: 'grace 0 (--grace-period=0 --force) at once', p: pod({ node: 'n' }), asked: 0, want: { kind: 'now' } },
    { name: 'terminationGracePeriodSeconds 0 at once', p: pod({ node: 'n', grace: 0 }), asked: undefined, want: { kind: 'now' } },
    { name: 'an unscheduled Pod at once', p: pod(), asked: 30, want: { kind: 'now' } },
    { name: 'a finished Pod at once', p: pod({ node: 'n', phase: 'Succeeded' }), asked: undefined, want: { kind: 'now' } },
    { name: 'a terminating Pod: a shorter grace moves the timestamp earlier', p: pod({ node: 'n', deleting: { at: '2026-12-04T18:00:30Z', grace: 30 } }), asked: 10, want: { kind: 'mark', deletionTimestamp: '2026-12-04T18:00:10Z', gracePeriodSeconds: 10, bumpGeneration: false } },
    { name: 'a terminating Pod: a longer grace changes nothing', p: pod({ node: 'n', deleting: { at: '2026-12-04T18:00:30Z', grace: 30 } }), asked: 60, want: { kind: 'pending' } },
    { name: 'a terminating Pod: no grace changes nothing', p: pod({ node: 'n', deleting: { at: '2026-12-04T18:00:30Z', grace: 30 } }), asked: undefined, want: { kind: 'pending' } },
    { name: "a terminating Pod: the kubelet's grace 0 removes it", p: pod({ node: 'n', deleting: { at: '2026-12-04T18:00:30Z', grace: 30 } }), asked: 0, want: { kind: 'now' } },
    { name: 'a terminating Pod without a grace: removed', p: pod({ node: 'n', deleting: { at: '2026-12-04T18:00:30Z' } }), asked: undefined, want: { kind: 'now' } },
  ])('$name', ({ p, asked, want }) => {
    expect(podDeletion(p, asked, true, now)).toEqual(want);
  });

  it('removes at once a Pod whose node runs no kubelet', () => {
    expect(podDeletion(pod({ node: 'n' }), undefined, false, now)).toEqual({ kind: 'now' });
  });

  it.each([
    { name: 'body', body: { gracePeriodSeconds: 7 }, query: '3', want: 7 },
    { name: 'query', body: undefined, query: '3', want: 3 },
    { name: 'neither', body: { propagationPolicy: 'Background' }, query: null, want: undefined },
  ])('reads gracePeriodSeconds from the $name', ({ body, query, want }) => {
    expect(requestedGracePeriod(body, query)).toBe(want);
  });

  it('refuses a grace period that is no integer with 400', () => {
    expect(() => requestedGracePeriod(undefined, 'soon')).toThrow(ApiStatusError);
    expect(() => requestedGracePeriod({ gracePeriodSeconds: 1.5 }, null)).toThrow(/gracePeriodSeconds/);
  });

  it('judges a node lease live within its duration only', () => {
    const lease = renewedNodeLease('node-2', undefined, now);
    expect(lease.metadata).toEqual({ name: 'node-2', namespace: 'kube-node-lease' });
    expect(nodeLeaseLive(lease, new Date(now.getTime() + 39_000))).toBe(true);
    expect(nodeLeaseLive(lease, new Date(now.getTime() + 41_000))).toBe(false);
    expect(nodeLeaseLive(undefined, now)).toBe(false);
  });
});
