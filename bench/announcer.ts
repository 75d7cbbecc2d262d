import { pino } from 'pino';
import { Registry } from 'prom-client';
import { createAnnouncer, type Announcer } from '../src/layer2/announcer.js';
import type { NetInterface } from '../src/layer2/interfaces.js';
import { createLayer2Metrics } from '../src/layer2/metrics.js';
import { parseIpv4, parseIpv6 } from '../src/layer2/packet/address.js';
import type { Clock } from '../src/shared/clock.js';
import { MemoryConns } from '../test/helpers/memory-conns.js';
import type { BenchContext, BenchResult, BenchSuite } from './types.js';

// The announcer's own CPU per probe (process.cpuUsage: this machine is shared, and wall time
// measures the neighbours too), without sockets or waiting: in-memory PacketConns whose
// fast-path tables are packed as src/sys/af-packet.ts packs them for the addon (the addon's sort
// of the table is not counted), a fixed interface list, and a clock whose sleeps end at the next
// turn of the event loop, so a probe's three rounds and its window cost four turns, not 600 ms.

/** Sleeps end at the next event-loop turn (setImmediate); time is the real monotonic clock. */
const instantClock: Clock = {
  now: () => performance.now(),
  wallTime: () => new Date(),
  sleep: (_ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted === true) reject(signal.reason as Error);
      else setImmediate(resolve);
    }),
};

const mac = (n: number): string => `02:00:00:00:00:${n.toString(16).padStart(2, '0')}`;

/** A node's interfaces: the LAN the Service addresses are on, an uplink with the default route, loopback, a bond member. */
const interfaces: readonly NetInterface[] = [
  { name: 'lo', index: 1, mac: '00:00:00:00:00:00', up: true, noArp: true, loopback: true, member: false, prefixes: [], defaultRoute4: false, defaultRoute6: false },
  {
    name: 'eth0', index: 2, mac: mac(1), up: true, noArp: false, loopback: false, member: false, defaultRoute4: false, defaultRoute6: false,
    prefixes: [{ family: 4, bytes: parseIpv4('10.0.0.1')!, length: 16 }, { family: 6, bytes: parseIpv6('fd00::1')!, length: 64 }],
  },
  { name: 'eth1', index: 3, mac: mac(2), up: true, noArp: false, loopback: false, member: false, defaultRoute4: true, defaultRoute6: true, prefixes: [{ family: 4, bytes: parseIpv4('192.168.1.2')!, length: 24 }] },
  { name: 'eth2', index: 4, mac: mac(3), up: true, noArp: false, loopback: false, member: true, defaultRoute4: false, defaultRoute6: false, prefixes: [] },
];

/** `count` LAN addresses from `first` on (10.0.x.y). */
const lanIps = (count: number, first = 0): string[] => Array.from({ length: count }, (_, i) => `10.0.${String(Math.floor((first + i) / 250))}.${String(((first + i) % 250) + 1)}`);

/** An announcer over in-memory conns; `conns` to drop the frames they recorded between batches. */
function announcer(): Announcer & { readonly conns: MemoryConns } {
  const conns = new MemoryConns({ fastPath: true });
  const a = createAnnouncer({
    conns, interfaces: { list: () => Promise.resolve(interfaces) }, clock: instantClock, logger: pino({ level: 'silent' }),
    metrics: createLayer2Metrics(new Registry()), policy: { patterns: [], explicit: false }, timing: { burstOffsetsMs: [0, 1000, 2000], reannounceMs: 60_000, pollMs: 2000 }, fastPath: true,
  });
  return Object.assign(a, { conns });
}

/** Closes every session (run with an aborted signal only tears down). */
async function close(a: Announcer): Promise<void> {
  const stop = new AbortController();
  stop.abort();
  await a.run(stop.signal);
}

const round = (v: number, digits: number): number => Math.round(v * 10 ** digits) / 10 ** digits;

const warmUpBatches = 5;
const steadyBatches = 20;
const probesPerBatch = 200;

/** This process's CPU time (user and system) in microseconds: on a shared machine, wall time measures the neighbours too. */
const cpuUs = (): number => {
  const { user, system } = process.cpuUsage();
  return user + system;
};

/**
 * CPU microseconds per probe: the mean of a batch of `probesPerBatch` sequential standby probes.
 * The frames the in-memory conns recorded are dropped first: kept, they grow the heap batch by batch.
 */
async function batchUs(a: Announcer & { readonly conns: MemoryConns }): Promise<number> {
  for (const conn of a.conns.opened) conn.sent.length = 0;
  const start = cpuUs();
  for (let i = 0; i < probesPerBatch; i++) await a.probe('10.0.250.1', undefined, { answersOnly: true });
  return (cpuUs() - start) / probesPerBatch;
}

/**
 * Microseconds per standby probe (an answers-only probe of an address owned elsewhere on the
 * LAN, as docs/speaker.md "Split liveness" sends every 500 ms per owner) for each owned-set size
 * in `sizes`: one announcer per size, their batches interleaved, in turns (so load on this shared
 * machine and the JIT's state fall on all alike); the fastest batch after warm-up batches. Batch
 * means spread from 1x to 4x of it from one batch to the next, on an idle machine as much as on a
 * loaded one (garbage collection lands on some batches, not others): the fastest batch is the
 * work itself, the same for both sizes when that work does not grow with the owned set.
 */
