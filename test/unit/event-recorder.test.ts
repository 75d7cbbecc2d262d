import type * as k8s from '@kubernetes/client-node';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createEventRecorder } from '../../src/k8s/events.js';
import { FakeClock, flushPromises } from '../helpers/fake-clock.js';

describe('event recorder', () => {
  it('two instances reporting on one object in the same millisecond write different Event names', async () => {
    const names: string[] = [];
    const core = { createNamespacedEvent: (p: { readonly body: k8s.CoreV1Event }): Promise<unknown> => { names.push(p.body.metadata.name ?? ''); return Promise.resolve({}); } };
    const clock = new FakeClock(1_796_400_000_000);
    const stop = new AbortController();
    const ref = { apiVersion: 'v1', kind: 'Service', name: 'web', namespace: 'demo' };
    const running = ['node-1', 'node-2'].map((instance) => {
      const recorder = createEventRecorder({ core, clock, logger: pino({ level: 'silent' }), component: 'ironlb-speaker', instance });
      const run = recorder.run(stop.signal);
      recorder.emit(ref, 'Warning', 'AddressConflict', `seen by ${instance}`);
      return run;
    });
    await flushPromises();
    stop.abort();
    await Promise.all(running);
    expect(names).toHaveLength(2);
    expect(new Set(names).size).toBe(2);
    for (const name of names) expect(name).toMatch(/^web\.[0-9a-f]+$/);
  });
});
