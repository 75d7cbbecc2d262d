import { describe, expect, it } from 'vitest';
import type { NodeName } from '../../src/shared/brand.js';
import { defaultExpiryGraceMs, LivenessTracker, type LeaseObservation } from '../../src/election/liveness.js';

const n = (name: string): NodeName => name as NodeName;

/** A Lease as a table writes it: plain node names, defaults for the rest. */
type TestLease = Partial<Omit<LeaseObservation, 'node'>> & { node: string; version: string };

type Step =
  | { readonly at: number; readonly lease: TestLease }
  | { readonly at: number; readonly remove: string };

function obs(at: number, lease: TestLease): LeaseObservation {
  return {
    holderIdentity: lease.node,
    leaseDurationSeconds: 15,
    ...lease,
    node: n(lease.node),
    observedAt: at,
  };
}

/** The tables judge durations exactly (no grace); the grace has its own table below. */
function replay(steps: readonly Step[], graceMs = 0): LivenessTracker {
  const tracker = new LivenessTracker(graceMs);
  for (const step of steps) {
    if ('remove' in step) tracker.remove(n(step.remove));
    else tracker.observe(obs(step.at, step.lease));
  }
  return tracker;
}

describe('LivenessTracker.alive', () => {
  it.each<{ name: string; steps: Step[]; now: number; want: string[] }>([
    { name: 'first sighting counts as a renewal', steps: [{ at: 1000, lease: { node: 'a', version: '1' } }], now: 15_999, want: ['a'] },
    { name: 'expires one duration after the last change', steps: [{ at: 1000, lease: { node: 'a', version: '1' } }], now: 16_000, want: [] },
    {
      name: 'a renewal (new version) extends it',
      steps: [{ at: 0, lease: { node: 'a', version: '1' } }, { at: 10_000, lease: { node: 'a', version: '2' } }],
      now: 24_000,
      want: ['a'],
    },
    {
      name: 'the same version seen again (resync) does not extend it',
      steps: [{ at: 0, lease: { node: 'a', version: '1' } }, { at: 10_000, lease: { node: 'a', version: '1' } }],
      now: 15_000,
      want: [],
    },
    {
      name: 'a released Lease is dead at once',
      steps: [{ at: 0, lease: { node: 'a', version: '1' } }, { at: 1000, lease: { node: 'a', version: '2', holderIdentity: '' } }],
      now: 1001,
      want: [],
    },
    {
      name: 'absent holder is released',
      steps: [{ at: 0, lease: { node: 'a', version: '1', holderIdentity: undefined } }],
      now: 1,
      want: [],
    },
    {
      name: 'a released Lease taken again is alive',
      steps: [
        { at: 0, lease: { node: 'a', version: '1', holderIdentity: '' } },
        { at: 5000, lease: { node: 'a', version: '2' } },
      ],
      now: 6000,
      want: ['a'],
    },
    { name: 'missing duration counts as dead', steps: [{ at: 0, lease: { node: 'a', version: '1', leaseDurationSeconds: undefined } }], now: 0, want: [] },
    {
      name: 'deleted Lease is dead',
      steps: [{ at: 0, lease: { node: 'a', version: '1' } }, { at: 1, remove: 'a' }],
      now: 2,
      want: [],
    },
    {
      name: 'each peer has its own duration',
      steps: [
        { at: 0, lease: { node: 'b', version: '1', leaseDurationSeconds: 5 } },
        { at: 0, lease: { node: 'a', version: '7', leaseDurationSeconds: 30 } },
      ],
      now: 10_000,
      want: ['a'],
    },
    {
      name: 'peer clocks are ignored: a renewTime far in the past still counts as a fresh change',
      steps: [{ at: 50_000, lease: { node: 'a', version: '9', renewTime: '2001-01-01T00:00:00.000000Z' } }],
      now: 60_000,
      want: ['a'],
    },
  ])('$name', ({ steps, now, want }) => {
    expect([...replay(steps).alive(now)]).toEqual(want);
    // isAlive answers the same for one peer, and no for a peer never seen.
    const tracker = replay(steps);
    for (const node of ['a', 'b', 'c']) expect(tracker.isAlive(n(node), now)).toBe(want.includes(node));
  });
});

