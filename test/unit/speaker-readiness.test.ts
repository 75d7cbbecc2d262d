import { pino } from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { err, ok, type Result } from '../../src/shared/result.js';
import { packetSocketBackoff, waitForPacketSockets, type PacketSocketGateDeps, type PacketSocketRefusal } from '../../src/speaker/packet-sockets.js';
import { createSpeakerReadiness } from '../../src/speaker/readiness.js';
import { FakeClock } from '../helpers/fake-clock.js';

function setup(): { readiness: ReturnType<typeof createSpeakerReadiness>; registry: Registry; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => { lines.push(JSON.parse(s) as Record<string, unknown>); } });
  const registry = new Registry();
  return { readiness: createSpeakerReadiness({ registry, logger }), registry, lines };
}

async function gauge(registry: Registry, reason: string): Promise<number | undefined> {
  const m = await registry.getSingleMetric('ironlb_speaker_not_ready')?.get();
  return m?.values.find((v) => v.labels.reason === reason)?.value;
}

describe('speaker readiness', () => {
  it('is ready with every reason at 0, and says every reason that holds', async () => {
    const { readiness, registry } = setup();
    expect(readiness.notReadyReason()).toBeUndefined();
    expect(await gauge(registry, 'interfacesUnreadable')).toBe(0);
    readiness.fail('cachesNotSynced', 'caches not synced');
    readiness.fail('interfacesUnreadable', 'reading network interfaces failed: EACCES');
    expect(readiness.notReadyReason()).toBe('caches not synced; reading network interfaces failed: EACCES');
    expect(await gauge(registry, 'interfacesUnreadable')).toBe(1);
    readiness.clear('cachesNotSynced');
    readiness.clear('interfacesUnreadable');
    expect(readiness.notReadyReason()).toBeUndefined();
    expect(await gauge(registry, 'interfacesUnreadable')).toBe(0);
  });

  it('logs a change once, not every poll', () => {
    const { readiness, lines } = setup();
    for (let i = 0; i < 3; i++) readiness.fail('packetSocketsFailed', 'opening an arp packet socket on eth0 failed: EPERM');
    readiness.clear('packetSocketsFailed');
    readiness.clear('packetSocketsFailed');
    expect(lines.map((l) => [l.event, l.reason])).toEqual([
      ['speakerNotReady', 'packetSocketsFailed'],
      ['speakerReadyAgain', 'packetSocketsFailed'],
    ]);
  });
});

describe('a speaker whose packet sockets are refused', () => {
  const noCap: PacketSocketRefusal = { kind: 'noCapability', detail: 'EPERM' };

  function gate(results: Result<void, PacketSocketRefusal>[]): { deps: PacketSocketGateDeps; clock: FakeClock; registry: Registry; lines: Record<string, unknown>[]; tries: () => number } {
    const { readiness, registry, lines } = setup();
    const clock = new FakeClock();
    let tries = 0;
    const logger = pino({ level: 'info' }, { write: (s: string) => { lines.push(JSON.parse(s) as Record<string, unknown>); } });
    const deps: PacketSocketGateDeps = {
      tryOpen: () => results[Math.min(tries++, results.length - 1)] ?? ok(undefined),
      readiness,
      clock,
      logger,
      backoff: packetSocketBackoff,
      random: () => 0.5,
    };
    return { deps, clock, registry, lines, tries: () => tries };
  }

  it('is not ready saying "no CAP_NET_RAW" (once), retries with back-off, and is ready once a socket opens', async () => {
    const { deps, clock, registry, lines, tries } = gate([err(noCap), err(noCap), err(noCap), ok(undefined)]);
    let opened: boolean | undefined;
    void waitForPacketSockets(deps, new AbortController().signal).then((r) => (opened = r));
    await clock.advance(0);
    expect(tries()).toBe(1);
    expect(deps.readiness.notReadyReason()).toMatch(/^cannot open AF_PACKET sockets: no CAP_NET_RAW \(EPERM\); a capability cannot appear while the process runs: add NET_RAW/);
    expect(await gauge(registry, 'packetSocketsFailed')).toBe(1);
    // Back-off: 1 s, then 2 s, then 4 s (jitter centred by random 0.5).
    await clock.advance(999);
    expect(tries()).toBe(1);
    await clock.advance(1);
    expect(tries()).toBe(2);
    await clock.advance(2000);
    expect(tries()).toBe(3);
    expect(opened).toBeUndefined();
    await clock.advance(4000);
    expect(tries()).toBe(4);
    expect(opened).toBe(true);
    expect(deps.readiness.notReadyReason()).toBeUndefined();
    expect(await gauge(registry, 'packetSocketsFailed')).toBe(0);
    expect(lines.map((l) => [l.event, l.reason])).toEqual([['speakerNotReady', 'packetSocketsFailed'], ['speakerReadyAgain', 'packetSocketsFailed']]);
    expect(lines[0]?.msg).toContain('no CAP_NET_RAW');
  });

  it('says a retry may help for other failures, and stops waiting when the speaker stops', async () => {
    const { deps, clock, tries } = gate([err({ kind: 'failed', detail: 'ENOBUFS' })]);
    const stop = new AbortController();
    const waiting = waitForPacketSockets(deps, stop.signal);
    await clock.advance(0);
    expect(deps.readiness.notReadyReason()).toBe('cannot open AF_PACKET sockets: ENOBUFS (retrying with back-off: it may succeed later)');
    stop.abort();
    expect(await waiting).toBe(false);
    expect(tries()).toBe(1);
    expect(clock.pending).toBe(0);
  });
});
