import { describe, expect, it } from 'vitest';
import type { JsonObject } from '../../src/sandbox/apiserver/object.js';
import { podRestarts, podStatusText } from '../../src/sandbox/workloads/tables.js';

const now = new Date('2026-12-04T12:00:00Z');

function pod(status: JsonObject, deleting = false): JsonObject {
  return { metadata: { name: 'p', ...(deleting ? { deletionTimestamp: '2026-12-04T11:59:00Z' } : {}) }, spec: { containers: [{ name: 'c' }] }, status };
}

describe('pod columns as kubectl prints them', () => {
  it.each([
    { name: 'pending, nothing started', status: { phase: 'Pending' }, deleting: false, want: 'Pending' },
    { name: 'waiting reason wins', status: { phase: 'Pending', containerStatuses: [{ state: { waiting: { reason: 'ContainerCreating' } } }] }, deleting: false, want: 'ContainerCreating' },
    { name: 'crash loop', status: { phase: 'Running', containerStatuses: [{ state: { waiting: { reason: 'CrashLoopBackOff' } } }] }, deleting: false, want: 'CrashLoopBackOff' },
    { name: 'exit code without reason', status: { phase: 'Failed', containerStatuses: [{ state: { terminated: { exitCode: 2 } } }] }, deleting: false, want: 'ExitCode:2' },
    { name: 'running', status: { phase: 'Running', containerStatuses: [{ state: { running: {} } }] }, deleting: false, want: 'Running' },
    { name: 'being deleted', status: { phase: 'Running' }, deleting: true, want: 'Terminating' },
  ])('STATUS: $name', ({ status, deleting, want }) => {
    expect(podStatusText(pod(status, deleting))).toBe(want);
  });

  it.each([
    { name: 'none', statuses: [{ restartCount: 0 }], want: '0' },
    { name: 'with the last restart age', statuses: [{ restartCount: 2, lastState: { terminated: { finishedAt: '2026-12-04T11:59:55Z' } } }, { restartCount: 1 }], want: '3 (5s ago)' },
  ])('RESTARTS: $name', ({ statuses, want }) => {
    expect(podRestarts(pod({ containerStatuses: statuses }), now)).toBe(want);
  });
});