describe('LivenessTracker.settled (rejoin hold-down)', () => {
  const at = (s: number): string => new Date(Date.UTC(2026, 0, 1) + s * 1000).toISOString();
  it.each<{ name: string; lease: Partial<Omit<LeaseObservation, 'node'>>; holdDownMs?: number; want: string[] }>([
    { name: 'up for longer than the default 10 s', lease: { acquireTime: at(0), renewTime: at(10) }, want: ['a'] },
    { name: 'just (re)acquired', lease: { acquireTime: at(0), renewTime: at(9) }, want: [] },
    { name: 'custom hold-down', lease: { acquireTime: at(0), renewTime: at(3) }, holdDownMs: 2000, want: ['a'] },
    { name: 'no times written: settled', lease: {}, want: ['a'] },
    { name: 'unparsable times: settled', lease: { acquireTime: 'yesterday', renewTime: at(1) }, want: ['a'] },
    { name: 'dead is never settled', lease: { acquireTime: at(0), renewTime: at(100), holderIdentity: '' }, want: [] },
  ])('$name', ({ lease, holdDownMs, want }) => {
    const tracker = new LivenessTracker();
    tracker.observe(obs(0, { node: 'a', version: '1', ...lease }));
    expect([...tracker.settled(1, holdDownMs)]).toEqual(want);
    // isSettled answers the same for one peer, and no for a peer never seen.
    expect(tracker.isSettled(n('a'), 1, holdDownMs)).toBe(want.includes('a'));
    expect(tracker.isSettled(n('b'), 1, holdDownMs)).toBe(false);
  });
});

describe('LivenessTracker expiry grace', () => {
  const renewedAt1000 = [{ at: 1000, lease: { node: 'a', version: '1', leaseDurationSeconds: 3 } }];
  it.each<{ name: string; steps: Step[]; now: number; want: string[] }>([
    { name: 'alive a little past its duration', steps: renewedAt1000, now: 4000 + defaultExpiryGraceMs - 1, want: ['a'] },
    { name: 'dead at duration plus grace', steps: renewedAt1000, now: 4000 + defaultExpiryGraceMs, want: [] },
    { name: 'a released Lease is still dead at once', steps: [{ at: 1000, lease: { node: 'a', version: '1', holderIdentity: '' } }], now: 1001, want: [] },
    { name: 'no duration is still dead', steps: [{ at: 1000, lease: { node: 'a', version: '1', leaseDurationSeconds: 0 } }], now: 1001, want: [] },
  ])('$name', ({ steps, now, want }) => {
    expect([...replay(steps, defaultExpiryGraceMs).alive(now)]).toEqual(want);
  });

  it('is what a tracker uses by default, and nextChange includes it', () => {
    const tracker = new LivenessTracker();
    tracker.observe(obs(1000, { node: 'a', version: '1', leaseDurationSeconds: 3 }));
    expect(tracker.nextChange(1000)).toBe(4000 + defaultExpiryGraceMs);
    expect([...tracker.alive(4000)]).toEqual(['a']);
  });
});

describe('LivenessTracker.nextChange', () => {
  it.each<{ name: string; steps: Step[]; now: number; want: number | undefined }>([
    { name: 'nobody known', steps: [], now: 0, want: undefined },
    {
      name: 'earliest expiry among live peers',
      steps: [
        { at: 0, lease: { node: 'a', version: '1', leaseDurationSeconds: 15 } },
        { at: 2000, lease: { node: 'b', version: '1', leaseDurationSeconds: 10 } },
      ],
      now: 3000,
      want: 12_000,
    },
    {
      name: 'expired and released peers do not count',
      steps: [
        { at: 0, lease: { node: 'a', version: '1', leaseDurationSeconds: 1 } },
        { at: 0, lease: { node: 'b', version: '1', holderIdentity: '' } },
        { at: 0, lease: { node: 'c', version: '1', leaseDurationSeconds: 20 } },
      ],
      now: 5000,
      want: 20_000,
    },
  ])('$name', ({ steps, now, want }) => {
    expect(replay(steps).nextChange(now)).toBe(want);
  });
});

