import { describe, expect, it } from 'vitest';
import type { NodeName, ServiceKey } from '../../src/shared/brand.js';
import { claimSeen, conflictsRecord, gate, noAddressState, probeFinished, probesFinished, takeoverTrustMs, type AddressState, type ConflictTiming } from '../../src/speaker/conflicts.js';
import type { DesiredAnnouncements, IpDecision } from '../../src/speaker/desired.js';

/**
 * The pure conflict rules of the speaker (src/speaker/conflicts.ts) at the moments an IP changes
 * hands: a takeover, a probe that hears the previous owner, a split brain settled by the election.
 */
const ip = '192.0.2.10';
const self = 'node-b' as NodeName;
const peer = 'node-a' as NodeName;
const peerMac = '02:00:00:00:00:0a';
const rogueMac = '02:00:00:00:00:99';
const nodeOfMac: ReadonlyMap<string, NodeName> = new Map([[peerMac, peer]]);
const timing: ConflictTiming = { reprobeMs: 30_000, selfCheckMs: 60_000 };

/** The election's result for one IP: `owner` announces it. */
function elected(owner: NodeName): DesiredAnnouncements {
  const d: IpDecision = { ip, serviceKeys: ['ns/web' as ServiceKey], owner, reason: owner === self ? 'owner' : 'notOwner', ineligible: [], noInterface: [], interfaceFallback: false };
  return { ips: new Map([[ip, d]]), owned: owner === self ? new Set([ip]) : new Set() };
}

const step = (state: AddressState, owner: NodeName, now: number, recorded: string[] = []): ReturnType<typeof gate> => gate(state, { elected: elected(owner), recorded, now, timing });

