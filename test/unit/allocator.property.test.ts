import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Allocator } from '../../src/ipam/allocator.js';
import type { ServiceRequest } from '../../src/ipam/service-request.js';
import type { ServiceKey } from '../../src/shared/brand.js';
import { checkInvariants, pools, request, type Svc } from './allocator-harness.js';

// Small pools, so that operations collide, run out and get refused often.
const configs = [
  pools('a: 10.0.0.0/29, 2001:db8::/126 | buggy', 'b!: 10.0.1.0/30', 'c: 10.0.2.254-10.0.3.1 | buggy'),
  pools('a: 10.0.0.0/28, 2001:db8::/125', 'b!: 10.0.1.0/30'),
  pools('a: 10.0.0.0/30', 'c: 10.0.2.0/23 | buggy', 'd: 2001:db8::/127'),
];

const svcArb = (name: string): fc.Arbitrary<Svc> =>
  fc.record({
    key: fc.constantFrom(undefined, 'k1', 'k2'),
    ports: fc.subarray(['80/TCP', '80/UDP', '443/TCP'], { minLength: 1 }),
    local: fc.constantFrom(undefined, 'x', 'y'),
    stack: fc.constantFrom(
      { families: ['IPv4'] as const, policy: 'SingleStack' as const },
      { families: ['IPv6'] as const, policy: 'SingleStack' as const },
      { families: ['IPv4', 'IPv6'] as const, policy: 'PreferDualStack' as const },
      { families: ['IPv6', 'IPv4'] as const, policy: 'RequireDualStack' as const },
    ),
    pool: fc.constantFrom(undefined, undefined, 'a', 'b', 'c', 'd'),
    ips: fc.constantFrom([], [], [], ['10.0.0.1'], ['10.0.0.7'], ['10.0.1.2'], ['10.0.2.254'], ['2001:db8::2'], ['192.0.2.1'], ['10.0.0.2', '2001:db8::1']),
  }).map(({ key, ports, local, stack, pool, ips }) => ({
    name,
    created: Number(name.slice(1)),
    ports,
    families: stack.families,
    policy: stack.policy,
    ips,
    ...(key === undefined ? {} : { key }),
    ...(local === undefined ? {} : { local }),
    ...(pool === undefined ? {} : { pool }),
  }));

type Op =
  | { readonly op: 'assign'; readonly svc: Svc }
  | { readonly op: 'release'; readonly name: string }
  | { readonly op: 'config'; readonly index: number }
  | { readonly op: 'restart' };

const names = ['s0', 's1', 's2', 's3', 's4', 's5', 's6', 's7'];
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...names).chain((n) => svcArb(n)).map((svc) => ({ op: 'assign' as const, svc })) },
  { weight: 2, arbitrary: fc.constantFrom(...names).map((name) => ({ op: 'release' as const, name })) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: configs.length - 1 }).map((index) => ({ op: 'config' as const, index })) },
  { weight: 1, arbitrary: fc.constant({ op: 'restart' as const }) },
);

/** A controller restart: a fresh allocator rebuilt from what the Services' status shows. */
function restart(old: Allocator, accepted: ReadonlyMap<ServiceKey, ServiceRequest>): Allocator {
  const fresh = new Allocator(old.currentConfig);
  const entries = [...old.snapshot()].map(([key, a]) => ({ request: accepted.get(key)!, ips: a.ips.map((i) => i.ip) }));
  const outcomes = fresh.restore(entries);
  expect(outcomes.flatMap((o) => o.rejected)).toEqual([]);
  expect(fresh.snapshot()).toEqual(old.snapshot());
  return fresh;
}

function apply(allocator: Allocator, op: Op, accepted: Map<ServiceKey, ServiceRequest>): Allocator {
  switch (op.op) {
    case 'assign': {
      const req = request(op.svc);
      const before = allocator.assignmentOf(req.key);
      const r = allocator.assign(req);
      if (!r.ok) {
        // A refusal changes nothing for the Service.
        expect(allocator.assignmentOf(req.key)).toEqual(before);
        return allocator;
      }
      accepted.set(req.key, req);
      const ips = r.value.assignment.ips;
      if (req.requestedIps.length > 0) expect(ips.map((i) => i.ip).sort((a, b) => a.family - b.family)).toEqual([...req.requestedIps].sort((a, b) => a.family - b.family));
      if (req.requestedPool !== undefined) expect(ips.every((i) => i.pool === req.requestedPool), `${req.key} outside its pool ${req.requestedPool}`).toBe(true);
      expect(ips.length).toBeGreaterThan(0);
      return allocator;
    }
    case 'release':
      allocator.release(`default/${op.name}` as ServiceKey);
      accepted.delete(`default/${op.name}` as ServiceKey);
      return allocator;
    case 'config': {
      const before = allocator.snapshot();
      const r = allocator.setConfig(configs[op.index]!);
      // Accepted or not, no Service loses or changes an IP.
      expect(new Map([...allocator.snapshot()].map(([k, a]) => [k, a.ips.map((i) => i.text)]))).toEqual(new Map([...before].map(([k, a]) => [k, a.ips.map((i) => i.text)])));
      if (!r.ok) expect(r.error.blockers.length).toBeGreaterThan(0);
      return allocator;
    }
    case 'restart':
      return restart(allocator, accepted);
  }
}

describe('allocator properties over random operation sequences', () => {
  it('never gives an IP to two Services that may not share, and keeps every IP inside the config in force', () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 60 }), (ops) => {
        let allocator = new Allocator(configs[0]!);
        const accepted = new Map<ServiceKey, ServiceRequest>();
        for (const op of ops) {
          allocator = apply(allocator, op, accepted);
          checkInvariants(allocator, accepted);
        }
      }),
      { numRuns: Number(process.env.IRONLB_PROPERTY_RUNS ?? 300) },
    );
  });

  it('assign is idempotent: a second identical call changes nothing', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 30 }), svcArb('s9'), (ops, svc) => {
        let allocator = new Allocator(configs[1]!);
        const accepted = new Map<ServiceKey, ServiceRequest>();
        for (const op of ops) allocator = apply(allocator, op, accepted);
        const first = allocator.assign(request(svc));
        const snapshot = allocator.snapshot();
        const second = allocator.assign(request(svc));
        expect(second.ok).toBe(first.ok);
        if (first.ok && second.ok) {
          expect(second.value.assignment).toEqual(first.value.assignment);
          expect(second.value.changed).toBe(false);
        }
        expect(allocator.snapshot()).toEqual(snapshot);
      }),
      { numRuns: 200 },
    );
  });
});
