import { pino } from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { NodeName } from '../../src/shared/brand.js';
import { createSpeakerMetrics } from '../../src/speaker/metrics.js';
import type { ProbeOutcome } from '../../src/speaker/speaker.js';
import { createStandbyLoop, type ReapOutcome } from '../../src/speaker/standby-loop.js';
import { defaultStandbyTiming } from '../../src/speaker/standby.js';
import { FakeClock, flushPromises } from '../helpers/fake-clock.js';

const n = (name: string): NodeName => name as NodeName;

/** A probe round that settles after `ms` on the fake clock with `outcome`: what the announcer does. */
class FakeProber {
  answering = true;
  readonly rounds: { ip: string; at: number }[] = [];
  constructor(private readonly clock: FakeClock) {}
  async probe(ip: string, signal?: AbortSignal): Promise<ProbeOutcome> {
    this.rounds.push({ ip, at: this.clock.now() });
    if (this.answering) {
      await this.clock.sleep(1, signal).catch(() => undefined);
      return { kind: 'conflict', mac: '02:00:00:00:00:01', iface: 'eth0' };
    }
    await this.clock.sleep(600, signal).catch(() => undefined);
    return { kind: 'clear' };
  }
}

class FakeReaper {
  readonly calls: { node: string; version: string; at: number }[] = [];
  answer: ReapOutcome | 'fail' = 'reaped';
  constructor(private readonly clock: FakeClock) {}
  reap(node: NodeName, version: string): Promise<ReapOutcome> {
    this.calls.push({ node, version, at: this.clock.now() });
    return this.answer === 'fail' ? Promise.reject(new Error('503')) : Promise.resolve(this.answer);
  }
}

/** The heartbeat watch as the loop sees it: down from `lostAt`, or back after `gap`. */
class FakeHeartbeatWatch {
  lost: number | undefined;
  gap: { from: number; to: number } | undefined;
  readonly watched: string[][] = [];
  watch(nodes: readonly NodeName[]): void {
    this.watched.push([...nodes]);
  }
  lostAt(): number | undefined {
    return this.lost;
  }
  lastGap(): { from: number; to: number } | undefined {
    return this.gap;
  }
}

function rig() {
  const clock = new FakeClock();
  const prober = new FakeProber(clock);
  const reaper = new FakeReaper(clock);
  const heartbeats = new FakeHeartbeatWatch();
  const watched = heartbeats.watched;
  const loop = createStandbyLoop({
    self: n('s'),
    prober,
    heartbeats,
    reaper,
    clock,
    logger: pino({ level: 'silent' }),
    timing: defaultStandbyTiming,
    metrics: createSpeakerMetrics(new Registry()),
  });
  const stop = new AbortController();
  const running = loop.run(stop.signal);
  return { clock, prober, reaper, loop, watched, heartbeats, stop: async () => { stop.abort(); await running; } };
}

