import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { electOwners, type ElectionInput } from '../../src/election/election.js';
import { createRendezvousMemo } from '../../src/election/rendezvous-memo.js';
import { rendezvousOrder, sha256Hex, type HashFn } from '../../src/election/rendezvous.js';
import type { ElectionService } from '../../src/election/views.js';
import type { NodeName, ServiceKey } from '../../src/shared/brand.js';

const n = (name: string): NodeName => name as NodeName;
const names = Array.from({ length: 14 }, (_, i) => n(`n${String(i).padStart(2, '0')}`));
const anchors = ['192.0.2.1', '192.0.2.2', '2001:db8::1'];
/** A hash with many ties (one hex digit), so the tie-break by node name is part of the order. */
const tieHash: HashFn = (s) => sha256Hex(s).slice(0, 1);

describe('createRendezvousMemo', () => {
  it('keeps, per anchor, an exact prefix of the rendezvous order over the known nodes, through joins and departures', () => {
    fc.assert(
      fc.property(
        fc.array(fc.subarray(names), { minLength: 1, maxLength: 8 }),
        fc.integer({ min: 1, max: 6 }),
        fc.boolean(),
        fc.array(fc.constantFrom(...anchors), { minLength: 1, maxLength: 8 }),
        (knownSets, keep, ties, asked) => {
          const hash = ties ? tieHash : sha256Hex;
          const memo = createRendezvousMemo({ hash, keep });
          knownSets.forEach((known, step) => {
            memo.sync(known);
            // Ask for some anchors at some steps only, so remembered prefixes live through several syncs.
            const anchor = asked[step % asked.length] ?? '';
            const prefix = memo.prefix(anchor);
            const full = rendezvousOrder(known, anchor, hash, known.length);
            expect(prefix.nodes).toEqual(full.slice(0, prefix.nodes.length));
            expect(prefix.nodes.length).toBeLessThanOrEqual(keep);
            if (prefix.complete) expect(prefix.nodes).toEqual(full);
            else expect(prefix.nodes.length).toBeGreaterThanOrEqual(Math.ceil(keep / 2));
          });
        },
      ),
      { numRuns: 500 },
    );
  });

  it('forgets anchors no election used', () => {
    const memo = createRendezvousMemo({ hash: sha256Hex });
    memo.sync(names);
    memo.prefix('192.0.2.1');
    memo.prefix('192.0.2.2');
    memo.retain(new Set(['192.0.2.2']));
    expect(memo.size()).toBe(1);
  });
});

describe('an election with a warm memo (docs/election.md "Cost")', () => {
  /** 40 nodes, 30 single-IP Cluster Services with an endpoint everywhere: every node a candidate for every IP. */
  function input(alive: readonly NodeName[], standbyCount: number): ElectionInput {
    const services: ElectionService[] = Array.from({ length: 30 }, (_, i) => ({
      key: `ns/s${String(i)}` as ServiceKey,
      ips: [`192.0.2.${String(i + 1)}`],
      trafficPolicy: 'Cluster',
      endpoints: [{ ready: true, serving: true, terminating: false }],
    }));
    return {
      services,
      cluster: { nodes: new Map(nodes40.map((name) => [name, { name, labels: {}, conditions: {} }])), alive: new Set(alive), options: { ignoreExcludeLabel: false } },
      settled: new Set(alive),
      currentOwners: new Map(),
      standbyCount,
    };
  }
  const nodes40 = Array.from({ length: 40 }, (_, i) => n(`node-${String(i).padStart(2, '0')}`));

  it('hashes nothing after a member leaves, one hash per IP when a node joins, and answers as a cold one', () => {
    let calls = 0;
    const counting: HashFn = (s) => {
      calls += 1;
      return sha256Hex(s);
    };
    const memo = createRendezvousMemo({ hash: counting });
    electOwners(input(nodes40, 2), counting, memo);
    // Cold: each anchor's order built once over the 40 known nodes.
    expect(calls).toBe(30 * 40);

    calls = 0;
    const reaped = nodes40.slice(1);
    const warm = electOwners(input(reaped, 2), counting, memo);
    // A reaped member is still a known node (its Node object stays): nothing to hash.
    expect(calls).toBe(0);
    expect([...warm]).toEqual([...electOwners(input(reaped, 2), sha256Hex)]);

    calls = 0;
    const joined = n('node-new');
    const withJoined = { ...input([...nodes40, joined], 3), cluster: { ...input([...nodes40, joined], 3).cluster, nodes: new Map([...nodes40, joined].map((name) => [name, { name, labels: {}, conditions: {} }])) } };
    const after = electOwners(withJoined, counting, memo);
    expect(calls).toBe(30);
    expect([...after]).toEqual([...electOwners(withJoined, sha256Hex)]);
  });
});
