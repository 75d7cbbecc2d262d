import { parseConfigYaml } from '../src/config/config-yaml.js';
import { Allocator } from '../src/ipam/allocator.js';
import type { ServiceRequest } from '../src/ipam/service-request.js';
import { serviceKey } from '../src/shared/brand.js';
import type { BenchContext, BenchResult, BenchSuite } from './types.js';

interface Case {
  readonly name: string;
  readonly addresses: string;
  readonly family: 4 | 6;
  /** Allocations per round. */
  readonly count: number;
  /** Timed rounds (after one warm-up round); the median is reported. */
  readonly rounds: number;
}

const cases: readonly Case[] = [
  // The three figures of the issue.
  { name: 'v4_24', addresses: '10.0.0.0/24', family: 4, count: 250, rounds: 200 },
  { name: 'v4_16_full', addresses: '10.0.0.0/16', family: 4, count: 65_536, rounds: 7 },
  { name: 'v6_64', addresses: '2001:db8::/64', family: 6, count: 10_000, rounds: 25 },
  // The same numbers of allocations in pools of other sizes: these isolate pool size from the
  // number of Services held (which costs in any JS heap: bigger Maps, more GC copying).
  { name: 'v4_16_250', addresses: '10.0.0.0/16', family: 4, count: 250, rounds: 200 },
  { name: 'v6_64_250', addresses: '2001:db8::/64', family: 6, count: 250, rounds: 200 },
  { name: 'v4_16_10000', addresses: '10.0.0.0/16', family: 4, count: 10_000, rounds: 25 },
];

/** [bigger, baseline]: the allocation cost of `bigger` over that of `baseline`. */
const ratios: readonly (readonly [string, string])[] = [
  ['v4_16_full', 'v4_24'],
  ['v6_64', 'v4_24'],
  ['v4_16_250', 'v4_24'],
  ['v6_64_250', 'v4_24'],
  ['v6_64', 'v4_16_10000'],
];

/** The DESIGN.md target: allocation cost must not grow with pool size. */
const perAllocTarget = '< 20';
const ratioTarget = '<= 2';

function requests(c: Case): ServiceRequest[] {
  return Array.from({ length: c.count }, (_, i) => ({
    key: serviceKey('bench', `svc-${i}`),
    createdAt: i,
    requestedIps: [],
    ports: [{ port: 80, protocol: 'TCP' }],
    externalTrafficPolicy: 'Cluster',
    selector: { app: 'bench' },
    ipFamilies: [c.family],
    ipFamilyPolicy: 'SingleStack',
  }));
}

/** Microseconds per allocation to fill `count` addresses of a fresh allocator: one round. */
function round(c: Case, reqs: readonly ServiceRequest[]): number {
  const config = parseConfigYaml(`address-pools:\n- {name: bench, protocol: layer2, addresses: ["${c.addresses}"]}\n`);
  if (!config.ok) throw new Error(`bench config: ${config.error.map((i) => i.message).join('; ')}`);
  const allocator = new Allocator(config.value);
  const start = process.hrtime.bigint();
  for (const req of reqs) {
    const r = allocator.assign(req);
    if (!r.ok) throw new Error(`allocation ${req.key} failed: ${r.error.message}`);
  }
  const elapsedNs = Number(process.hrtime.bigint() - start);
  return elapsedNs / 1000 / reqs.length;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const round2 = (n: number): number => Math.round(n * 100) / 100;

function measure(c: Case, ctx: BenchContext): number {
  const reqs = requests(c);
  round(c, reqs); // warm-up: JIT and inline caches
  const samples: number[] = [];
  for (let i = 0; i < c.rounds; i++) samples.push(round(c, reqs));
  const value = median(samples);
  ctx.log(`allocator ${c.name}: ${c.count} allocations x ${c.rounds} rounds, median ${value.toFixed(2)} us/allocation`);
  return value;
}

/** Allocation cost in small and huge pools: a /64 and a full /16 must cost what a /24 does. */
export const allocatorSuite: BenchSuite = {
  name: 'allocator',
  needsRoot: false,
  run(ctx: BenchContext): Promise<readonly BenchResult[]> {
    const us = new Map(cases.map((c) => [c.name, measure(c, ctx)]));
    const results: BenchResult[] = cases.map((c) => ({ name: `allocator.alloc_us.${c.name}`, value: round2(us.get(c.name)!), unit: 'us', target: perAllocTarget }));
    for (const [big, base] of ratios) {
      results.push({ name: `allocator.ratio.${big}_vs_${base}`, value: round2(us.get(big)! / us.get(base)!), unit: 'x', target: ratioTarget });
    }
    return Promise.resolve(results);
  },
};
