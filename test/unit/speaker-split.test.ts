import { pino } from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/config.js';
import { parseConfigYaml } from '../../src/config/config-yaml.js';
import { rendezvousOrder, sha256Hex } from '../../src/election/rendezvous.js';
import type { NodeName, ServiceKey } from '../../src/shared/brand.js';
import { ok, type Result } from '../../src/shared/result.js';
import type { SpeakerLeaseView } from '../../src/speaker/lease-view.js';
import { createSpeakerMetrics } from '../../src/speaker/metrics.js';
import { createSpeaker, type ProbeOutcome, type ServiceRecord } from '../../src/speaker/speaker.js';
import type { StandbyDuties } from '../../src/speaker/standby.js';
import type { StandbyLoop } from '../../src/speaker/standby-loop.js';
import { FakeClock } from '../helpers/fake-clock.js';

const n = (s: string): NodeName => s as NodeName;
const ip = '192.0.2.10';
const [first, second, third] = rendezvousOrder(['a', 'b', 'c'].map(n), ip, sha256Hex, 3) as [NodeName, NodeName, NodeName];

function config(): Config {
  const parsed = parseConfigYaml('address-pools:\n- name: default\n  protocol: layer2\n  addresses: [192.0.2.0/24]\n');
  if (!parsed.ok) throw new Error('bad test config');
  return parsed.value;
}

const service: ServiceRecord = {
  service: { key: 'ns/web' as ServiceKey, ips: [ip], trafficPolicy: 'Cluster', endpoints: ['a', 'b', 'c'].map((x) => ({ nodeName: n(x), ready: true, serving: true, terminating: false })) },
  ref: { apiVersion: 'v1', kind: 'Service', namespace: 'ns', name: 'web' },
};

const lease = (node: string, version: string, extra: Partial<SpeakerLeaseView> = {}): SpeakerLeaseView => ({
  node: n(node),
  version,
  holderIdentity: node,
  leaseDurationSeconds: 40,
  acquireTime: '2026-01-01T00:00:00.000Z',
  renewTime: '2026-01-01T00:01:00.000Z',
  announcing: [],
  mode: 'split',
  ...extra,
});

class Fakes {
  sets: string[][] = [];
  touches = 0;
  reapedCalls = 0;
  // every setRecord call and every touch, in order ('record:<ips>', 'touch')
  writes: string[] = [];
  // versions of the Leases handed to membership.echoed
  echoes: string[] = [];
  duties: StandbyDuties[] = [];
  members: ReadonlyMap<NodeName, string>[] = [];
  readonly announcer = {
    setOwned: (ips: Iterable<string>): Result<void, { message: string }> => { this.sets.push([...ips]); return ok(undefined); },
    probe: (): Promise<ProbeOutcome> => Promise.resolve({ kind: 'clear' }),
    defend: (): void => undefined,
  };
  aliveUntil: number | undefined = 10_000_000;
  readonly membership = { aliveUntil: () => this.aliveUntil, setRecord: (ips: readonly string[]) => { this.writes.push(`record:${ips.join(',')}`); }, setAnnotation: () => undefined, touch: () => { this.touches += 1; this.writes.push('touch'); }, echoed: (l: { version: string }) => { this.echoes.push(l.version); } };
  readonly standby: StandbyLoop = {
    observeHeartbeat: () => undefined,
    forgetHeartbeat: () => undefined,
    update: (d, m) => { this.duties.push(d); this.members.push(m); },
    selfReaped: () => { this.reapedCalls += 1; },
    run: () => Promise.resolve(),
  };
  get current(): string[] {
    return this.sets.at(-1) ?? [];
  }
}