describe('LivenessTracker.resume (the watch was down and relisted)', () => {
  // a, b, c renew every second with 3 s Leases; the watch goes down at 10_000 and is back at
  // 25_000 (a 15 s API outage). Before any peer renews again, the relist shows the old Leases.
  const before: Step[] = [
    { at: 9500, lease: { node: 'a', version: '1', leaseDurationSeconds: 3 } },
    { at: 9800, lease: { node: 'b', version: '1', leaseDurationSeconds: 3 } },
    { at: 5000, lease: { node: 'c', version: '1', leaseDurationSeconds: 3 } }, // c stopped renewing earlier: dead at 8000
    { at: 9000, lease: { node: 'd', version: '1', holderIdentity: '' } }, // d released its Lease
  ];
  it.each<{ name: string; resumed: boolean; relist?: Step[]; now: number; want: string[] }>([
    { name: 'without it, every peer from before the outage is dead at once', resumed: false, now: 25_001, want: [] },
    { name: 'peers alive when sight was lost count as just renewed', resumed: true, now: 25_001, want: ['a', 'b'] },
    { name: 'and die one duration later unless they renew', resumed: true, now: 28_000, want: [] },
    {
      name: 'a peer that renewed meanwhile lives from its renewal',
      resumed: true,
      relist: [{ at: 26_000, lease: { node: 'a', version: '2', leaseDurationSeconds: 3 } }],
      now: 28_500,
      want: ['a'],
    },
  ])('$name', ({ resumed, relist, now, want }) => {
    const tracker = replay(before);
    if (resumed) tracker.resume(10_000, 25_000);
    for (const step of relist ?? []) if ('lease' in step) tracker.observe(obs(step.at, step.lease));
    expect([...tracker.alive(now)]).toEqual(want);
  });
});

describe('LivenessTracker.lapsedByOwnCount (the writer judges itself by its renewals)', () => {
  // b's heartbeat (40 s) was first seen at 1000; the watch went down at 10_000 and was back at 50_000.
  const seen: Step[] = [{ at: 1000, lease: { node: 'b', version: '1', leaseDurationSeconds: 40 } }];
  it.each<{ name: string; then?: Step[]; resumed?: boolean; now: number; want: boolean }>([
    { name: 'not within a duration of the renewal being seen', now: 40_999, want: false },
    { name: 'a duration after it was seen', now: 41_000, want: true },
    { name: 'the same version seen again later does not move it', then: [{ at: 30_000, lease: { node: 'b', version: '1', leaseDurationSeconds: 40 } }], now: 41_000, want: true },
    { name: 'nor does a watch that was down and came back (resume)', resumed: true, now: 51_000, want: true },
    { name: 'nor unwatching and watching again: the relist shows the same write', then: [{ at: 45_000, remove: 'b' }, { at: 55_000, lease: { node: 'b', version: '1', leaseDurationSeconds: 40 } }], now: 56_000, want: true },
    { name: 'a new version (a renewal) does', then: [{ at: 55_000, lease: { node: 'b', version: '2', leaseDurationSeconds: 40 } }], now: 56_000, want: false },
    { name: 'an unknown node has not lapsed', then: [{ at: 45_000, remove: 'b' }], now: 56_000, want: false },
  ])('$name', ({ then, resumed, now, want }) => {
    const tracker = replay([...seen, ...(then ?? [])]);
    if (resumed === true) tracker.resume(10_000, 50_000);
    expect(tracker.lapsedByOwnCount(n('b'), now)).toBe(want);
  });
});

describe('LivenessTracker: each Lease judged by its own rule (mixed modes)', () => {
  it.each<{ name: string; defaultExpires: boolean; expires: boolean | undefined; now: number; want: string[] }>([
    { name: 'a renewed Lease in an expiring tracker runs out', defaultExpires: true, expires: true, now: 60_000, want: [] },
    { name: 'a membership Lease in an expiring tracker does not', defaultExpires: true, expires: false, now: 3_600_000, want: ['a'] },
    { name: 'a renewed Lease in a holder-only tracker runs out', defaultExpires: false, expires: true, now: 60_000, want: [] },
    { name: 'unsaid: the tracker default (expiring)', defaultExpires: true, expires: undefined, now: 60_000, want: [] },
    { name: 'unsaid: the tracker default (holder only)', defaultExpires: false, expires: undefined, now: 3_600_000, want: ['a'] },
  ])('$name', ({ defaultExpires, expires, now, want }) => {
    const tracker = new LivenessTracker(defaultExpiryGraceMs, defaultExpires);
    tracker.observe(obs(0, { node: 'a', version: '1', leaseDurationSeconds: 40, expires }));
    expect([...tracker.alive(now)]).toEqual(want);
    // A Lease that does not run out sets no timer.
    expect(tracker.nextChange(1)).toBe(want.length === 0 ? 40_000 + defaultExpiryGraceMs : undefined);
  });

  it('a membership Lease without a holder is dead at once', () => {
    const tracker = new LivenessTracker();
    tracker.observe(obs(0, { node: 'a', version: '1', leaseDurationSeconds: 40, expires: false, holderIdentity: '' }));
    expect([...tracker.alive(1)]).toEqual([]);
  });
});
