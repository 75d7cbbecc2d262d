import { describe, expect, it } from 'vitest';
import { tailLines } from '../../src/sandbox/apiserver/pod-log.js';
import { parsePodCidr, pickPodIp, podNetnsName, podVethName } from '../../src/sandbox/kubelet/pod-network.js';
import { podPhase, podStatus, type ContainerRecord, type PodRecord } from '../../src/sandbox/kubelet/pod-status.js';
import { resolveEnv, toPodView } from '../../src/sandbox/kubelet/pod-view.js';
import { initialProbeState, nextProbeState, restartDelayMs, type ProbeResult } from '../../src/sandbox/kubelet/probe-state.js';
import { probePort } from '../../src/sandbox/kubelet/prober.js';
import { shouldRestart } from '../../src/sandbox/kubelet/pod-worker.js';

describe('probe results over time (kubelet prober worker)', () => {
  it.each([
    { name: 'readiness starts failed; one success flips it (successThreshold 1)', kind: 'readiness' as const, t: { successThreshold: 1, failureThreshold: 3 }, outcomes: ['success'], want: ['success'] },
    { name: 'readiness needs successThreshold successes in a row', kind: 'readiness' as const, t: { successThreshold: 2, failureThreshold: 3 }, outcomes: ['success', 'failure', 'success', 'success'], want: ['failure', 'failure', 'failure', 'success'] },
    { name: 'liveness starts succeeded; fails only after failureThreshold failures in a row', kind: 'liveness' as const, t: { successThreshold: 1, failureThreshold: 3 }, outcomes: ['failure', 'failure', 'success', 'failure', 'failure', 'failure'], want: ['success', 'success', 'success', 'success', 'success', 'failure'] },
    { name: 'a failed readiness recovers on the next success', kind: 'readiness' as const, t: { successThreshold: 1, failureThreshold: 1 }, outcomes: ['success', 'failure', 'success'], want: ['success', 'failure', 'success'] },
  ])('$name', ({ kind, t, outcomes, want }) => {
    let state = initialProbeState(kind);
    const got: ProbeResult[] = [];
    for (const o of outcomes as ProbeResult[]) {
      state = nextProbeState(state, o, t);
      got.push(state.result);
    }
    expect(got).toEqual(want);
  });

  it.each([
    { restarts: 0, want: 0 },
    { restarts: 1, want: 10_000 },
    { restarts: 2, want: 20_000 },
    { restarts: 5, want: 160_000 },
    { restarts: 6, want: 300_000 },
    { restarts: 60, want: 300_000 },
  ])('crash-loop back-off before restart $restarts: $want ms', ({ restarts, want }) => {
    expect(restartDelayMs(restarts, { baseMs: 10_000, maxMs: 300_000 })).toBe(want);
  });

  it.each([
    { policy: 'Always' as const, code: 0, want: true },
    { policy: 'OnFailure' as const, code: 0, want: false },
    { policy: 'OnFailure' as const, code: 1, want: true },
    { policy: 'Never' as const, code: 137, want: false },
  ])('restartPolicy $policy, exit $code: restart $want', ({ policy, code, want }) => {
    expect(shouldRestart(policy, { exitCode: code, signal: undefined, reason: code === 0 ? 'Completed' : 'Error' })).toBe(want);
  });

  it('resolves named probe ports from the container ports', () => {
    const ports = [{ name: 'http', containerPort: 8080, protocol: 'TCP' }];
    expect([probePort('http', ports), probePort(9000, ports), probePort('9001', ports), probePort('nope', ports)]).toEqual([8080, 9000, 9001, 0]);
  });
});