describe('standby loop (fake clock)', () => {
  it('probes its owner every 500 ms while it answers, and reaps nobody', async () => {
    const r = rig();
    r.loop.update({ probe: new Map([[n('o'), '10.0.0.1']]), watch: [n('o')] }, new Map([[n('o'), '7']]));
    await r.clock.advance(2000);
    expect(r.prober.rounds.map((x) => x.at)).toEqual([0, 500, 1000, 1500, 2000]);
    expect(r.reaper.calls).toEqual([]);
    expect(r.watched).toEqual([['o']]);
    await r.stop();
  });

  it('reaps the owner after three unanswered rounds, with the version it judged, once', async () => {
    const r = rig();
    r.loop.update({ probe: new Map([[n('o'), '10.0.0.1']]), watch: [n('o')] }, new Map([[n('o'), '7']]));
    await r.clock.advance(999);
    r.prober.answering = false;
    await r.clock.advance(1201); // silent rounds at 1000 (ends 1600), 1600 (ends 2200)
    expect(r.reaper.calls).toEqual([]);
    await r.clock.advance(600); // the third ends at 2800
    expect(r.reaper.calls).toEqual([{ node: 'o', version: '7', at: 2800 }]);
    await r.clock.advance(3000);
    expect(r.reaper.calls.length).toBe(1);
    await r.stop();
  });

  it('a reaped owner that rejoins at once is judged from zero: not reaped again on the misses that reaped it', async () => {
    const r = rig();
    r.prober.answering = false;
    r.loop.update({ probe: new Map([[n('o'), '10.0.0.1']]), watch: [] }, new Map([[n('o'), '7']]));
    await r.clock.advance(1800); // three silent rounds end at 600, 1200, 1800
    expect(r.reaper.calls.map((c) => c.version)).toEqual(['7']);
    // It rejoins (a new version) before this node's election moves the IP: still this node's duty.
    r.loop.update({ probe: new Map([[n('o'), '10.0.0.1']]), watch: [] }, new Map([[n('o'), '8']]));
    await r.clock.advance(1199);
    expect(r.reaper.calls.map((c) => c.version), 'two new misses are not three').toEqual(['7']);
    await r.clock.advance(601);
    expect(r.reaper.calls.map((c) => c.version)).toEqual(['7', '8']);
    await r.stop();
  });

  it('a failed reap is tried again after a second, not in a tight loop', async () => {
    const r = rig();
    r.reaper.answer = 'fail';
    r.prober.answering = false;
    r.loop.update({ probe: new Map([[n('o'), '10.0.0.1']]), watch: [] }, new Map([[n('o'), '7']]));
    await r.clock.advance(1800);
    await r.clock.advance(2000);
    expect(r.reaper.calls.map((c) => c.at)).toEqual([1800, 2800, 3800]);
    await r.stop();
  });

  it('reaps a watched member whose heartbeat ran out (40 s + grace), not before', async () => {
    const r = rig();
    r.loop.update({ probe: new Map(), watch: [n('b')] }, new Map([[n('b'), '3']]));
    r.loop.observeHeartbeat({ node: n('b'), version: '1', holderIdentity: 'b', leaseDurationSeconds: 40 });
    await r.clock.advance(40_000);
    expect(r.reaper.calls).toEqual([]);
    await r.clock.advance(1000);
    expect(r.reaper.calls.map((c) => [c.node, c.version])).toEqual([['b', '3']]);
    await r.stop();
  });

  it('a heartbeat from before a watch gap counts as renewed when the watch came back: a live owner is not reaped after an API outage', async () => {
    const r = rig();
    r.loop.update({ probe: new Map(), watch: [n('b')] }, new Map([[n('b'), '3']]));
    r.loop.observeHeartbeat({ node: n('b'), version: '1', holderIdentity: 'b', leaseDurationSeconds: 40 });
    // The API goes away at 10 s for 35 s; b keeps answering on the LAN, its heartbeat (renewed
    // every 10 s) is next written at 52 s. The relist at 45 s still shows the one from 0 s.
    await r.clock.advance(10_000);
    r.heartbeats.lost = 10_000;
    await r.clock.advance(35_000);
    r.heartbeats.lost = undefined;
    r.heartbeats.gap = { from: 10_000, to: 45_000 };
    r.loop.observeHeartbeat({ node: n('b'), version: '1', holderIdentity: 'b', leaseDurationSeconds: 40 });
    await r.clock.advance(7000);
    expect(r.reaper.calls, 'b renews at 52 s, within a duration of the watch coming back').toEqual([]);
    r.loop.observeHeartbeat({ node: n('b'), version: '2', holderIdentity: 'b', leaseDurationSeconds: 40 });
    await r.clock.advance(40_000);
    expect(r.reaper.calls).toEqual([]);
    // Unless it renews, it is reaped one duration after its last renewal.
    await r.clock.advance(1000);
    expect(r.reaper.calls.map((c) => c.node)).toEqual(['b']);
    await r.stop();
  });

  /**
   * A standby of `o` through an API outage longer than the heartbeat (40 s), up to the moment
   * the API is back and it stands by for `o` again, at 50 s; `o` answers no probe from 40 s.
   */
  async function backFromLongOutage(r: ReturnType<typeof rig>): Promise<(version: string) => void> {
    const duty = { probe: new Map([[n('o'), '10.0.0.1']]), watch: [n('o')] };
    const beat = (version: string): void => { r.loop.observeHeartbeat({ node: n('o'), version, holderIdentity: 'o', leaseDurationSeconds: 40 }); };
    r.loop.update(duty, new Map([[n('o'), '7']]));
    beat('1');
    // The API goes away at 5 s for 45 s. At 40 s this node's own heartbeat has run out: it stands by
    // for nobody (its election leaves it out) and stops watching o; o, whose last heartbeat was
    // stored no later than 0 s, has fenced itself and answers no probe from then on.
    await r.clock.advance(40_000);
    r.prober.answering = false;
    r.loop.update({ probe: new Map(), watch: [] }, new Map([[n('o'), '7']]));
    // The API is back at 50 s; this node renews first and stands by for o again, whose heartbeat
    // the new watch lists as it was (o renews only at its next attempt, up to 10 s later).
    await r.clock.advance(10_000);
    r.loop.update(duty, new Map([[n('o'), '7']]));
    beat('1');
    return beat;
  }

  it('back from an API outage longer than the heartbeat, it does not reap an owner that fenced itself and has not renewed yet', async () => {
    const r = rig();
    const beat = await backFromLongOutage(r);
    await r.clock.advance(5000);
    expect(r.reaper.calls, 'no reap of an owner silent by its own fence').toEqual([]);
    // o renews at 55 s and answers again; its probes count from here, and a crash is found by them.
    beat('2');
    r.prober.answering = true;
    await r.clock.advance(10_000);
    expect(r.reaper.calls).toEqual([]);
    r.prober.answering = false;
    await r.clock.advance(2500);
    expect(r.reaper.calls.map((c) => c.node)).toEqual(['o']);
    expect(r.reaper.calls[0]?.at).toBeLessThan(65_000 + 2500);
    await r.stop();
  });

  it('an owner that died during such an outage is reaped when its heartbeat runs out, counted from the relist', async () => {
    const r = rig();
    await backFromLongOutage(r);
    await r.clock.advance(40_000);
    expect(r.reaper.calls).toEqual([]);
    await r.clock.advance(1000);
    expect(r.reaper.calls.map((c) => `${c.node}@${String(c.at)}`)).toEqual(['o@90251']);
    await r.stop();
  });

  it('a 409 (moved) clears the count: the owner is judged again from zero', async () => {
    const r = rig();
    r.reaper.answer = 'moved';
    r.prober.answering = false;
    r.loop.update({ probe: new Map([[n('o'), '10.0.0.1']]), watch: [] }, new Map([[n('o'), '7']]));
    await r.clock.advance(1800);
    expect(r.reaper.calls.length).toBe(1);
    r.loop.update({ probe: new Map([[n('o'), '10.0.0.1']]), watch: [] }, new Map([[n('o'), '8']]));
    await r.clock.advance(1000);
    expect(r.reaper.calls.length).toBe(1);
    await r.clock.advance(1000);
    expect(r.reaper.calls.map((c) => c.version)).toEqual(['7', '8']);
    await r.stop();
    await flushPromises();
  });

  it('a node that was reaped itself reaps nobody for a minute (the two sides of a cut LAN must not take turns)', async () => {
    const r = rig();
    r.prober.answering = false;
    r.loop.selfReaped();
    r.loop.update({ probe: new Map([[n('o'), '10.0.0.1']]), watch: [] }, new Map([[n('o'), '7']]));
    await r.clock.advance(59_000);
    expect(r.reaper.calls).toEqual([]);
    await r.clock.advance(1000);
    expect(r.reaper.calls.map((c) => c.at)).toEqual([60_000]);
    await r.stop();
  });
});