describe('speaker conflicts: handing an IP over', () => {
  it.each([
    { name: 'the previous owner\'s Lease still records it', announced: [], recorded: [ip] },
    { name: 'seen recorded earlier (the previous owner crashed, its Lease is gone)', announced: [ip], recorded: [] },
  ])('a takeover is not probed: $name', ({ announced, recorded }) => {
    const g = step({ ...noAddressState, announced: new Set(announced) }, self, 0, recorded);
    expect(g.probe).toEqual([]);
    expect([...g.desired.owned]).toEqual([ip]);
  });

  it('a takeover within the trust window of the owner leaving is not probed; a later one is, then taken once clear', () => {
    // At 0 the previous owner still records it; at 100 it is gone (crash, reap, release).
    const before = step({ ...noAddressState, announced: new Set([ip]) }, peer, 0, [ip]).state;
    const left = step(before, peer, 100).state;
    expect(left.unrecordedSince.get(ip)).toBe(100);
    // The node the election picks on that same watch event takes it at once...
    const prompt = step(left, self, 100 + takeoverTrustMs);
    expect([...prompt.desired.owned]).toEqual([ip]);
    expect(prompt.probe).toEqual([]);
    // ...a node that elects itself later (it passed its hold-down, its view caught up) probes first.
    const late = step(left, self, 101 + takeoverTrustMs);
    expect([...late.desired.owned]).toEqual([]);
    expect(late.probe).toEqual([ip]);
    const clear = probeFinished(late.state, ip, { kind: 'clear' }, 1500, timing.reprobeMs, nodeOfMac);
    // Taken at the next election, however late it runs.
    expect([...step(clear, self, 9_000).desired.owned]).toEqual([ip]);
  });

  it('an IP nobody announced since it was assigned is probed and withheld until the probe ends', () => {
    const g = step(noAddressState, self, 0);
    expect(g.probe).toEqual([ip]);
    expect([...g.desired.owned]).toEqual([]);
    expect(g.desired.ips.get(ip)?.reason).toBe('probing');
  });

  it('a first probe that hears a known node waits for it, checking every second: no conflict reported, announced once nobody answers', () => {
    const probing = step(noAddressState, self, 0).state;
    const after = probeFinished(probing, ip, { kind: 'conflict', mac: peerMac, iface: 'eth0' }, 600, timing.reprobeMs, nodeOfMac);
    expect([...after.conflicts.keys()]).toEqual([]);
    expect(after.answering.get(ip)).toEqual({ node: peer, nextProbeAt: 1600 });
    // Withheld while that node answers; probed again once a second has passed, not before.
    const waiting = step(after, self, 610);
    expect([...waiting.desired.owned]).toEqual([]);
    expect(waiting.desired.ips.get(ip)?.reason).toBe('probing');
    expect(waiting.probe).toEqual([]);
    expect(waiting.nextAt).toBe(1600);
    const due = step(waiting.state, self, 1600);
    expect(due.probe).toEqual([ip]);
    // Still answered: another second. Then silent: announced.
    const again = probeFinished(due.state, ip, { kind: 'conflict', mac: peerMac, iface: 'eth0' }, 2200, timing.reprobeMs, nodeOfMac);
    expect(again.answering.get(ip)?.nextProbeAt).toBe(3200);
    const clear = probeFinished(step(again, self, 3200).state, ip, { kind: 'clear' }, 3800, timing.reprobeMs, nodeOfMac);
    expect([...clear.answering.keys()]).toEqual([]);
    const g = step(clear, self, 3810);
    expect([...g.desired.owned]).toEqual([ip]);
    expect(g.probe).toEqual([]);
  });

  it('a known node heard answering keeps the IP when the views agree: the wait is dropped, nothing probed again', () => {
    const probing = step(noAddressState, self, 0).state;
    const after = probeFinished(probing, ip, { kind: 'conflict', mac: peerMac, iface: 'eth0' }, 600, timing.reprobeMs, nodeOfMac);
    // Our view catches up: the peer records it and the election gives it the IP.
    const g = step(after, peer, 900, [ip]);
    expect([...g.state.answering.keys()]).toEqual([]);
    expect(step(g.state, peer, 5_000, [ip]).probe).toEqual([]);
  });

  it('a first probe that hears a MAC of no node is a conflict with another host: withheld, re-probed later', () => {
    const probing = step(noAddressState, self, 0).state;
    const after = probeFinished(probing, ip, { kind: 'conflict', mac: rogueMac, iface: 'eth0' }, 600, timing.reprobeMs, nodeOfMac);
    expect(after.conflicts.get(ip)).toMatchObject({ mac: rogueMac, node: undefined, nextProbeAt: 30_600 });
    const g = step(after, self, 610);
    expect([...g.desired.owned]).toEqual([]);
    expect(g.desired.ips.get(ip)?.reason).toBe('addressConflict');
    expect(g.probe).toEqual([]);
  });

  it('a self-check of an owned IP that hears a known node reports that node and keeps announcing (split brain)', () => {
    // The owner's own record counts among the recorded IPs (the speaker's withOwnRecord).
    const owning = step({ ...noAddressState, announced: new Set([ip]) }, self, 0, [ip]).state;
    const after = probeFinished(owning, ip, { kind: 'conflict', mac: peerMac, iface: 'eth0' }, 60_000, timing.reprobeMs, nodeOfMac);
    expect(after.conflicts.get(ip)).toMatchObject({ mac: peerMac, node: peer });
    const g = step(after, self, 60_010, [ip]);
    expect([...g.desired.owned]).toEqual([ip]);
    expect([...g.state.conflicts.keys()]).toEqual([ip]);
  });

  it('a split brain settled by the election: the node that loses the IP drops its report at once and never re-probes it', () => {
    const owning = step({ ...noAddressState, announced: new Set([ip]) }, self, 0).state;
    const split = probeFinished(owning, ip, { kind: 'conflict', mac: peerMac, iface: 'eth0' }, 1_000, timing.reprobeMs, nodeOfMac);
    // The views agree again: the peer is the owner.
    const g = step(split, peer, 2_000);
    expect([...g.state.conflicts.keys()]).toEqual([]);
    expect([...g.desired.owned]).toEqual([]);
    // Nothing left to re-probe when the re-probe would have been due.
    expect(step(g.state, peer, 40_000).probe).toEqual([]);
  });

  it('a conflict with a host outside the cluster stays when the IP goes to another node: it still quarantines the address', () => {
    const owning = step({ ...noAddressState, announced: new Set([ip]) }, self, 0).state;
    const rogue = probeFinished(owning, ip, { kind: 'conflict', mac: rogueMac, iface: 'eth0' }, 1_000, timing.reprobeMs, nodeOfMac);
    const g = step(rogue, peer, 2_000);
    expect(g.state.conflicts.get(ip)).toMatchObject({ mac: rogueMac, node: undefined });
    expect(step(g.state, peer, 31_000).probe).toEqual([ip]);
  });

  it('a re-probe of a quarantined address that hears a node keeps the quarantine and waits its interval (no back-to-back re-probes)', () => {
    const quarantined = probeFinished(step(noAddressState, self, 0).state, ip, { kind: 'conflict', mac: rogueMac, iface: 'eth0' }, 600, timing.reprobeMs, nodeOfMac);
    // The address is no longer assigned (the controller moved its Service): the re-probe is due.
    const none: DesiredAnnouncements = { ips: new Map(), owned: new Set() };
    const due = gate(quarantined, { elected: none, recorded: [], now: 30_600, timing });
    expect(due.probe).toEqual([ip]);
    const heardNode = probeFinished(due.state, ip, { kind: 'conflict', mac: peerMac, iface: 'eth0' }, 31_000, timing.reprobeMs, nodeOfMac);
    expect(heardNode.conflicts.get(ip)).toMatchObject({ mac: rogueMac, nextProbeAt: 61_000 });
    const next = gate(heardNode, { elected: none, recorded: [], now: 31_010, timing });
    expect(next.probe).toEqual([]);
    expect(next.nextAt).toBe(61_000);
  });
});

