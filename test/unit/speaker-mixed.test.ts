import { pino } from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/config.js';
import { parseConfigYaml } from '../../src/config/config-yaml.js';
import { defaultExpiryGraceMs } from '../../src/election/liveness.js';
import type { NodeName, ServiceKey } from '../../src/shared/brand.js';
import { ok, type Result } from '../../src/shared/result.js';
import type { LivenessMode, SpeakerLeaseView } from '../../src/speaker/lease-view.js';
import { createSpeakerMetrics } from '../../src/speaker/metrics.js';
import { createSpeaker, type ProbeOutcome, type ServiceRecord, type Speaker } from '../../src/speaker/speaker.js';
import type { StandbyDuties } from '../../src/speaker/standby.js';
import type { StandbyLoop } from '../../src/speaker/standby-loop.js';
import { FakeClock } from '../helpers/fake-clock.js';

/**
 * Speakers of both liveness modes in one cluster, as during a rolling switch of the DaemonSet
 * (docs/election.md, "Mixed modes"): every speaker judges each peer's Lease by the rule of the
 * mode that peer runs, so all of them elect the same owner and no IP has two answerers, whatever
 * mode the judging speaker runs. Fake clock, fake ports, the real loop and election.
 */

const n = (s: string): NodeName => s as NodeName;
const nodes = ['a', 'b', 'c'].map(n);
const ips = Array.from({ length: 12 }, (_, i) => `192.0.2.${String(10 + i)}`);

function config(): Config {
  const parsed = parseConfigYaml('address-pools:\n- name: default\n  protocol: layer2\n  addresses: [192.0.2.0/24]\n');
  if (!parsed.ok) throw new Error('bad test config');
  return parsed.value;
}

const services: ServiceRecord[] = ips.map((ip, i) => ({
  service: { key: `ns/s${String(i)}` as ServiceKey, ips: [ip], trafficPolicy: 'Cluster', endpoints: nodes.map((x) => ({ nodeName: x, ready: true, serving: true, terminating: false })) },
  ref: { apiVersion: 'v1', kind: 'Service', namespace: 'ns', name: `s${String(i)}` },
}));

/** How a speaker of each mode writes its Lease: lease mode 3 s renewed every second; split a membership Lease held (`splitDurationS`). */
interface Member {
  readonly node: NodeName;
  readonly mode: LivenessMode;
  version: number;
  holder: string;
  announcing: readonly string[];
  /** Local time until which this node counts itself alive (its renewals, or its heartbeat). */
  aliveUntil: number;
  speaker?: Speaker;
  stop?: () => Promise<void>;
  owned: readonly string[];
  duties: StandbyDuties[];
}

class Cluster {
  readonly clock = new FakeClock(0);
  readonly members = new Map<NodeName, Member>();

  constructor(modes: Readonly<Record<string, LivenessMode>>, private readonly splitDurationS: number) {
    for (const node of nodes) this.members.set(node, { node, mode: modes[node] ?? 'lease', version: 1, holder: node, announcing: [], aliveUntil: 0, owned: [], duties: [] });
  }

  view(m: Member): SpeakerLeaseView {
    return {
      node: m.node,
      version: String(m.version),
      holderIdentity: m.holder,
      leaseDurationSeconds: m.mode === 'split' ? this.splitDurationS : 3,
      acquireTime: '2026-01-01T00:00:00.000Z',
      renewTime: '2026-01-01T00:01:00.000Z',
      announcing: m.announcing,
      mode: m.mode,
    };
  }

  /** Every running speaker sees `m`'s Lease as it is now (a watch event). */
  publish(m: Member): void {
    for (const other of this.members.values()) other.speaker?.observeLease(this.view(m));
  }

  async start(): Promise<void> {
    for (const m of this.members.values()) {
      m.aliveUntil = m.mode === 'split' ? Number.POSITIVE_INFINITY : this.clock.now() + 3000;
      const ac = new AbortController();
      const speaker = createSpeaker({
        self: m.node,
        inputs: { services: () => services, nodes: () => nodes.map((x) => ({ name: x, labels: {}, conditions: {} })), config, leaseViewLostAt: () => undefined },
        announcer: {
          setOwned: (set: Iterable<string>): Result<void, { message: string }> => { m.owned = [...set]; return ok(undefined); },
          probe: (): Promise<ProbeOutcome> => Promise.resolve({ kind: 'clear' }),
          defend: () => undefined,
        },
        membership: {
          aliveUntil: () => m.aliveUntil,
          setRecord: (set) => {
            if (set.join(',') === m.announcing.join(',')) return;
            m.announcing = set;
            m.version += 1;
            this.publish(m);
          },
          setAnnotation: () => undefined,
          touch: () => undefined,
        },
        events: { emit: () => undefined },
        metrics: createSpeakerMetrics(new Registry()),
        clock: this.clock,
        logger: pino({ level: 'silent' }),
        standby: standbyRecorder(m),
        options: { ignoreExcludeLabel: false, holdDownMs: 0, debounceMs: 10, conflicts: { reprobeMs: 30_000, selfCheckMs: 0, probeFirst: false }, ...(m.mode === 'split' ? { split: { standbyCount: 2 } } : {}) },
      });
      m.speaker = speaker;
      const running = speaker.run(ac.signal, Promise.resolve());
      m.stop = async () => { ac.abort(); await running; };
    }
    for (const m of this.members.values()) this.publish(m);
    await this.clock.advance(20);
  }

