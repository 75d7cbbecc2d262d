import { pino } from 'pino';
import { Registry } from 'prom-client';
import { createAnnouncer, type Announcer } from '../src/layer2/announcer.js';
import type { NetInterface } from '../src/layer2/interfaces.js';
import { createLayer2Metrics } from '../src/layer2/metrics.js';
import { parseIpv4, parseIpv6 } from '../src/layer2/packet/address.js';
import type { Clock } from '../src/shared/clock.js';
import { MemoryConns } from '../test/helpers/memory-conns.js';
import type { BenchContext, BenchResult, BenchSuite } from './types.js';

// The announcer's own CPU per probe, without sockets or waiting: in-memory PacketConns whose
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

function announcer(): Announcer {
  return createAnnouncer({
    conns: new MemoryConns({ fastPath: true }), interfaces: { list: () => Promise.resolve(interfaces) }, clock: instantClock, logger: pino({ level: 'silent' }),
    metrics: createLayer2Metrics(new Registry()), policy: { patterns: [], explicit: false }, timing: { burstOffsetsMs: [0, 1000, 2000], reannounceMs: 60_000, pollMs: 2000 }, fastPath: true,
  });
}

/** Closes every session (run with an aborted signal only tears down). */
async function close(a: Announcer): Promise<void> {
  const stop = new AbortController();
  stop.abort();
  await a.run(stop.signal);
}

const median = (values: readonly number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
const round = (v: number, digits: number): number => Math.round(v * 10 ** digits) / 10 ** digits;

const steadyBatches = 7;
const probesPerBatch = 200;

/**
 * Microseconds per standby probe (an answers-only probe of an address owned elsewhere on the
 * LAN, as docs/speaker.md "Split liveness" sends every 500 ms per owner) while owning `owned`
 * addresses: the mean of a batch of sequential probes, median of the batches after a warm-up one.
 */
async function steadyProbeUs(owned: number): Promise<number> {
  const a = announcer();
  try {
    await a.probe('10.0.250.1', undefined, { answersOnly: true }); // reads the interfaces
    const set = a.setOwned(lanIps(owned));
    if (!set.ok) throw new Error(set.error.message);
    const means: number[] = [];
    for (let batch = 0; batch <= steadyBatches; batch++) {
      const start = performance.now();
      for (let i = 0; i < probesPerBatch; i++) await a.probe('10.0.250.1', undefined, { answersOnly: true });
      if (batch > 0) means.push(((performance.now() - start) * 1000) / probesPerBatch);
    }
    return median(means);
  } finally {
    await close(a);
  }
}

const burstRounds = 3;
const burstIps = 1000;

/**
 * Milliseconds for `burstIps` probes started at once while this node owns `owned` other
 * addresses, and then the owned set with all of them: a speaker that takes `burstIps` addresses
 * probes each before its first announcement (at start-up, `owned` is 0). Median of rounds.
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
      const start = performance.now();
      const outcomes = await Promise.all(ips.map((ip) => a.probe(ip)));
      const set = a.setOwned([...before, ...ips]);
      samples.push(performance.now() - start);
      if (!set.ok || outcomes.some((o) => o.kind !== 'clear')) throw new Error('a probe was not clear or the owned set was refused');
    } finally {
      await close(a);
    }
  }
  return median(samples);
}

const notes = `
\`announcer.*\`: the announcer's own CPU (src/layer2/announcer.ts), no sockets and no waiting: in-memory
PacketConns (test/helpers/memory-conns.ts) whose native fast-path tables are packed as
src/sys/af-packet.ts packs them (the addon's sort of each table is not counted), four interfaces
(the LAN, an uplink with the default route, loopback, a bond member), and a clock whose sleeps end
at the next event-loop turn. \`probe_us.owning_N\`: one standby probe (answers only, of an address
owned elsewhere, docs/speaker.md "Split liveness") while this node owns N addresses, mean of
${String(probesPerBatch)} sequential probes, median of ${String(steadyBatches)} batches; \`ratio_1000_vs_10\` is owning_1000 over
owning_10, 1 when a probe costs the same whatever this node owns. \`probes_1000_ms.owning_N\`: ${String(burstIps)}
probes started at once while this node owns N other addresses (a speaker that takes ${String(burstIps)}
addresses probes each before its first announcement; at start-up N is 0), then the owned set
with all of them, median of ${String(burstRounds)} rounds.
`;

/** `npm run bench -- --only announcer` (no root: nothing touches the network). */
export const announcerSuite: BenchSuite & { readonly notes: string } = {
  name: 'announcer',
  needsRoot: false,
  notes,
  async run(ctx: BenchContext): Promise<readonly BenchResult[]> {
    const out: BenchResult[] = [];
    if (ctx.wants?.('announcer.probe_us') !== false) {
      const small = await steadyProbeUs(10);
      const large = await steadyProbeUs(1000);
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
