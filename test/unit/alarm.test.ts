import { getEventListeners } from 'node:events';
import type * as k8s from '@kubernetes/client-node';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createEventRecorder } from '../../src/k8s/events.js';
import { createAlarm } from '../../src/shared/alarm.js';
import { FakeClock, flushPromises } from '../helpers/fake-clock.js';

const listeners = (signal: AbortSignal): number => getEventListeners(signal, 'abort').length;

describe('alarm', () => {
  it('ends a wait on ring, on abort and on time, and a ring before the wait cuts it short', async () => {
    const clock = new FakeClock();
    const alarm = createAlarm({ clock });
    const stop = new AbortController();
    let done = false;
    const timed = alarm.wait(stop.signal, 100).then(() => { done = true; });
    await clock.advance(99);
    expect(done).toBe(false);
    await clock.advance(1);
    await timed;
    expect(done).toBe(true);

    const rung = alarm.wait(stop.signal);
    alarm.ring();
    await rung;
    expect(alarm.rung).toBe(true);
    await alarm.wait(stop.signal, 1_000_000); // rang since the last arm: returns at once
    alarm.arm();
    expect(alarm.rung).toBe(false);

    const aborted = alarm.wait(stop.signal, 1_000_000);
    stop.abort();
    await aborted;
    expect(clock.pending).toBe(0);
  });

  it('leaves the stop signal with as many listeners as before, after 10,000 waits of each kind', async () => {
    const clock = new FakeClock();
    const alarm = createAlarm({ clock });
    const stop = new AbortController();
    const before = listeners(stop.signal);
    for (let i = 0; i < 10_000; i++) {
      alarm.arm();
      const woken = alarm.wait(stop.signal, i % 2 === 0 ? undefined : 1_000);
      alarm.ring();
      await woken;
    }
    expect(listeners(stop.signal)).toBe(before);
    expect(clock.pending).toBe(0);
  });
});

describe('event recorder', () => {
  it('leaves the process signal with as many listeners as before after 10,000 idle waits', async () => {
    let written = 0;
    const core = { createNamespacedEvent: () => { written += 1; return Promise.resolve({}); } } as unknown as k8s.CoreV1Api;
    const recorder = createEventRecorder({ core, clock: new FakeClock(), logger: pino({ level: 'silent' }), component: 'test', instance: 'node-a' });
    const stop = new AbortController();
    const before = listeners(stop.signal);
    const running = recorder.run(stop.signal);
    const ref = { apiVersion: 'v1', kind: 'Service', name: 'web', namespace: 'default' };
    for (let i = 0; i < 10_000; i++) {
      recorder.emit(ref, 'Normal', 'IPAllocated', 'assigned');
      await flushPromises(); // written, and back to an idle wait
    }
    expect(written).toBe(10_000);
    expect(listeners(stop.signal)).toBeLessThanOrEqual(before + 1); // the one wait in progress
    stop.abort();
    await running;
    expect(listeners(stop.signal)).toBe(before);
  });
});
