import { describe, expect, it } from 'vitest';
import type { NodeName, ServiceKey } from '../../src/shared/brand.js';
import { electOwners, type ElectionInput } from '../../src/election/election.js';
import { LivenessTracker } from '../../src/election/liveness.js';
import type { HashFn } from '../../src/election/rendezvous.js';
import type { ElectionService } from '../../src/election/views.js';
import type { IpDecision } from '../../src/speaker/desired.js';
import { heartbeatSelector, judgeRound, keepOwners, reapable, recordRound, standbyDuties, type MissLedger, type RoundResult } from '../../src/speaker/standby.js';

const n = (name: string): NodeName => name as NodeName;
const byLetter: HashFn = (s) => s; // rank = "node#ip": the node name decides

function svc(key: string, ips: string[], nodes: string[]): ElectionService {
  return { key: key as ServiceKey, ips, endpoints: nodes.map((x) => ({ nodeName: n(x), ready: true, serving: true, terminating: false })), trafficPolicy: 'Cluster' };
}

function elect(alive: string[], extra: { settled?: string[]; current?: Record<string, string>; count?: number } = {}): ElectionInput {
  return {
    services: [svc('demo/a', ['192.0.2.10'], alive)],
    cluster: { nodes: new Map(['a', 'b', 'c', 'd'].map((x) => [n(x), { name: n(x), labels: {}, conditions: {} }])), alive: new Set(alive.map(n)), options: { ignoreExcludeLabel: false } },
    settled: new Set((extra.settled ?? alive).map(n)),
    currentOwners: new Map(Object.entries(extra.current ?? {}).map(([ip, o]) => [ip, n(o)])),
    standbyCount: extra.count ?? 2,
  };
}

describe('election standbys (docs/election.md "1,000 nodes")', () => {
  it.each([
    { name: 'hashed owner: the next two in rendezvous order', alive: ['d', 'c', 'b', 'a'], want: { owner: 'a', standbys: ['b', 'c'] } },
    { name: 'kept owner: the nodes that would win without it', alive: ['a', 'b', 'c', 'd'], current: { '192.0.2.10': 'c' }, want: { owner: 'c', standbys: ['a', 'b'] } },
    { name: 'settled runner-ups first, unsettled after', alive: ['a', 'b', 'c', 'd'], settled: ['a', 'd'], want: { owner: 'a', standbys: ['d', 'b'] } },
    { name: 'no settled runner-up: all in hash order', alive: ['a', 'b', 'c'], settled: ['a'], want: { owner: 'a', standbys: ['b', 'c'] } },
    { name: 'a lone node has none', alive: ['b'], want: { owner: 'b', standbys: [] } },
    { name: 'none asked', alive: ['a', 'b'], count: 0, want: { owner: 'a', standbys: [] } },
  ])('$name', ({ alive, settled, current, count, want }) => {
    const got = electOwners(elect(alive, { ...(settled === undefined ? {} : { settled }), ...(current === undefined ? {} : { current }), ...(count === undefined ? {} : { count }) }), byLetter).get('192.0.2.10');
    expect(got?.owner === undefined ? undefined : { owner: got.owner, standbys: got.standbys }).toEqual(want);
  });

  it('the first standby is the owner the election picks once the owner is gone', () => {
    for (let i = 0; i < 100; i += 1) {
      const alive = ['a', 'b', 'c', 'd'].filter((_, j) => (i >> j) % 2 === 0 || j === i % 4);
      const first = electOwners(elect(alive)).get('192.0.2.10');
      if (first?.owner === undefined) throw new Error('no owner');
      const after = electOwners(elect(alive.filter((x) => x !== first.owner))).get('192.0.2.10');
      expect(after?.owner).toBe(first.standbys[0]);
    }
  });
});

function decision(ip: string, owner: string | undefined, standbys: string[]): IpDecision {
  return { ip, serviceKeys: [], owner: owner === undefined ? undefined : n(owner), reason: 'notOwner', ineligible: [], noInterface: [], interfaceFallback: false, standbys: standbys.map(n) };
}