async function steadyProbeUs(sizes: readonly number[]): Promise<number[]> {
  const announcers = sizes.map(() => announcer());
  try {
    for (const [i, a] of announcers.entries()) {
      await a.probe('10.0.250.1', undefined, { answersOnly: true }); // reads the interfaces
      if (!a.setOwned(lanIps(sizes[i] ?? 0)).ok) throw new Error('the owned set was refused');
    }
    for (let batch = 0; batch < warmUpBatches; batch++) for (const a of announcers) await batchUs(a);
    const means = sizes.map((): number[] => []);
    for (let batch = 0; batch < steadyBatches; batch++) {
      const order = [...announcers.entries()];
      if (batch % 2 === 1) order.reverse();
      for (const [i, a] of order) means[i]?.push(await batchUs(a));
    }
    return means.map((m) => Math.min(...m));
  } finally {
    for (const a of announcers) await close(a);
  }
}

const burstRounds = 5;
const burstIps = 1000;

/**
 * CPU milliseconds for `burstIps` probes started at once while this node owns `owned` other
 * addresses, and then the owned set with all of them: a speaker that takes `burstIps` addresses
 * probes each before its first announcement (at start-up, `owned` is 0). The fastest round, as for `steadyProbeUs`.
 */
async function burstMs(owned: number): Promise<number> {
  const samples: number[] = [];
  for (let r = 0; r < burstRounds; r++) {
    const a = announcer();
    try {
      await a.probe('10.0.250.1', undefined, { answersOnly: true }); // reads the interfaces
      const before = lanIps(owned, burstIps);
      if (!a.setOwned(before).ok) throw new Error('the owned set was refused');
      const ips = lanIps(burstIps);
      const start = cpuUs();
      const outcomes = await Promise.all(ips.map((ip) => a.probe(ip)));
      const set = a.setOwned([...before, ...ips]);
      samples.push((cpuUs() - start) / 1000);
      if (!set.ok || outcomes.some((o) => o.kind !== 'clear')) throw new Error('a probe was not clear or the owned set was refused');
    } finally {
      await close(a);
    }
  }
  return Math.min(...samples);
}

const notes = `
\`announcer.*\`: the announcer's own CPU (src/layer2/announcer.ts; user and system time of the bench
process, not wall time, since this machine is shared), no sockets and no waiting: in-memory
PacketConns (test/helpers/memory-conns.ts) whose native fast-path tables are packed as
src/sys/af-packet.ts packs them (the addon's sort of each table is not counted), four interfaces
(the LAN, an uplink with the default route, loopback, a bond member), and a clock whose sleeps end
at the next event-loop turn. \`probe_us.owning_N\`: one standby probe (answers only, of an address
owned elsewhere, docs/speaker.md "Split liveness") while this node owns N addresses, mean of
${String(probesPerBatch)} sequential probes, the fastest of ${String(steadyBatches)} batches (batch means spread up to 4x as garbage collection lands on some and not
others), the two sizes' batches interleaved; \`ratio_1000_vs_10\` is owning_1000 over
owning_10, 1 when a probe costs the same whatever this node owns. \`probes_1000_ms.owning_N\`: ${String(burstIps)}
probes started at once while this node owns N other addresses (a speaker that takes ${String(burstIps)}
addresses probes each before its first announcement; at start-up N is 0), then the owned set
with all of them, the fastest of ${String(burstRounds)} rounds. To measure the code from before a
probe's end stopped re-placing every owned address (docs/layer2.md, "Cost of a probe"), check out
src/layer2/announcer.ts, interface-session.ts and interfaces.ts from the commit that added this
suite and run the same command.
`;

/** `npm run bench -- --only announcer` (no root: nothing touches the network). */
export const announcerSuite: BenchSuite & { readonly notes: string } = {
  name: 'announcer',
  needsRoot: false,
  notes,
  async run(ctx: BenchContext): Promise<readonly BenchResult[]> {
    const out: BenchResult[] = [];
    if (ctx.wants?.('announcer.probe_us') !== false) {
      const [small = 0, large = 0] = await steadyProbeUs([10, 1000]);
      ctx.log(`announcer: a standby probe costs ${small.toFixed(1)} us owning 10, ${large.toFixed(1)} us owning 1000`);
      out.push(
        { name: 'announcer.probe_us.owning_10', value: round(small, 1), unit: 'us' },
        { name: 'announcer.probe_us.owning_1000', value: round(large, 1), unit: 'us' },
        { name: 'announcer.probe_us.ratio_1000_vs_10', value: round(large / small, 2), unit: 'x', target: '<= 1.5' },
      );
    }
    if (ctx.wants?.('announcer.probes_1000_ms') !== false) {
      for (const owned of [0, 1000]) {
        const ms = await burstMs(owned);
        ctx.log(`announcer: ${String(burstIps)} probes at once owning ${String(owned)}, then owning them too: ${ms.toFixed(0)} ms`);
        out.push({ name: `announcer.probes_1000_ms.owning_${String(owned)}`, value: round(ms, 1), unit: 'ms' });
      }
    }
    return out;
  },
};
