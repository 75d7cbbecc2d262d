import type { ChildProcess } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { standbysLogged } from '../../bench/speaker.js';
import type { SpeakerProcess } from '../netns/speaker-cluster.js';
import { leaseWritesPerS, simulatedInterfaces, soleOwners, windowFor } from '../../bench/scale.js';
import type { NodeName, ServiceKey } from '../../src/shared/brand.js';
import { desiredAnnouncements } from '../../src/speaker/desired.js';
import { parseInterfacesRecord, reachOfLeases, toInterfacesRecord } from '../../src/speaker/interfaces-record.js';

/**
 * 1,000 simulated nodes renewing every 10 s, booted in 40 batches of 25 (bench/scale-nodes.ts):
 * their renewals come in clumps of 25, one clump every 250 ms, the first at `from`.
 */
function clumpedRenewals(from: number, periods: number): { at: number; verb: string; resource: string }[] {
  const out: { at: number; verb: string; resource: string }[] = [];
  for (let p = 0; p <= periods; p += 1) {
    for (let clump = 0; clump < 40; clump += 1) {
      for (let i = 0; i < 25; i += 1) out.push({ at: from + p * 10_000 + clump * 250, verb: 'update', resource: 'leases' });
    }
  }
  return out;
}

describe('the scale bench counts writes over whole renewal periods', () => {
  it.each([
    { name: 'one period when the window is as long', periodMs: 10_000, atLeastMs: 10_000, want: 10_000 },
    { name: 'whole periods covering the window', periodMs: 1000, atLeastMs: 10_000, want: 10_000 },
    { name: 'rounded up to a whole period', periodMs: 3000, atLeastMs: 10_000, want: 12_000 },
    { name: 'at least one period', periodMs: 10_000, atLeastMs: 1000, want: 10_000 },
  ])('window: $name', ({ periodMs, atLeastMs, want }) => {
    expect(windowFor(periodMs, atLeastMs)).toBe(want);
  });

  it('counts each clump once when a clump falls on both edges of the window', () => {
    const from = 1_000_000;
    const entries = clumpedRenewals(from, 2);
    // The next period's first clump lands exactly where the window closes: not in it.
    expect(leaseWritesPerS(entries, entries.length, from, 10_000)).toBe(100);
    expect(leaseWritesPerS(entries, entries.length, from, 20_000)).toBe(100);
  });

  it('counts only Lease writes', () => {
    const from = 0;
    const entries = [
      { at: 10, verb: 'update', resource: 'leases' },
      { at: 20, verb: 'create', resource: 'leases' },
      { at: 30, verb: 'get', resource: 'leases' },
      { at: 40, verb: 'watch', resource: 'leases' },
      { at: 50, verb: 'update', resource: 'services' },
      { at: -1, verb: 'update', resource: 'leases' },
    ];
    expect(leaseWritesPerS(entries, entries.length, from, 1000)).toBe(2);
  });

  it('refuses a window the request log no longer holds whole', () => {
    expect(leaseWritesPerS([{ at: 1, verb: 'update', resource: 'leases' }], 2, 0, 1000)).toBeUndefined();
  });
});

describe('the scale-real bench waits for one owner per IP', () => {
  it.each([
    { name: 'every IP recorded once', records: [['a', ['1', '2']], ['b', ['3']]] as const, want: 3 },
    { name: 'an IP recorded twice while it moves', records: [['a', ['1', '2']], ['b', ['2', '3', '4']]] as const, want: -1 },
    { name: 'nothing yet', records: [] as const, want: 0 },
  ])('$name', ({ records, want }) => {
    expect(soleOwners(new Map(records.map(([n, ips]) => [n, [...ips]])))).toBe(want);
  });
});

describe('the simulated members of the 1,000-member run stay out of the pools', () => {
  const real = ['node-1', 'node-2', 'node-3'] as const;
  const sim = Array.from({ length: 997 }, (_, i) => `sim-${String(i).padStart(4, '0')}`);
  const records = new Map<string, string>([
    ...real.map((n, i): [string, string] => [n, `eth0=02:00:00:00:00:0${String(i + 1)};10.1.2.0/24`]),
    ...sim.map((n, i): [string, string] => [n, simulatedInterfaces(i, '172.30.0.0/16')]),
  ]);

  it('publishes a record the speaker reads, one MAC per member', () => {
    const macs = sim.map((_, i) => parseInterfacesRecord(simulatedInterfaces(i, '172.30.0.0/16'))).map((r) => (r.ok ? r.value[0]?.mac : undefined));
    expect(macs.every((m) => m !== undefined)).toBe(true);
    expect(new Set(macs).size).toBe(sim.length);
  });

  it('the real election gives every pool IP, and every standby, to a real node (noInterface)', () => {
    const nodes = [...records.keys()] as NodeName[];
    const all = new Set(nodes);
    const elected = desiredAnnouncements({
      self: 'node-1' as NodeName,
      services: Array.from({ length: 20 }, (_, i) => ({ key: `demo/s${String(i)}` as ServiceKey, ips: [`10.1.2.${String(10 + i)}`], endpoints: [{ ready: true, serving: true, terminating: false }], trafficPolicy: 'Cluster' as const })),
      nodes: nodes.map((name) => ({ name, labels: {}, conditions: {} })),
      alive: all,
      settled: all,
      currentOwners: new Map(),
      reach: reachOfLeases([...records].map(([node, text]) => ({ node: node as NodeName, interfaces: toInterfacesRecord(text) }))),
      isLayer2: () => true,
      options: { ignoreExcludeLabel: false },
      standbyCount: 2,
    });
    const decisions = [...elected.ips.values()];
    expect(decisions).toHaveLength(20);
    for (const d of decisions) {
      expect(real).toContain(d.owner);
      for (const s of d.standbys ?? []) expect(real).toContain(s);
      expect(d.noInterface).toHaveLength(sim.length);
    }
  });
});

describe('a failover round waits for the owner\'s standbys (their standbyDuties log lines)', () => {
  const proc = (node: string, lines: readonly object[], exited = false): SpeakerProcess => ({
    node,
    child: { exitCode: exited ? 0 : null, signalCode: null } as unknown as ChildProcess,
    output: () => lines.map((l) => JSON.stringify(l)).join('\n'),
  });
  const duties = (probing: readonly string[]): object => ({ level: 30, component: 'standby', event: 'standbyDuties', probing, started: [], stopped: [] });

  it.each([
    { name: 'the last line of each running speaker counts', speakers: [proc('a', [duties(['o:10.0.0.1'])]), proc('b', [duties(['x:10.0.0.2', 'o:10.0.0.1'])])], want: 2 },
    { name: 'a later line that stopped probing the owner', speakers: [proc('a', [duties(['o:10.0.0.1']), duties(['x:10.0.0.2'])])], want: 0 },
    { name: 'an exited speaker does not count', speakers: [proc('a', [duties(['o:10.0.0.1'])], true)], want: 0 },
    { name: 'no duties logged yet', speakers: [proc('a', [{ event: 'speakerStarting' }])], want: 0 },
    { name: 'an owner whose name is a prefix of another', speakers: [proc('a', [duties(['o2:10.0.0.1'])])], want: 0 },
  ])('$name', ({ speakers, want }) => {
    expect(standbysLogged(speakers, 'o')).toBe(want);
  });
});
