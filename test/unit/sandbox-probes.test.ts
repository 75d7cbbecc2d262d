import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { JsonObject } from '../../src/sandbox/apiserver/object.js';
import { kubeletEvent } from '../../src/sandbox/kubelet/pod-status.js';
import { toPodView, toProbeSpec } from '../../src/sandbox/kubelet/pod-view.js';
import { PodWorker, type PodEvent } from '../../src/sandbox/kubelet/pod-worker.js';
import { execArgv } from '../../src/sandbox/kubelet/process-container.js';
import { startupVerdict } from '../../src/sandbox/kubelet/probe-state.js';
import { probeOnce } from '../../src/sandbox/kubelet/prober.js';
import type { ContainerExit, ContainerRuntime, ExecOutcome, RunningContainer } from '../../src/sandbox/kubelet/runtime.js';
import { FakeClock } from '../helpers/fake-clock.js';

describe('probe kinds', () => {
  it.each([
    { name: 'exec', raw: { exec: { command: ['cat', '/tmp/healthy'] } }, want: { kind: 'exec', command: ['cat', '/tmp/healthy'] } },
    { name: 'grpc', raw: { grpc: { port: 9090 } }, want: { kind: 'unsupported', what: 'grpc' } },
    { name: 'no handler', raw: { periodSeconds: 1 }, want: { kind: 'unsupported', what: 'no handler' } },
  ])('reads $name probes', ({ raw, want }) => {
    expect(toProbeSpec(raw)?.action).toEqual(want);
  });

  it.each([
    { outcome: 'success', before: 0, want: 'started' },
    { outcome: 'success', before: 2, want: 'started' },
    { outcome: 'failure', before: 0, want: 'probing' },
    { outcome: 'failure', before: 1, want: 'probing' },
    { outcome: 'failure', before: 2, want: 'failed' },
  ] as const)('startup probe with failureThreshold 3: $outcome after $before failures is $want', ({ outcome, before, want }) => {
    expect(startupVerdict(before, outcome, { successThreshold: 1, failureThreshold: 3 })).toBe(want);
  });

  const execSpec = toProbeSpec({ exec: { command: ['check'] }, timeoutSeconds: 2 });
  it.each([
    { name: 'exit 0 succeeds', outcome: { kind: 'exited', exitCode: 0 }, want: 'success' },
    { name: 'exit 1 fails', outcome: { kind: 'exited', exitCode: 1 }, want: 'failure' },
    { name: 'a timeout fails', outcome: { kind: 'timedOut' }, want: 'failure' },
    { name: 'an exec error fails', outcome: { kind: 'error', message: 'gone' }, want: 'failure' },
  ] as const)('exec probe: $name', async ({ outcome, want }) => {
    const calls: [readonly string[], number][] = [];
    const exec = (command: readonly string[], timeoutMs: number): Promise<ExecOutcome> => {
      calls.push([command, timeoutMs]);
      return Promise.resolve(outcome);
    };
    if (execSpec === undefined) throw new Error('no spec');
    expect(await probeOnce(execSpec, { podIp: '10.244.2.2', ports: [], exec })).toBe(want);
    expect(calls).toEqual([[['check'], 2000]]);
  });

  it('fails an exec probe when the runtime cannot exec', async () => {
    if (execSpec === undefined) throw new Error('no spec');
    expect(await probeOnce(execSpec, { podIp: '10.244.2.2', ports: [] })).toBe('failure');
  });

  it("runs exec in the container's namespaces, as its user", () => {
    expect(execArgv(42, ['cat', '/tmp/ok'], { uid: 65534, gid: 65534 })).toEqual(['nsenter', '--target', '42', '--mount', '--net', '--uts', '--ipc', '--setgid', '65534', '--setuid', '65534', '--', 'cat', '/tmp/ok']);
    expect(execArgv(42, ['true'], undefined)).toEqual(['nsenter', '--target', '42', '--mount', '--net', '--uts', '--ipc', '--', 'true']);
  });

  it('makes a kubelet Event naming the container', () => {
    const e = kubeletEvent({ namespace: 'default', name: 'web-1', uid: 'u1' }, 'node-2', { type: 'Warning', reason: 'ProbeNotSupported', message: 'm', container: 'web' }, '2026-12-04T18:00:00Z', 'abc');
    expect(e).toMatchObject({ metadata: { name: 'web-1.abc', namespace: 'default' }, involvedObject: { kind: 'Pod', name: 'web-1', uid: 'u1', fieldPath: 'spec.containers{web}' }, source: { component: 'kubelet', host: 'node-2' }, type: 'Warning', reason: 'ProbeNotSupported', count: 1 });
  });
});

