import { pino } from 'pino';
import { Registry } from 'prom-client';
import { createAnnouncer, type Announcer, type InterfaceSource } from '../../src/layer2/announcer.js';
import type { NetInterface } from '../../src/layer2/interfaces.js';
import { createLayer2Metrics } from '../../src/layer2/metrics.js';
import { FakeClock } from './fake-clock.js';
import { MemoryConns, type MemoryConnsOptions } from './memory-conns.js';

/** A settable interface list: tests change `current` to make interfaces come and go. */
export class FixedInterfaces implements InterfaceSource {
  constructor(public current: readonly NetInterface[]) {}
  list(): Promise<readonly NetInterface[]> {
    return Promise.resolve(this.current);
  }
}

/** An announcer running over in-memory PacketConns on a fake clock, and what a test looks at. */
export interface TestAnnouncer<C extends FakeClock = FakeClock> {
  readonly clock: C;
  readonly conns: MemoryConns;
  readonly source: FixedInterfaces;
  readonly registry: Registry;
  readonly announcer: Announcer;
  /** Aborting it stops the announcer; `running` settles then. */
  readonly stop: AbortController;
  readonly running: Promise<void>;
}

/**
 * Starts an announcer (fast path on, bursts at 0, 1 and 2 s, re-announcing every 60 s, polling
 * interfaces every 2 s) over `interfaces`, with in-memory conns (`conns`: with native fast paths
 * or not) and a fake clock (`clock`, or a new one).
 */
export function startTestAnnouncer<C extends FakeClock = FakeClock>(interfaces: readonly NetInterface[], given?: C, conns: MemoryConnsOptions = {}): TestAnnouncer<C> {
  const clock = given ?? (new FakeClock() as C);
  const memory = new MemoryConns(conns);
  const source = new FixedInterfaces(interfaces);
  const registry = new Registry();
  const announcer = createAnnouncer({
    conns: memory, interfaces: source, clock, logger: pino({ level: 'silent' }), metrics: createLayer2Metrics(registry),
    policy: { patterns: [], explicit: false }, timing: { burstOffsetsMs: [0, 1000, 2000], reannounceMs: 60_000, pollMs: 2000 }, fastPath: true,
  });
  const stop = new AbortController();
  const running = announcer.run(stop.signal);
  return { clock, conns: memory, source, registry, announcer, stop, running };
}
