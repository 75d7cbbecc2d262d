import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import type { Clock } from '../../shared/clock.js';
import type { JsonObject } from '../apiserver/object.js';
import { containerLogPath } from './log-files.js';
import type { ContainerRecord, ContainerStateValue, PodRecord } from './pod-status.js';
import { resolveEnv, type ContainerView, type PodView, type ProbeSpec } from './pod-view.js';
import { runProbe, runStartupProbe, type ProbeTarget } from './prober.js';
import { restartDelayMs } from './probe-state.js';
import type { ContainerExit, EnvVar, RunningContainer, RuntimeChooser } from './runtime.js';

/**
 * One Pod on one node, as a kubelet's pod worker runs it: each container started through the
 * runtime its image picks, probed, restarted with back-off as restartPolicy says, and stopped
 * with the grace period when the Pod goes. Holds the container records its status is made from.
 */
export interface PodWorkerDeps {
  readonly runtimes: RuntimeChooser;
  readonly logRoot: string;
  readonly hostIp: string;
  /** The address of the API server, for KUBERNETES_SERVICE_HOST/PORT (in-cluster config). */
  readonly apiServer: { readonly host: string; readonly port: string };
  readonly serviceAccountDir: (pod: PodView) => Promise<string | undefined>;
  readonly restartBackoff: { readonly baseMs: number; readonly maxMs: number };
  readonly clock: Clock;
  readonly logger: Logger;
  /** Called whenever the worker's status may have changed. */
  readonly changed: () => void;
  /** Aborted when the kubelet itself must stop at once: runtimes kill their containers. */
  readonly killSignal: AbortSignal;
  /** Records an Event on the Pod (as the kubelet's recorder does); never throws. */
  readonly recordEvent: (pod: PodView, event: PodEvent) => void;
}

/** An Event the worker reports on its Pod. */
export interface PodEvent {
  readonly type: 'Normal' | 'Warning';
  readonly reason: string;
  readonly message: string;
  /** The container it concerns (`spec.containers{name}` as involvedObject.fieldPath). */
  readonly container: string;
}

/** Where the Pod's containers run. */
export interface PodPlacement {
  readonly netns: string;
  readonly podIp: string;
}

/** A container's restart is decided by restartPolicy and its exit code. */
export function shouldRestart(policy: PodView['restartPolicy'], exit: ContainerExit): boolean {
  return policy === 'Always' || (policy === 'OnFailure' && exit.exitCode !== 0);
}

/** A container runs this long without failing and its back-off resets (kubelet: 2 x the 5 min cap). */
const backoffResetMs = 10 * 60_000;