/** A runtime whose containers run until stopped and answer exec from a script. */
function scriptedRuntime(exec: (command: readonly string[]) => ExecOutcome): { runtime: ContainerRuntime; starts: () => number; stops: () => number } {
  let starts = 0;
  let stops = 0;
  const runtime: ContainerRuntime = {
    name: 'fake',
    start(): RunningContainer {
      starts += 1;
      let end: (e: ContainerExit) => void = () => undefined;
      const exited = new Promise<ContainerExit>((resolve) => { end = resolve; });
      const exit: ContainerExit = { exitCode: 143, signal: 'SIGTERM', reason: 'Error' };
      return {
        pid: 1000 + starts,
        exited,
        stop() {
          stops += 1;
          end(exit);
          return Promise.resolve(exit);
        },
        exec: (command) => Promise.resolve(exec(command)),
      };
    },
  };
  return { runtime, starts: () => starts, stops: () => stops };
}

describe('startup, readiness and liveness in the pod worker', () => {
  let logRoot: string;
  beforeAll(async () => { logRoot = await mkdtemp(join(tmpdir(), 'ironlb-probes-')); });
  afterAll(async () => { await rm(logRoot, { recursive: true, force: true }); });

  function podWith(container: JsonObject): JsonObject {
    return { metadata: { name: 'web-1', namespace: 'default', uid: 'u1' }, spec: { nodeName: 'node-2', terminationGracePeriodSeconds: 5, containers: [{ name: 'web', image: 'app:1', ...container }] } };
  }

  function start(pod: JsonObject, exec: (command: readonly string[]) => ExecOutcome): { worker: PodWorker; clock: FakeClock; events: PodEvent[]; runtime: ReturnType<typeof scriptedRuntime> } {
    const clock = new FakeClock();
    const events: PodEvent[] = [];
    const runtime = scriptedRuntime(exec);
    const kill = new AbortController();
    const worker = new PodWorker(toPodView(pod), pod, { netns: 'n', podIp: '10.244.2.2' }, {
      runtimes: () => runtime.runtime,
      logRoot,
      hostIp: '172.31.213.12',
      apiServer: { host: '172.31.213.1', port: '6443' },
      serviceAccountDir: () => Promise.resolve(undefined),
      restartBackoff: { baseMs: 10_000, maxMs: 10_000 },
      clock,
      logger: pino({ level: 'silent' }),
      changed: () => undefined,
      killSignal: kill.signal,
      recordEvent: (_pod, e) => { events.push(e); },
    });
    void worker.start();
    return { worker, clock, events, runtime };
  }
  const container = (w: PodWorker) => w.record().containers[0];

  // The worker makes log directories on the real file system: wait in real time for what follows,
  // releasing the zero-length sleeps (a start, the first restart) the fake clock holds.
  const soon = (clock: FakeClock, check: () => void): Promise<void> => vi.waitFor(async () => { await clock.advance(0); check(); }, { timeout: 5000, interval: 10 });
  /** Advances the fake clock one probe period at a time until `check` passes (at most `periods`). */
  async function advanceUntil(clock: FakeClock, periods: number, check: () => boolean): Promise<number> {
    for (let i = 0; i < periods; i++) {
      if (check()) return i;
      await clock.advance(1000);
      await new Promise((r) => setTimeout(r, 20));
    }
    return check() ? periods : -1;
  }

  it('gates readiness on the startup probe, then probes readiness', async () => {
    const calls: string[] = [];
    let startupOk = false;
    const pod = podWith({ startupProbe: { exec: { command: ['started'] }, periodSeconds: 1, failureThreshold: 5 }, readinessProbe: { exec: { command: ['ready'] }, periodSeconds: 1 } });
    const { worker, clock } = start(pod, (cmd) => {
      calls.push(cmd[0] ?? '');
      return { kind: 'exited', exitCode: cmd[0] === 'started' && !startupOk ? 1 : 0 };
    });
    await soon(clock, () => { expect(calls).toEqual(['started']); });
    await clock.advance(1000);
    await soon(clock, () => { expect(calls).toEqual(['started', 'started']); });
    expect(container(worker)).toMatchObject({ started: false, ready: false });
    startupOk = true;
    expect(await advanceUntil(clock, 4, () => container(worker)?.ready === true)).toBeGreaterThan(0);
    expect(container(worker)).toMatchObject({ started: true, ready: true, restartCount: 0 });
    expect(calls.slice(0, 3)).toEqual(['started', 'started', 'started']);
    expect(calls.slice(3).every((c) => c === 'ready')).toBe(true);
    await worker.stop(0);
  });

  it('kills and restarts a container whose startup probe fails failureThreshold times', async () => {
    const pod = podWith({ startupProbe: { exec: { command: ['started'] }, periodSeconds: 1, failureThreshold: 3 }, livenessProbe: { exec: { command: ['alive'] }, periodSeconds: 1 } });
    const calls: string[] = [];
    const { worker, clock, runtime, events } = start(pod, (cmd) => {
      calls.push(cmd[0] ?? '');
      return { kind: 'exited', exitCode: 1 };
    });
    await soon(clock, () => { expect(calls).toEqual(['started']); });
    await clock.advance(1000);
    await soon(clock, () => { expect(calls).toEqual(['started', 'started']); });
    expect(runtime.stops()).toBe(0);
    await clock.advance(1000);
    await soon(clock, () => { expect(runtime.stops()).toBe(1); });
    expect(calls.slice(0, 3)).toEqual(['started', 'started', 'started']);
    expect(calls).not.toContain('alive');
    expect(events.map((e) => e.message)).toEqual(['Container web failed startup probe, will be restarted']);
    // the first restart is at once (kubelet back-off), and starts unstarted again
    await soon(clock, () => { expect(runtime.starts()).toBe(2); });
    expect(container(worker)).toMatchObject({ restartCount: 1, started: false, ready: false });
    await worker.stop(0);
  });

  it('reports a grpc probe once in an Event: readiness never succeeds, liveness restarts nothing', async () => {
    const pod = podWith({ readinessProbe: { grpc: { port: 9090 }, periodSeconds: 1 }, livenessProbe: { grpc: { port: 9090 }, periodSeconds: 1 } });
    const { worker, clock, runtime, events } = start(pod, () => ({ kind: 'exited', exitCode: 0 }));
    await soon(clock, () => { expect(events).toHaveLength(2); });
    for (let i = 0; i < 5; i++) await clock.advance(1000);
    expect(container(worker)).toMatchObject({ started: true, ready: false });
    expect(runtime.stops()).toBe(0);
    expect(events.map((e) => [e.type, e.reason, e.message])).toEqual([
      ['Warning', 'ProbeNotSupported', 'Readiness probe of container web not run: gRPC probes are not supported by the ironlb sandbox kubelet; the container never becomes ready'],
      ['Warning', 'ProbeNotSupported', 'Liveness probe of container web not run: gRPC probes are not supported by the ironlb sandbox kubelet; it counts as succeeding'],
    ]);
    await worker.stop(0);
  });
});