describe('standbyDuties', () => {
  const decisions = [
    decision('10.0.0.3', 'a', ['self', 'b']),
    decision('10.0.0.2', 'a', ['b', 'self']),
    decision('10.0.0.9', 'c', ['self', 'a']),
    decision('10.0.0.5', 'self', ['d', 'b']),
    decision('10.0.0.7', 'e', ['a', 'b']),
    decision('10.0.0.8', undefined, []),
  ];
  const recorded = new Map([['10.0.0.3', n('a')], ['10.0.0.2', n('a')], ['10.0.0.5', n('self')], ['10.0.0.7', n('e')]]);

  it('probes the lowest recorded IP of each owner it stands by for, first or second', () => {
    expect([...standbyDuties(n('self'), decisions, recorded).probe]).toEqual([['a', '10.0.0.2']]);
  });

  it('does not probe an owner with no recorded IP (withheld: nobody answers it)', () => {
    expect(standbyDuties(n('self'), decisions, recorded).probe.has(n('c'))).toBe(false);
  });

  it('watches the heartbeats of its owners and of its own standbys, not of strangers', () => {
    expect(standbyDuties(n('self'), decisions, recorded).watch).toEqual(['a', 'b', 'c', 'd']);
  });

  it('the selector names exactly those nodes', () => {
    expect(heartbeatSelector([n('a'), n('b')])).toBe('ironlb.io/lease=heartbeat,ironlb.io/node in (a,b)');
  });
});

describe('miss ledger and reaping', () => {
  const replay = (rounds: RoundResult[]): MissLedger => rounds.reduce<MissLedger>((l, r) => recordRound(l, n('a'), r), new Map());
  const heartbeats = new LivenessTracker(0);
  heartbeats.observe({ node: n('b'), version: '1', holderIdentity: 'b', leaseDurationSeconds: 40, observedAt: 0 });
  heartbeats.observe({ node: n('a'), version: '1', holderIdentity: 'a', leaseDurationSeconds: 40, observedAt: 0 });
  const reapsOf = (ledger: MissLedger, at: number, watched = ['a', 'b', 'c'], members = ['a', 'b', 'c', 'self']): string[] =>
    reapable({ self: n('self'), members: new Set(members.map(n)), ledger, missesToReap: 3, watched: watched.map(n), heartbeats, heartbeatsAt: at }).map((r) => `${r.node}:${r.reason}`);

  it.each([
    { name: 'three unanswered rounds in a row reap', rounds: ['unanswered', 'unanswered', 'unanswered'], want: ['a:probesUnanswered'] },
    { name: 'two do not', rounds: ['unanswered', 'unanswered'], want: [] },
    { name: 'an answer starts the count again', rounds: ['unanswered', 'unanswered', 'answered', 'unanswered', 'unanswered'], want: [] },
    { name: 'unknown rounds (no interface) neither count nor clear', rounds: ['unanswered', 'unknown', 'unanswered', 'unknown', 'unanswered'], want: ['a:probesUnanswered'] },
    { name: 'a fenced owner\'s silence is no miss and clears the count', rounds: ['unanswered', 'unanswered', 'fenced', 'unanswered', 'unanswered'], want: [] },
  ] satisfies { name: string; rounds: RoundResult[]; want: string[] }[])('$name', ({ rounds, want }) => {
    expect(reapsOf(replay(rounds), 1000)).toEqual(want);
  });

  it('a watched heartbeat that ran out reaps; an unseen one does not', () => {
    expect(reapsOf(new Map(), 39_999)).toEqual([]);
    expect(reapsOf(new Map(), 40_000)).toEqual(['a:heartbeatExpired', 'b:heartbeatExpired']);
  });

  it('never a member that already left, never itself, never an unwatched heartbeat', () => {
    expect(reapsOf(new Map([[n('self'), 5]]), 40_000, ['b'], ['a', 'self'])).toEqual([]);
  });

  it.each([
    { name: 'an unanswered round of an owner still alive by its own count is a miss', heard: 'unanswered', lapsed: false, want: 'unanswered' },
    { name: 'of an owner whose heartbeat ran out by its own count, a fence', heard: 'unanswered', lapsed: true, want: 'fenced' },
    { name: 'an answer is an answer either way', heard: 'answered', lapsed: true, want: 'answered' },
    { name: 'unknown stays unknown', heard: 'unknown', lapsed: true, want: 'unknown' },
  ] satisfies { name: string; heard: RoundResult; lapsed: boolean; want: RoundResult }[])('judgeRound: $name', ({ heard, lapsed, want }) => {
    expect(judgeRound(heard, lapsed)).toBe(want);
  });

  it('a new duty starts from zero', () => {
    expect([...keepOwners(new Map([[n('a'), 2], [n('b'), 1]]), [n('b')])]).toEqual([['b', 1]]);
  });
});

describe('LivenessTracker without expiry (membership Leases)', () => {
  it('a held Lease stays alive however old; released, it is dead at once', () => {
    const t = new LivenessTracker(0, false);
    t.observe({ node: n('a'), version: '1', holderIdentity: 'a', leaseDurationSeconds: 40, observedAt: 0 });
    expect(t.isAlive(n('a'), 10_000_000)).toBe(true);
    expect(t.nextChange(0)).toBeUndefined();
    t.observe({ node: n('a'), version: '2', holderIdentity: '', leaseDurationSeconds: 40, observedAt: 1 });
    expect(t.isAlive(n('a'), 2)).toBe(false);
  });
});