function stamp(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

interface Slot {
  record: ContainerRecord;
  running: RunningContainer | undefined;
  done: boolean;
}

export class PodWorker {
  private readonly slots: Slot[];
  private readonly stopping = new AbortController();
  // "container/probe kind" already reported as not supported
  private readonly reported = new Set<string>();
  readonly startTime: string;
  private task: Promise<void> | undefined;

  constructor(
    private pod: PodView,
    private raw: JsonObject,
    private readonly placement: PodPlacement,
    private readonly deps: PodWorkerDeps,
  ) {
    this.startTime = stamp(deps.clock.wallTime());
    this.slots = pod.containers.map((c) => ({
      record: { name: c.spec.name, image: c.spec.image, containerID: undefined, restartCount: 0, state: { waiting: { reason: 'ContainerCreating' } }, lastState: undefined, ready: false, started: false },
      running: undefined,
      done: false,
    }));
  }

  get view(): PodView {
    return this.pod;
  }

  /** The Pod as last seen (the kubelet reads status conditions from it). */
  get object(): JsonObject {
    return this.raw;
  }

  /** A newer version of the same Pod (only images and grace periods may change; the kubelet uses the latest). */
  update(pod: PodView, raw: JsonObject): void {
    this.pod = pod;
    this.raw = raw;
  }

  record(): PodRecord {
    const containers = this.slots.map((s) => s.record);
    const allDone = this.slots.length > 0 && this.slots.every((s) => s.done);
    const failed = containers.some((c) => 'terminated' in c.state && c.state.terminated.exitCode !== 0);
    return { podIp: this.placement.podIp, hostIp: this.deps.hostIp, startTime: this.startTime, containers, finished: allDone ? (failed ? 'Failed' : 'Succeeded') : undefined };
  }

  /** Starts every container; resolves when all have stopped for good (or the worker was stopped). */
  start(): Promise<void> {
    this.task ??= Promise.all(this.pod.containers.map((c, i) => this.runContainer(c, this.slots[i] as Slot))).then(() => undefined);
    return this.task;
  }

  /** Stops every container: SIGTERM, SIGKILL after `graceMs`. */
  async stop(graceMs: number): Promise<void> {
    this.stopping.abort();
    await Promise.all(this.slots.flatMap((s) => (s.running === undefined ? [] : [s.running.stop(graceMs)])));
    await this.task;
  }

  private set(slot: Slot, record: Partial<ContainerRecord>): void {
    slot.record = { ...slot.record, ...record };
    this.deps.changed();
  }

  private async runContainer(c: ContainerView, slot: Slot): Promise<void> {
    const signal = this.stopping.signal;
    // a function, so that the checks after each await are not narrowed away
    const stopped = (): boolean => signal.aborted;
    const log = this.deps.logger.child({ pod: `${this.pod.id.namespace}/${this.pod.id.name}`, container: c.spec.name });
    let failures = 0;
    while (!signal.aborted) {
      // `failures` counts exits; the first start is no restart, and the first restart is at once.
      const delay = restartDelayMs(failures - 1, this.deps.restartBackoff);
      if (delay > 0) this.set(slot, { state: { waiting: { reason: 'CrashLoopBackOff', message: `back-off ${String(Math.round(delay / 1000))}s restarting failed container=${c.spec.name} pod=${this.pod.id.name}_${this.pod.id.namespace}(${this.pod.id.uid})` } } });
      if (!(await this.deps.clock.sleep(delay, signal).then(() => true, () => false))) break;
      const startedAt = this.deps.clock.now();
      const exit = await this.runOnce(c, slot, log);
      if (exit === undefined) continue;
      failures = this.deps.clock.now() - startedAt > backoffResetMs ? 0 : failures + 1;
      if (stopped() || !shouldRestart(this.pod.restartPolicy, exit)) break;
    }
    slot.done = true;
    this.deps.changed();
  }

  /** Resolves the env; a variable that cannot be resolved keeps the container waiting, as CreateContainerConfigError does. */
  private envFor(c: ContainerView, slot: Slot): EnvVar[] | undefined {
    const { env, errors } = resolveEnv(c.env, { pod: this.raw, podIp: this.placement.podIp, hostIp: this.deps.hostIp });
    if (errors.length > 0) {
      this.set(slot, { state: { waiting: { reason: 'CreateContainerConfigError', message: errors.map((e) => e.message).join('; ') } } });
      return undefined;
    }
    const service = [
      { name: 'KUBERNETES_SERVICE_HOST', value: this.deps.apiServer.host },
      { name: 'KUBERNETES_SERVICE_PORT', value: this.deps.apiServer.port },
      { name: 'KUBERNETES_SERVICE_PORT_HTTPS', value: this.deps.apiServer.port },
    ];
    return [...service, ...env];
  }

  /** One incarnation: start, probe, wait for the exit (or kill it when liveness fails); undefined when it never started. */
  private async runOnce(c: ContainerView, slot: Slot, log: Logger): Promise<ContainerExit | undefined> {
    const env = this.envFor(c, slot);
    if (env === undefined) {
      await this.deps.clock.sleep(10_000, this.stopping.signal).catch(() => undefined);
      return undefined;
    }
    const runtime = this.deps.runtimes(c.spec.image);
    const restartCount = slot.record.containerID === undefined ? 0 : slot.record.restartCount + 1;
    const logPath = containerLogPath(this.deps.logRoot, this.pod.id, c.spec.name, restartCount);
    await mkdir(dirname(logPath), { recursive: true, mode: 0o700 });
    const saDir = this.pod.automountServiceAccountToken ? await this.deps.serviceAccountDir(this.pod) : undefined;
    if (this.stopping.signal.aborted) return undefined;
    const startedAt = stamp(this.deps.clock.wallTime());
    const running = runtime.start({ pod: this.pod.id, nodeName: this.pod.nodeName, container: c.spec, env, netns: this.placement.netns, hostNetwork: this.pod.hostNetwork, podIp: this.placement.podIp, hostIp: this.deps.hostIp, logPath, serviceAccountDir: saDir }, this.deps.killSignal);
    slot.running = running;
    const containerID = `${runtime.name}://${this.pod.id.uid.slice(0, 8)}-${c.spec.name}-${String(restartCount)}`;
    const lastState = slot.record.containerID === undefined ? undefined : terminatedOf(slot.record.state);
    // Without a startup probe a running container has started; readiness starts failed when probed (kubelet prober).
    this.set(slot, { containerID, restartCount, state: { running: { startedAt } }, lastState: lastState ?? slot.record.lastState, ready: c.readiness === undefined && c.startup === undefined, started: c.startup === undefined });
    log.info({ event: 'containerStarted', pid: running.pid, runtime: runtime.name, restartCount }, 'container started');
    const exit = await this.superviseRunning(c, slot, running, log);
    slot.running = undefined;
    const terminated: ContainerStateValue = { terminated: { exitCode: exit.exitCode, reason: exit.reason, ...(exit.message === undefined ? {} : { message: exit.message }), startedAt, finishedAt: stamp(this.deps.clock.wallTime()), containerID } };
    this.set(slot, { state: terminated, ready: false, started: false });
    log.info({ event: 'containerExited', exitCode: exit.exitCode, signalName: exit.signal }, 'container exited');
    return exit;
  }

  /** Runs the probes while the container runs; a failed liveness or startup probe kills it with the grace period. */
  private async superviseRunning(c: ContainerView, slot: Slot, running: RunningContainer, log: Logger): Promise<ContainerExit> {
    const probes = new AbortController();
    const exec = running.exec?.bind(running);
    const target: ProbeTarget = { podIp: this.placement.podIp, ports: c.spec.ports, ...(exec === undefined ? {} : { exec }) };
    const kill = (why: 'liveness' | 'startup', spec: ProbeSpec): void => {
      // A Pod being stopped is not restarted: the kubelet stops liveness probing on deletion.
      if (this.stopping.signal.aborted) return;
      log.warn({ event: 'probeFailed', probe: why }, `container ${c.spec.name} failed ${why} probe, will be restarted`);
      this.deps.recordEvent(this.pod, { type: 'Normal', reason: 'Killing', message: `Container ${c.spec.name} failed ${why} probe, will be restarted`, container: c.spec.name });
      const grace = spec.terminationGracePeriodSeconds ?? this.pod.terminationGracePeriodSeconds;
      void running.stop(grace * 1000);
    };
    const probing = this.probe(c, slot, target, kill, probes.signal);
    const exit = await running.exited;
    probes.abort();
    await probing;
    return exit;
  }

  /**
   * The startup probe first (readiness and liveness wait for it, as in the kubelet), then
   * readiness and liveness until `signal` aborts. A grpc probe is not run: an Event says so once,
   * readiness then never succeeds (the sandbox cannot tell) and liveness and startup count as
   * succeeding (nothing is restarted for a check that cannot run).
   */
  private async probe(c: ContainerView, slot: Slot, target: ProbeTarget, kill: (why: 'liveness' | 'startup', spec: ProbeSpec) => void, signal: AbortSignal): Promise<void> {
    const startup = c.startup;
    if (startup !== undefined) {
      if (this.runnable(c, 'startup', startup)) {
        const verdict = await runStartupProbe(startup, target, { clock: this.deps.clock }, signal);
        if (verdict === 'failed') kill('startup', startup);
        if (verdict !== 'started') return;
      }
      this.set(slot, { started: true, ready: c.readiness === undefined });
    }
    const tasks: Promise<void>[] = [];
    const readiness = c.readiness;
    if (readiness !== undefined && this.runnable(c, 'readiness', readiness)) tasks.push(runProbe('readiness', readiness, target, { clock: this.deps.clock, onResult: (r) => { this.set(slot, { ready: r === 'success' }); } }, signal));
    const liveness = c.liveness;
    if (liveness !== undefined && this.runnable(c, 'liveness', liveness)) tasks.push(runProbe('liveness', liveness, target, { clock: this.deps.clock, onResult: (r) => { if (r === 'failure') kill('liveness', liveness); } }, signal));
    await Promise.all(tasks);
  }

  /** Whether the sandbox can run a probe; reports the first container start with one it cannot. */
  private runnable(c: ContainerView, kind: 'startup' | 'readiness' | 'liveness', spec: ProbeSpec): boolean {
    if (spec.action.kind !== 'unsupported') return true;
    const key = `${c.spec.name}/${kind}`;
    if (!this.reported.has(key)) {
      this.reported.add(key);
      const counts = kind === 'readiness' ? 'the container never becomes ready' : 'it counts as succeeding';
      const what = spec.action.what === 'grpc' ? 'gRPC probes are not supported by the ironlb sandbox kubelet' : 'the probe has no handler (httpGet, tcpSocket, exec or grpc)';
      this.deps.recordEvent(this.pod, { type: 'Warning', reason: 'ProbeNotSupported', message: `${kind[0]?.toUpperCase() ?? ''}${kind.slice(1)} probe of container ${c.spec.name} not run: ${what}; ${counts}`, container: c.spec.name });
    }
    return false;
  }
}

function terminatedOf(state: ContainerStateValue): ContainerStateValue | undefined {
  return 'terminated' in state ? state : undefined;
}