describe('speaker conflicts: the Lease record', () => {
  // local time 0 is 2026-12-04T21:00:00.600Z on the wall
  const wallOf = (local: number): Date => new Date(Date.UTC(2026, 11, 4, 21, 0, 0, 600) + local);

  it('names the other MAC, its node when known, the interface and since when (whole seconds, UTC), in a stable order', () => {
    let state = probeFinished(noAddressState, ip, { kind: 'conflict', mac: rogueMac, iface: 'eth0' }, 1_000, timing.reprobeMs, nodeOfMac);
    state = claimSeen({ ...state, defended: new Map([['192.0.2.9', 4_000]]) }, { ip: '192.0.2.9', mac: peerMac, iface: 'eth1' }, 5_000, timing.reprobeMs, nodeOfMac).state;
    expect(JSON.parse(conflictsRecord(state.conflicts.values(), wallOf))).toEqual([
      { ip, mac: rogueMac, interface: 'eth0', since: '2026-12-04T21:00:01Z' },
      { ip: '192.0.2.9', mac: peerMac, interface: 'eth1', node: peer, since: '2026-12-04T21:00:05Z' },
    ]);
    expect(conflictsRecord([], wallOf)).toBe('');
  });

  it('keeps its text while the same MAC keeps answering (no Lease write per re-probe); a new MAC starts a new since', () => {
    const first = probeFinished(noAddressState, ip, { kind: 'conflict', mac: rogueMac, iface: 'eth0' }, 1_000, timing.reprobeMs, nodeOfMac);
    const again = probeFinished(first, ip, { kind: 'conflict', mac: rogueMac, iface: 'eth0' }, 31_000, timing.reprobeMs, nodeOfMac);
    expect(conflictsRecord(again.conflicts.values(), wallOf)).toBe(conflictsRecord(first.conflicts.values(), wallOf));
    const other = probeFinished(again, ip, { kind: 'conflict', mac: '02:00:00:00:00:98', iface: 'eth0' }, 61_000, timing.reprobeMs, nodeOfMac);
    expect(conflictsRecord(other.conflicts.values(), wallOf)).toContain('"since":"2026-12-04T21:01:01Z"');
  });
});

describe('probesFinished: a burst of results applied at once', () => {
  const other = '192.0.2.11';
  const probing: AddressState = { ...noAddressState, probing: new Set([ip, other]), announced: new Set(['192.0.2.12']) };
  it.each([
    { name: 'two clear', results: [{ ip, result: { kind: 'clear' as const }, at: 600 }, { ip: other, result: { kind: 'clear' as const }, at: 610 }] },
    { name: 'a rogue, then a clear', results: [{ ip, result: { kind: 'conflict' as const, mac: rogueMac, iface: 'eth0' }, at: 600 }, { ip: other, result: { kind: 'clear' as const }, at: 620 }] },
    { name: 'a known node and a rogue', results: [{ ip, result: { kind: 'conflict' as const, mac: peerMac, iface: 'eth0' }, at: 600 }, { ip: other, result: { kind: 'conflict' as const, mac: rogueMac, iface: 'eth1' }, at: 630 }] },
    { name: 'none', results: [] },
  ])('$name: the same state as one result at a time', ({ results }) => {
    const oneByOne = results.reduce((s, r) => probeFinished(s, r.ip, r.result, r.at, timing.reprobeMs, nodeOfMac), probing);
    expect(probesFinished(probing, results, timing.reprobeMs, nodeOfMac)).toEqual(oneByOne);
  });

  it('a re-probe of a quarantined address that hears a node keeps the conflict for its interval, as one at a time', () => {
    const quarantined: AddressState = { ...probing, conflicts: new Map([[ip, { ip, mac: rogueMac, iface: 'eth0', node: undefined, since: 0, nextProbeAt: 500 }]]) };
    const results = [{ ip, result: { kind: 'conflict' as const, mac: peerMac, iface: 'eth0' }, at: 600 }, { ip: other, result: { kind: 'clear' as const }, at: 650 }];
    const batch = probesFinished(quarantined, results, timing.reprobeMs, nodeOfMac);
    expect(batch.conflicts.get(ip)?.nextProbeAt).toBe(600 + timing.reprobeMs);
    expect(batch).toEqual(results.reduce((s, r) => probeFinished(s, r.ip, r.result, r.at, timing.reprobeMs, nodeOfMac), quarantined));
  });

  it('a conflict keeps the time of its own result', () => {
    const after = probesFinished(probing, [{ ip, result: { kind: 'clear' }, at: 600 }, { ip: other, result: { kind: 'conflict', mac: rogueMac, iface: 'eth0' }, at: 700 }], timing.reprobeMs, nodeOfMac);
    expect(after.conflicts.get(other)).toMatchObject({ since: 700, nextProbeAt: 700 + timing.reprobeMs });
    expect([...after.probing]).toEqual([]);
    expect([...after.announced].sort()).toEqual(['192.0.2.10', '192.0.2.12']);
  });
});