async function rig(self: NodeName, leases: SpeakerLeaseView[], holdDownMs = 0) {
  const clock = new FakeClock(0);
  const f = new Fakes();
  const speaker = createSpeaker({
    self,
    inputs: { services: () => [service], nodes: () => ['a', 'b', 'c'].map((x) => ({ name: n(x), labels: {}, conditions: {} })), config: config, leaseViewLostAt: () => undefined },
    announcer: f.announcer,
    membership: f.membership,
    events: { emit: () => undefined },
    metrics: createSpeakerMetrics(new Registry()),
    clock,
    logger: pino({ level: 'silent' }),
    standby: f.standby,
    options: { ignoreExcludeLabel: false, holdDownMs, debounceMs: 10, conflicts: { reprobeMs: 30_000, selfCheckMs: 0, probeFirst: false }, split: { standbyCount: 2 } },
  });
  for (const l of leases) speaker.observeLease(l);
  const ac = new AbortController();
  const running = speaker.run(ac.signal, Promise.resolve());
  await clock.advance(20);
  return { clock, f, speaker, stop: async () => { ac.abort(); await running; } };
}

describe('speaker loop, split liveness', () => {
  it('peers stay members however long their membership Lease is unchanged (no renewals to miss)', async () => {
    const r = await rig(second, ['a', 'b', 'c'].map((x) => lease(x, '1', x === first ? { announcing: [ip] } : {})));
    await r.clock.advance(3_600_000);
    r.speaker.changed();
    await r.clock.advance(20);
    expect(r.f.current).toEqual([]);
    await r.stop();
  });

  it('hands the standby loop its duties: the first and second standby probe the owner at its recorded IP, the owner watches both', async () => {
    for (const self of [first, second, third]) {
      const r = await rig(self, ['a', 'b', 'c'].map((x) => lease(x, '1', x === first ? { announcing: [ip] } : {})));
      const duties = r.f.duties.at(-1);
      if (self === first) expect(duties).toEqual({ probe: new Map(), watch: [second, third].sort() });
      else expect(duties).toEqual({ probe: new Map([[first, ip]]), watch: [first] });
      expect([...(r.f.members.at(-1)?.keys() ?? [])].sort()).toEqual(['a', 'b', 'c'].filter((x) => x !== self));
      await r.stop();
    }
  });

  it('stands by for nobody while it does not count itself alive (its heartbeat lapsed), and again once it does', async () => {
    const r = await rig(second, ['a', 'b', 'c'].map((x) => lease(x, '1', x === first ? { announcing: [ip] } : {})));
    expect(r.f.duties.at(-1)?.probe).toEqual(new Map([[first, ip]]));
    r.f.aliveUntil = 0;
    r.speaker.changed();
    await r.clock.advance(20);
    expect(r.f.duties.at(-1), 'fenced: no probes, no heartbeat watch').toEqual({ probe: new Map(), watch: [] });
    r.f.aliveUntil = 10_000_000;
    r.speaker.changed();
    await r.clock.advance(20);
    expect(r.f.duties.at(-1)?.probe).toEqual(new Map([[first, ip]]));
    await r.stop();
  });

  it('a reaped owner stops answering at once and writes its Lease back; the standby, recorded and older, keeps the IP', async () => {
    const r = await rig(first, ['a', 'b', 'c'].map((x) => lease(x, '1')));
    expect(r.f.current).toEqual([ip]);
    r.speaker.observeLease(lease(first, '2', { holderIdentity: '', announcing: [ip] }));
    // Synchronously in observeLease: the loop wakes, but the Lease write is asked for at once.
    expect(r.f.touches).toBe(1);
    expect(r.f.reapedCalls).toBe(1);
    await r.clock.advance(20);
    expect(r.f.current).toEqual([]);
    // The standby took over (its record) and this node rejoined with a fresh acquireTime.
    r.speaker.observeLease(lease(second, '3', { announcing: [ip] }));
    r.speaker.observeLease(lease(first, '4', { acquireTime: '2026-01-01T00:05:00.000Z', renewTime: '2026-01-01T00:05:00.000Z' }));
    await r.clock.advance(20);
    expect(r.f.current).toEqual([]);
    await r.stop();
  });

  it('a reaped owner stops in observeLease itself, and empties its record before the rejoin write: an echo of that write before the loop runs does not keep the IP', async () => {
    const r = await rig(first, ['a', 'b', 'c'].map((x) => lease(x, '1')), 10_000);
    expect(r.f.current).toEqual([ip]);
    r.f.writes = [];
    r.speaker.observeLease(lease(first, '2', { holderIdentity: '', announcing: [ip] }));
    expect(r.f.current, 'stopped before the loop runs').toEqual([]);
    expect(r.f.writes, 'the record is emptied before the Lease is taken back').toEqual(['record:', 'touch']);
    // The rejoin write's echo (what that write carried: no record, a fresh acquireTime) comes before the loop's next election.
    r.speaker.observeLease(lease(first, '3', { acquireTime: '2026-01-01T00:05:00.000Z', renewTime: '2026-01-01T00:05:00.000Z' }));
    await r.clock.advance(20);
    // Unsettled, recorded by nobody: the settled standbys get the IP, not this node.
    expect(r.f.current).toEqual([]);
    expect(r.f.sets.slice(1).every((s) => s.length === 0), 'never announced again').toBe(true);
    await r.stop();
  });

  it('its own release at SIGTERM is not a reap (no rejoin)', async () => {
    const r = await rig(first, ['a', 'b', 'c'].map((x) => lease(x, '1')));
    r.speaker.silence();
    r.speaker.observeLease(lease(first, '2', { holderIdentity: '' }));
    expect(r.f.touches).toBe(0);
    await r.stop();
  });

  it('writes its membership Lease once more when the hold-down has passed (peers then read it as settled), not before', async () => {
    const r = await rig(first, [lease('b', '1'), lease('c', '1')], 10_000);
    r.speaker.observeLease(lease(first, '9', { acquireTime: '2026-01-01T00:00:00.000Z', renewTime: '2026-01-01T00:00:00.000Z' }));
    await r.clock.advance(10_000);
    expect(r.f.touches).toBe(0);
    await r.clock.advance(300);
    expect(r.f.touches).toBe(1);
    // Settled as written: no more writes.
    r.speaker.observeLease(lease(first, '10', { acquireTime: '2026-01-01T00:00:00.000Z', renewTime: '2026-01-01T00:00:10.200Z' }));
    await r.clock.advance(60_000);
    expect(r.f.touches).toBe(1);
    await r.stop();
  });

  it('keeps an IP it took over while its own record has not echoed back yet, when the node it took it from returns', async () => {
    // The first node is gone: the second takes the IP (its own Lease, as its watch shows it, does not record it yet).
    const r = await rig(second, [lease(first, '1', { holderIdentity: '' }), lease(second, '1'), lease(third, '1')]);
    expect(r.f.current).toEqual([ip]);
    // The first node is back, settled, recording nothing; the second's echo still lags.
    r.speaker.observeLease(lease(first, '2'));
    await r.clock.advance(20);
    expect(r.f.current, 'the IP stays where it went (the current owner keeps it), not hashed back').toEqual([ip]);
    await r.stop();
  });

  it('hands its own Lease, as its watch delivers it, to the membership Lease (which writes a record another client changed again); peers\' Leases not', async () => {
    const r = await rig(first, ['a', 'b', 'c'].map((x) => lease(x, '1')));
    r.speaker.observeLease(lease(second, '2', { announcing: [ip] }));
    r.speaker.observeLease(lease(first, '3', { announcing: [ip, '192.0.2.99'] }));
    expect(r.f.echoes).toEqual(['1', '3']);
    await r.stop();
  });

  it('hands the standby loop a member\'s new Lease version when nothing the election reads changed (else its reap meets a 409 and waits for an election)', async () => {
    const r = await rig(second, ['a', 'b', 'c'].map((x) => lease(x, '1', x === first ? { announcing: [ip] } : {})));
    expect(r.f.members.at(-1)?.get(first)).toBe('1');
    const duties = r.f.duties.at(-1);
    // The owner's conflicts record changed: a new version, the same record, holder and times.
    r.speaker.observeLease(lease(first, '2', { announcing: [ip] }));
    expect(r.f.members.at(-1)?.get(first), 'at once, without an election').toBe('2');
    expect(r.f.duties.at(-1)).toEqual(duties);
    await r.stop();
  });
});