describe('the Pod as the kubelet reads it', () => {
  const pod = {
    metadata: { name: 'web-1', namespace: 'shop', uid: 'u-1', labels: { app: 'web' } },
    spec: {
      nodeName: 'node-2',
      serviceAccountName: 'speaker',
      securityContext: { runAsUser: 1000 },
      containers: [{
        name: 'web', image: 'nginx:1.15-alpine', ports: [{ name: 'http', containerPort: 80, protocol: 'TCP' }],
        securityContext: { runAsUser: 65534, capabilities: { add: ['NET_RAW'], drop: ['ALL'] }, readOnlyRootFilesystem: true },
        readinessProbe: { httpGet: { path: '/ready', port: 'http' }, periodSeconds: 2 },
        livenessProbe: { exec: { command: ['true'] } },
        env: [
          { name: 'PLAIN', value: 'x' },
          { name: 'NODE', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
          { name: 'NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
          { name: 'NS', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
          { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
          { name: 'HOST_IP', valueFrom: { fieldRef: { fieldPath: 'status.hostIP' } } },
          { name: 'APP', valueFrom: { fieldRef: { fieldPath: "metadata.labels['app']" } } },
        ],
      }],
    },
  };

  it('parses containers, security contexts and probes', () => {
    const view = toPodView(pod);
    expect(view).toMatchObject({ id: { namespace: 'shop', name: 'web-1', uid: 'u-1' }, nodeName: 'node-2', hostNetwork: false, restartPolicy: 'Always', terminationGracePeriodSeconds: 30, serviceAccountName: 'speaker' });
    const c = view.containers[0];
    expect(c?.spec.security).toEqual({ runAsUser: 65534, readOnlyRootFilesystem: true, capabilities: { add: ['NET_RAW'], drop: ['ALL'] } });
    expect(c?.readiness).toMatchObject({ action: { kind: 'http', port: 'http', path: '/ready', scheme: 'HTTP' }, periodSeconds: 2, timeoutSeconds: 1, failureThreshold: 3, successThreshold: 1 });
    expect(c?.liveness?.action).toEqual({ kind: 'exec', command: ['true'] });
  });

  it('resolves env in order with the downward API', () => {
    const { env, errors } = resolveEnv(toPodView(pod).containers[0]?.env ?? [], { pod, podIp: '10.244.2.5', hostIp: '172.31.213.12' });
    expect(errors).toEqual([]);
    expect(env).toEqual([
      { name: 'PLAIN', value: 'x' }, { name: 'NODE', value: 'node-2' }, { name: 'NAME', value: 'web-1' }, { name: 'NS', value: 'shop' },
      { name: 'POD_IP', value: '10.244.2.5' }, { name: 'HOST_IP', value: '172.31.213.12' }, { name: 'APP', value: 'web' },
    ]);
  });

  it('names the variable it cannot resolve', () => {
    const { errors } = resolveEnv([{ name: 'PASSWORD', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }, { name: 'X', valueFrom: { fieldRef: { fieldPath: 'spec.nope' } } }], { pod, podIp: '', hostIp: '' });
    expect(errors.map((e) => e.message)).toEqual(['env PASSWORD: only valueFrom.fieldRef is supported in the sandbox', 'env X: unsupported fieldPath "spec.nope"']);
  });
});

describe('Pod status as the kubelet writes it', () => {
  const running = (over: Partial<ContainerRecord> = {}): ContainerRecord => ({ name: 'web', image: 'nginx', containerID: 'standin://u-web-0', restartCount: 0, state: { running: { startedAt: '2026-12-04T10:00:00Z' } }, lastState: undefined, ready: true, started: true, ...over });
  const record = (containers: ContainerRecord[], over: Partial<PodRecord> = {}): PodRecord => ({ podIp: '10.244.2.5', hostIp: '172.31.213.12', startTime: '2026-12-04T10:00:00Z', containers, finished: undefined, ...over });
  const pod = { status: { phase: 'Pending', qosClass: 'BestEffort', conditions: [{ type: 'PodScheduled', status: 'True', lastTransitionTime: '2026-12-04T09:59:59Z' }, { type: 'Ready', status: 'True', lastTransitionTime: '2026-12-04T10:00:01Z' }] } };

  it('Running and Ready: conditions, IPs, container statuses; an unchanged condition keeps its transition time', () => {
    const s = podStatus(pod, record([running()]), '2026-12-04T10:05:00Z');
    expect(s).toMatchObject({ phase: 'Running', podIP: '10.244.2.5', podIPs: [{ ip: '10.244.2.5' }], hostIP: '172.31.213.12', hostIPs: [{ ip: '172.31.213.12' }], startTime: '2026-12-04T10:00:00Z', qosClass: 'BestEffort' });
    const conditions = s.conditions as { type: string; status: string; lastTransitionTime: string }[];
    expect(conditions.map((c) => [c.type, c.status])).toEqual([['PodReadyToStartContainers', 'True'], ['Initialized', 'True'], ['Ready', 'True'], ['ContainersReady', 'True'], ['PodScheduled', 'True']]);
    expect(conditions.find((c) => c.type === 'Ready')?.lastTransitionTime).toBe('2026-12-04T10:00:01Z');
    expect(s.containerStatuses).toEqual([{ name: 'web', image: 'nginx', imageID: '', containerID: 'standin://u-web-0', ready: true, started: true, restartCount: 0, state: { running: { startedAt: '2026-12-04T10:00:00Z' } }, lastState: {} }]);
  });

  it('a container in crash-loop back-off: not ready, ContainersNotReady naming it, lastState terminated', () => {
    const terminated = { terminated: { exitCode: 137, reason: 'Error', startedAt: 'a', finishedAt: 'b', containerID: 'standin://u-web-0' } };
    const s = podStatus(pod, record([running({ restartCount: 1, state: { waiting: { reason: 'CrashLoopBackOff' } }, lastState: terminated, ready: false })]), '2026-12-04T10:05:00Z');
    const ready = (s.conditions as { type: string }[]).find((c) => c.type === 'Ready');
    expect(ready).toEqual({ type: 'Ready', status: 'False', lastProbeTime: null, lastTransitionTime: '2026-12-04T10:05:00Z', reason: 'ContainersNotReady', message: 'containers with unready status: [web]' });
    expect(s.phase).toBe('Running');
    expect((s.containerStatuses as { lastState: unknown; restartCount: number }[])[0]).toMatchObject({ restartCount: 1, lastState: terminated, ready: false });
  });

  it.each([
    { name: 'nothing started yet', containers: [running({ containerID: undefined, state: { waiting: { reason: 'ContainerCreating' } }, ready: false })], finished: undefined, want: 'Pending' },
    { name: 'running', containers: [running()], finished: undefined, want: 'Running' },
    { name: 'done', containers: [running()], finished: 'Succeeded' as const, want: 'Succeeded' },
  ])('phase: $name -> $want', ({ containers, finished, want }) => {
    expect(podPhase(record(containers, { finished }))).toBe(want);
  });
});

describe('the Pod network names and addresses', () => {
  it('hands out .2 upwards, skipping used addresses, and none when full', () => {
    expect(pickPodIp('10.244.3.0/24', new Set())).toBe('10.244.3.2');
    expect(pickPodIp('10.244.3.0/24', new Set(['10.244.3.2', '10.244.3.3']))).toBe('10.244.3.4');
    expect(pickPodIp('10.244.3.0/24', new Set(Array.from({ length: 253 }, (_, i) => `10.244.3.${String(i + 2)}`)))).toBeUndefined();
    // After the last address given, not the lowest free one (an address just given up is not reused at once), wrapping at .254.
    expect(pickPodIp('10.244.3.0/24', new Set(['10.244.3.5']), '10.244.3.4')).toBe('10.244.3.6');
    expect(pickPodIp('10.244.3.0/24', new Set(), '10.244.3.4')).toBe('10.244.3.5');
    expect(pickPodIp('10.244.3.0/24', new Set(['10.244.3.2']), '10.244.3.254')).toBe('10.244.3.3');
    expect(parsePodCidr('10.244.0.0/16')).toBeUndefined();
  });

  it('derives namespace and veth names from the uid: stable, within IFNAMSIZ, matched by sandbox down', () => {
    const ns = podNetnsName('ironlb-node-2', 'f3b0c1d2-0000-4000-8000-000000000001');
    expect(ns).toMatch(/^ironlb-node-2-p-[a-z0-9]+$/);
    expect(podNetnsName('ironlb-node-2', 'f3b0c1d2-0000-4000-8000-000000000001')).toBe(ns);
    expect(podVethName('f3b0c1d2-0000-4000-8000-000000000001')).toMatch(/^veth[0-9a-f]{8}$/);
  });
});

describe('pods/log tailLines', () => {
  it.each([
    { text: 'a\nb\nc\n', n: 2, want: 'b\nc\n' },
    { text: 'a\nb\nc', n: 1, want: 'c' },
    { text: 'a\n', n: 5, want: 'a\n' },
    { text: 'a\nb\n', n: 0, want: '' },
  ])('$n of $text', ({ text, n, want }) => {
    expect(tailLines(text, n)).toBe(want);
  });
});
