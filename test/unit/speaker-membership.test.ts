import { describe, expect, it } from 'vitest';
import { LivenessTracker } from '../../src/election/liveness.js';
import type { NodeName } from '../../src/shared/brand.js';
import { membership, nextLivenessChange, peerTime } from '../../src/speaker/membership.js';

const node = (n: string): NodeName => n as NodeName;
const t0 = '2026-01-01T00:00:00.000Z';
const t20 = '2026-01-01T00:00:20.000Z';
const t5 = '2026-01-01T00:00:05.000Z';

function tracker(): LivenessTracker {
  const t = new LivenessTracker(0);
  t.observe({ node: node('a'), version: '1', holderIdentity: 'a', leaseDurationSeconds: 3, acquireTime: t0, renewTime: t20, observedAt: 0 });
  t.observe({ node: node('b'), version: '1', holderIdentity: 'b', leaseDurationSeconds: 3, acquireTime: t0, renewTime: t5, observedAt: 0 });
  // the watch's view of ourselves: says nothing about whether we count ourselves alive
  t.observe({ node: node('self'), version: '1', holderIdentity: 'self', leaseDurationSeconds: 3, acquireTime: t0, renewTime: t20, observedAt: 0 });
  return t;
}

const selfLease = (renewTime: string | undefined) => ({ node: node('self'), version: '1', holderIdentity: 'self', leaseDurationSeconds: 3, acquireTime: t0, renewTime, announcing: [] });

describe('speaker membership (pure)', () => {
  it.each([
    { name: 'self alive by its renewals and settled', now: 1000, until: 2000, silenced: false, renew: t20, alive: ['a', 'b', 'self'], settled: ['a', 'self'] },
    { name: 'self up for less than the hold-down: alive, not settled', now: 1000, until: 2000, silenced: false, renew: t5, alive: ['a', 'b', 'self'], settled: ['a'] },
    { name: 'self with unknown up time counts as settled', now: 1000, until: 2000, silenced: false, renew: undefined, alive: ['a', 'b', 'self'], settled: ['a', 'self'] },
    { name: 'self past its own renewals: not alive, whatever the watch says', now: 2500, until: 2000, silenced: false, renew: t20, alive: ['a', 'b'], settled: ['a'] },
    { name: 'silenced: never alive', now: 1000, until: 2000, silenced: true, renew: t20, alive: ['a', 'b'], settled: ['a'] },
    { name: 'peers expired', now: 4000, until: 5000, silenced: false, renew: t20, alive: ['self'], settled: ['self'] },
  ])('$name', ({ now, until, silenced, renew, alive, settled }) => {
    const m = membership({ self: node('self'), now, peersAt: now, tracker: tracker(), selfAliveUntil: until, silenced, selfLease: selfLease(renew), holdDownMs: 10_000 });
    expect([...m.alive].sort()).toEqual(alive);
    expect([...m.settled].sort()).toEqual(settled);
  });

  it('judges peers frozen at the time the watch went down, and sets no peer timer meanwhile', () => {
    expect(peerTime(9000, 1000)).toBe(1000);
    expect(peerTime(500, 1000)).toBe(500);
    expect(peerTime(9000, undefined)).toBe(9000);
    const m = membership({ self: node('self'), now: 9000, peersAt: peerTime(9000, 1000), tracker: tracker(), selfAliveUntil: 10_000, silenced: false, selfLease: selfLease(t20), holdDownMs: 10_000 });
    expect([...m.alive].sort()).toEqual(['a', 'b', 'self']);
    expect(nextLivenessChange(9000, 1000, tracker(), 10_000)).toBe(10_000);
    expect(nextLivenessChange(1000, 1000, tracker(), 10_000)).toBe(3000);
    expect(nextLivenessChange(1000, 1000, tracker(), undefined)).toBe(3000);
  });
});