  /** `ms` of time, lease-mode speakers that still run renewing every second as they do. */
  async run(ms: number, renewing: (m: Member) => boolean = (m) => m.speaker !== undefined): Promise<void> {
    for (let t = 0; t < ms; t += 250) {
      const second = Math.floor(this.clock.now() / 1000);
      await this.clock.advance(Math.min(250, ms - t));
      if (Math.floor(this.clock.now() / 1000) === second) continue;
      for (const m of this.members.values()) {
        if (m.mode !== 'lease' || !renewing(m)) continue;
        m.version += 1;
        m.aliveUntil = this.clock.now() + 3000;
        this.publish(m);
      }
    }
  }

  /** A crash: the speaker stops without a word (its Lease stays as it was). */
  async crash(node: NodeName): Promise<void> {
    const m = this.member(node);
    await m.stop?.();
    m.owned = [];
    delete m.speaker;
  }

  member(node: NodeName): Member {
    const m = this.members.get(node);
    if (m === undefined) throw new Error(`no ${node}`);
    return m;
  }

  /** ip -> running speakers that answer it. */
  answerers(): Map<string, NodeName[]> {
    const out = new Map<string, NodeName[]>(ips.map((ip) => [ip, []]));
    for (const m of this.members.values()) for (const ip of m.owned) out.get(ip)?.push(m.node);
    return out;
  }

  /** The invariant of a rolling switch: never two answerers for one IP. */
  expectAtMostOne(): void {
    for (const [ip, who] of this.answerers()) expect(who.length, `${ip} answered by ${who.join(',')}`).toBeLessThanOrEqual(1);
  }

  expectEveryIpAnswered(): void {
    for (const [ip, who] of this.answerers()) expect(who.length, `${ip} answered by ${who.join(',') || 'nobody'}`).toBe(1);
  }

  async close(): Promise<void> {
    for (const m of this.members.values()) await m.stop?.();
  }
}

function standbyRecorder(m: Member): StandbyLoop {
  return {
    observeHeartbeat: () => undefined,
    forgetHeartbeat: () => undefined,
    update: (d) => { m.duties.push(d); },
    selfReaped: () => undefined,
    run: () => Promise.resolve(),
  };
}

const mixes: { name: string; modes: Record<string, LivenessMode> }[] = [
  { name: 'a split, b and c lease', modes: { a: 'split', b: 'lease', c: 'lease' } },
  { name: 'a and b split, c lease', modes: { a: 'split', b: 'split', c: 'lease' } },
  { name: 'a lease, b split, c lease', modes: { a: 'lease', b: 'split', c: 'lease' } },
];

describe('mixed liveness modes (a rolling switch)', () => {
  it.each(mixes)('$name: one answerer per IP at start and after a minute without a membership write (past the 40 s declared)', async ({ modes }) => {
    // 40 s: what a split speaker wrote before modes could be mixed; held, it is a member however old.
    const c = new Cluster(modes, 40);
    await c.start();
    c.expectEveryIpAnswered();
    const before = c.answerers();
    await c.run(60_000);
    c.expectEveryIpAnswered();
    expect(c.answerers()).toEqual(before);
    await c.close();
  });

  it.each(mixes)('$name: a lease-mode node that crashes is dropped by every speaker after its duration, and each IP moves to one node', async ({ modes }) => {
    const c = new Cluster(modes, 7200);
    await c.start();
    const victim = nodes.find((x) => modes[x] === 'lease' && c.member(x).owned.length > 0);
    if (victim === undefined) throw new Error('test setup: no lease-mode owner');
    const orphaned = [...c.member(victim).owned];
    await c.crash(victim);
    // Its Lease runs out 3 s after its last renewal, plus the grace: not before.
    await c.run(3000 + defaultExpiryGraceMs - 300, (m) => m.speaker !== undefined);
    for (const ip of orphaned) expect(c.answerers().get(ip)).toEqual([]);
    c.expectAtMostOne();
    await c.run(1000);
    c.expectEveryIpAnswered();
    await c.close();
  });

  it.each(mixes)('$name: a split node reaped (or released) is dropped by every speaker at once', async ({ modes }) => {
    const c = new Cluster(modes, 7200);
    await c.start();
    const victim = nodes.find((x) => modes[x] === 'split' && c.member(x).owned.length > 0);
    if (victim === undefined) throw new Error('test setup: no split owner');
    await c.crash(victim);
    const m = c.member(victim);
    m.holder = '';
    m.version += 1;
    c.publish(m);
    await c.run(250);
    c.expectEveryIpAnswered();
    await c.close();
  });

  it('a lease-mode node stands by for a split owner (probes it), and nobody probes or watches a lease-mode node', async () => {
    const c = new Cluster({ a: 'split', b: 'lease', c: 'lease' }, 7200);
    await c.start();
    const a = c.member(n('a'));
    const split = a.owned[0];
    if (split === undefined) throw new Error('test setup: a owns nothing');
    for (const x of ['b', 'c'].map(n)) {
      const duties = c.member(x).duties.at(-1);
      expect(duties?.probe.get(n('a'))).toBeDefined();
      expect(duties?.watch).toEqual(['a']);
      expect([...(duties?.probe.keys() ?? [])]).toEqual(['a']);
    }
    // The split owner's standbys are both lease-mode: no heartbeat to watch, nothing to probe.
    expect(a.duties.at(-1)).toEqual({ probe: new Map(), watch: [] });
    await c.close();
  });

  it('in a cluster that is all lease, nobody has standby duties', async () => {
    const c = new Cluster({ a: 'lease', b: 'lease', c: 'lease' }, 7200);
    await c.start();
    for (const m of c.members.values()) expect(m.duties.at(-1)).toEqual({ probe: new Map(), watch: [] });
    await c.close();
  });
});
