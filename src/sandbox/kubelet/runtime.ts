import { spawn, type SpawnOptions } from 'node:child_process';

/**
 * The sandbox kubelet's container runtime port (what the CRI is to a real kubelet): the kubelet
 * decides what runs where and with which environment; a runtime only starts one container of a
 * Pod and reports how it ends. The sandbox pulls no images, so a runtime is chosen by image
 * (`RuntimeChooser`): the stand-in web server for any image (stand-in-runtime.ts), and ironlb's
 * own image runs ironlb.
 */

/** Which Pod a container belongs to. */
export interface PodIdentity {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
}

/** One `ports[]` entry of a container. */
export interface ContainerPortSpec {
  readonly name?: string;
  readonly containerPort: number;
  /** `TCP`, `UDP` or `SCTP` (defaulted to TCP by the API server). */
  readonly protocol: string;
}

/** The parts of a container's securityContext a runtime can honour (core/v1 SecurityContext). */
export interface ContainerSecurity {
  readonly runAsUser?: number;
  readonly runAsGroup?: number;
  readonly runAsNonRoot?: boolean;
  readonly privileged?: boolean;
  readonly readOnlyRootFilesystem?: boolean;
  readonly allowPrivilegeEscalation?: boolean;
  readonly capabilities?: { readonly add: readonly string[]; readonly drop: readonly string[] };
}

/** A container of the Pod spec, as a runtime needs it (core/v1 Container). */
export interface ContainerSpec {
  readonly name: string;
  readonly image: string;
  /** `command` (the image's ENTRYPOINT when empty). */
  readonly command: readonly string[];
  /** `args` (the image's CMD when empty). */
  readonly args: readonly string[];
  readonly workingDir?: string;
  readonly ports: readonly ContainerPortSpec[];
  /** The Pod's securityContext (runAsUser, runAsGroup, runAsNonRoot) with the container's over it. */
  readonly security: ContainerSecurity;
}

/** One environment variable, resolved (`value`, or `valueFrom.fieldRef` already read from the Pod). */
export interface EnvVar {
  readonly name: string;
  readonly value: string;
}

/** Everything a runtime needs to start one container of a Pod. */
export interface ContainerLaunch {
  readonly pod: PodIdentity;
  /** The node the Pod is bound to (`spec.nodeName`). */
  readonly nodeName: string;
  readonly container: ContainerSpec;
  /**
   * `env` in order, with `valueFrom.fieldRef` (spec.nodeName, metadata.name, metadata.namespace,
   * status.podIP, status.hostIP, ...) resolved, followed by what the kubelet adds
   * (`KUBERNETES_SERVICE_HOST`, `KUBERNETES_SERVICE_PORT`); a later entry of the same name wins,
   * as in a container.
   */
  readonly env: readonly EnvVar[];
  /**
   * The network namespace (a name under /run/netns, for `ip netns exec`) to run in: the Pod's
   * own, or the node's for `hostNetwork: true`.
   */
  readonly netns: string;
  readonly hostNetwork: boolean;
  /** `status.podIP`: the Pod's address (the node's for hostNetwork). */
  readonly podIp: string;
  /** `status.hostIP`: the node's LAN address. */
  readonly hostIp: string;
  /**
   * The file that stdout and stderr go to, appended; `kubectl logs` reads it. One file per
   * container incarnation (the previous one serves `--previous`).
   */
  readonly logPath: string;
  /**
   * A directory holding `token`, `ca.crt` and `namespace` to appear at
   * /var/run/secrets/kubernetes.io/serviceaccount, or undefined when the Pod has no
   * service-account token (`automountServiceAccountToken: false`, or none made).
   */
  readonly serviceAccountDir: string | undefined;
}

/** How a container ended, as `state.terminated` reports it. */
export interface ContainerExit {
  /** The exit code; 128 + signal number when a signal ended it (as container runtimes report). */
  readonly exitCode: number;
  /** The signal that ended it (`SIGKILL`), if any. */
  readonly signal: string | undefined;
  /** `Completed` (exit 0), `Error`, or `StartError` when it could not be started at all. */
  readonly reason: 'Completed' | 'Error' | 'StartError';
  /** A line for `state.terminated.message` (start errors say why). */
  readonly message?: string;
}

/** How a command run in a container ended (an exec probe's outcome). */
export type ExecOutcome =
  | { readonly kind: 'exited'; readonly exitCode: number }
  /** It ran past its timeout and was killed. */
  | { readonly kind: 'timedOut' }
  /** It could not be run at all (the container is gone, the runtime cannot exec). */
  | { readonly kind: 'error'; readonly message: string };

/**
 * Runs `program` as an exec probe's command (its own argv and options), killing it past
 * `timeoutMs`: `timedOut` then, `error` when it cannot start, else what `judge` makes of its
 * exit code, signal and last 2,000 characters of stderr (piped only when `stdio` asks for it).
 * Never rejects.
 */
export function execWithTimeout(program: string, args: readonly string[], options: SpawnOptions, timeoutMs: number, judge: (code: number | null, signal: NodeJS.Signals | null, stderr: string) => ExecOutcome): Promise<ExecOutcome> {
  return new Promise((resolve) => {
    const child = spawn(program, args, options);
    let stderr = '';
    let timedOut = false;
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-2000)));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, Math.max(1, timeoutMs));
    child.once('error', (e) => {
      clearTimeout(timer);
      resolve({ kind: 'error', message: e.message });
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve(timedOut ? { kind: 'timedOut' } : judge(code, signal, stderr));
    });
  });
}

/** A started container. */
export interface RunningContainer {
  /** Its main process id, when the runtime has one (the supervisor records it for `sandbox down`). */
  readonly pid: number | undefined;
  /** Settles once, when the container has ended for any reason (it never rejects). */
  readonly exited: Promise<ContainerExit>;
  /**
   * SIGTERM, then SIGKILL after `graceMs` (terminationGracePeriodSeconds); resolves with the
   * exit. Idempotent: a stopped container resolves at once.
   */
  stop(graceMs: number): Promise<ContainerExit>;
  /**
   * Runs `command` (argv, no shell) inside the container: its namespaces, its environment and
   * user, as `kubectl exec` and exec probes do (CRI ExecSync); killed after `timeoutMs`. Optional:
   * a runtime without it fails exec probes with a message saying so.
   */
  exec?(command: readonly string[], timeoutMs: number): Promise<ExecOutcome>;
}

/** Starts containers. `signal` aborting means the kubelet is going away: stop the container now. */
export interface ContainerRuntime {
  /** A short name for logs and `containerID` (`standin://...`, `ironlb://...`). */
  readonly name: string;
  /** Never throws: a container that cannot start ends at once with reason `StartError`. */
  start(launch: ContainerLaunch, signal: AbortSignal): RunningContainer;
}

/** Picks the runtime for an image (the sandbox's stand-in for pulling it). */
export type RuntimeChooser = (image: string) => ContainerRuntime;

/**
 * Stops a container the kubelet's way: SIGTERM, then SIGKILL once `graceMs` has passed
 * (the Pod's termination grace period); resolves with its exit.
 */
export async function stopWithGrace(kill: (signal: NodeJS.Signals) => void, exited: Promise<ContainerExit>, graceMs: number): Promise<ContainerExit> {
  kill('SIGTERM');
  const timer = setTimeout(() => { kill('SIGKILL'); }, Math.max(0, graceMs));
  const exit = await exited;
  clearTimeout(timer);
  return exit;
}
