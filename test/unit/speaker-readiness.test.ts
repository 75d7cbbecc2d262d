import { pino } from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createSpeakerReadiness } from '../../src/speaker/readiness.js';

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
