import { spawn, spawnSync } from 'node:child_process';
import { closeSync, openSync, writeSync } from 'node:fs';
import { constants } from 'node:os';
import type { Logger } from 'pino';
import { err, ok, type Result } from '../../shared/result.js';
import { serviceAccountMountPath } from '../serviceaccounts/volume.js';
import type { ImageConfig } from './image-config.js';
import { sourceLabel } from './image-source.js';
import { effectiveCapabilities, userOf } from './ironlb-runtime.js';
import { execWithTimeout, stopWithGrace, type ContainerExit, type ContainerLaunch, type ContainerRuntime, type ContainerSecurity, type ExecOutcome, type RunningContainer } from './runtime.js';

/**
 * ironlb's own image run by the sandbox kubelet with podman, as a CRI runtime runs it: one
 * container per incarnation (`podman create`, then `podman start --attach`, whose exit code is
 * the container's), in the Pod's network namespace (the node's for hostNetwork), with the
 * container's command and args over the image's ENTRYPOINT, its resolved env, user and group,
 * capabilities as containerd sets them, readOnlyRootFilesystem, no_new_privs, and the service
 * account volume at /var/run/secrets/kubernetes.io/serviceaccount. stdout and stderr go to the
 * kubelet's log file. Every container carries the labels the kubelet puts on its containers
 * (`io.kubernetes.pod.*`) and {@link sandboxNodeLabel}, by which the node agent and
 * `sandbox down` find and remove what a crash left behind.
 */

/** The label naming the sandbox node (its network namespace) a container was started for. */
export const sandboxNodeLabel = 'io.ironlb.sandbox.node';

/** How a container ending with 128 + N reports the signal N (as CRI runtimes report a kill). */
const signalNames = new Map<number, string>(Object.entries(constants.signals).map(([name, n]) => [n, name]));

export interface PodmanRuntimeDeps {
  /** The podman binary (`podman`, found on PATH). */
  readonly podman: string;
  /** The image's configuration (the Dockerfile's last stage), for its USER when the Pod names none. */
  readonly image: ImageConfig;
  /** The value of {@link sandboxNodeLabel} on every container: the node's network namespace. */
  readonly node: string;
  readonly logger: Logger;
}

/**
 * The tag scripts/build-image.sh gives ironlb's image for the image a Pod names: podman tags
 * local builds `localhost/NAME`, so `ironlb/ironlb:0.1.0` (manifests/ironlb.yaml) and
 * `registry.example.com/ironlb:0.1.0` map to `localhost/ironlb:0.1.0`; no tag is `latest`.
 */
export function localImageRef(image: string): string {
  const withoutDigest = image.split('@')[0] ?? image;
  const tag = /:([^/:]+)$/.exec(withoutDigest)?.[1] ?? 'latest';
  return `localhost/ironlb:${tag}`;
}

/** The container's name, as dockershim named them (`k8s_<container>_<pod>_<namespace>_<uid>_<attempt>`). */
export function podmanContainerName(launch: ContainerLaunch, attempt: number): string {
  return `k8s_${launch.container.name}_${launch.pod.name}_${launch.pod.namespace}_${launch.pod.uid}_${String(attempt)}`;
}

/**
 * `podman create` arguments for one container incarnation; pure. Capabilities: podman gives a
 * non-root user the added capabilities as ambient ones (so its process has them), where a
 * Kubernetes runtime gives a non-root user none; so a non-root container gets no capability
 * at all (an empty bounding set instead of the runtime's defaults minus drop plus add: the same
 * for any process without file capabilities).
 */
export function podmanCreateArgs(launch: ContainerLaunch, name: string, deps: Pick<PodmanRuntimeDeps, 'image' | 'node'>): Result<string[], string> {
  const { container, pod } = launch;
  const user = userOf(container.security, deps.image);
  if (!user.ok) return err(`container ${container.name} of pod ${pod.namespace}/${pod.name}: ${user.error}`);
  const { uid, gid } = user.value;
  const args = [
    'create', '--replace', '--pull=never', '--name', name,
    '--label', `${sandboxNodeLabel}=${deps.node}`,
    '--label', `io.kubernetes.pod.namespace=${pod.namespace}`, '--label', `io.kubernetes.pod.name=${pod.name}`,
    '--label', `io.kubernetes.pod.uid=${pod.uid}`, '--label', `io.kubernetes.container.name=${container.name}`,
    // The attached `podman start` writes the kubelet's log file; podman keeps no copy.
    '--log-driver', 'none',
    // hostNetwork: the network namespace of podman itself, which runs in the node's (see
    // podmanInNetns). `ns:` would do for the node's too, but then podman adds its default
    // sysctls (net.ipv4.ping_group_range), which runc refuses in what it sees as the host's.
    '--network', launch.hostNetwork ? 'host' : `ns:/run/netns/${launch.netns}`,
    // A Pod's hostname is its name; a hostNetwork Pod shares the node's.
    '--hostname', launch.hostNetwork ? launch.nodeName : pod.name,
    '--user', `${String(uid)}:${String(gid)}`,
    ...securityArgs(container.security, uid),
  ];
  if (launch.serviceAccountDir !== undefined) args.push('--volume', `${launch.serviceAccountDir}:${serviceAccountMountPath}:ro`);
  for (const e of launch.env) args.push('--env', `${e.name}=${e.value}`);
  if (container.workingDir !== undefined) args.push('--workdir', container.workingDir);
  // Kubernetes' rule: command replaces ENTRYPOINT (and CMD with it), args replace CMD.
  if (container.command.length > 0) args.push('--entrypoint', JSON.stringify(container.command));
  args.push(localImageRef(container.image), ...container.args);
  return ok(args);
}

/**
 * The command that runs `podman ARGS` for a container: for hostNetwork, inside the node's network
 * namespace (`nsenter --net`, which, unlike `ip netns exec`, keeps the mount namespace and so
 * podman's view of /sys/fs/cgroup), since `--network host` means podman's own; pure.
 */
export function podmanInNetns(podman: string, launch: ContainerLaunch, args: readonly string[]): { readonly command: string; readonly args: readonly string[] } {
  return launch.hostNetwork ? { command: 'nsenter', args: [`--net=/run/netns/${launch.netns}`, podman, ...args] } : { command: podman, args };
}

/** Capabilities, read-only root and no_new_privs as podman flags (see {@link podmanCreateArgs}). */
function securityArgs(security: ContainerSecurity, uid: number): string[] {
  const caps = uid === 0 ? effectiveCapabilities(security) : [];
  const args = security.privileged === true ? ['--privileged'] : ['--cap-drop', 'all', ...caps.flatMap((c) => ['--cap-add', c.toLowerCase()])];
  // Kubernetes mounts no tmpfs over a read-only root; podman would (/tmp, /var/tmp, /run).
  if (security.readOnlyRootFilesystem === true) args.push('--read-only', '--read-only-tmpfs=false');
  if (security.allowPrivilegeEscalation === false) args.push('--security-opt', 'no-new-privileges');
  return args;
}

/** The exit as the kubelet reports it, from podman's record of the container (`.State`). */
export function podmanExit(state: { readonly status: string; readonly exitCode: number; readonly error: string }, startError: string): ContainerExit {
  // Never ran: podman refused to start it (no such command, a bad capability, ...).
  if (state.status === 'created' || state.status === 'configured' || state.error !== '') {
    return { exitCode: 128, signal: undefined, reason: 'StartError', message: state.error !== '' ? state.error : startError };
  }
  const signal = state.exitCode > 128 ? signalNames.get(state.exitCode - 128) : undefined;
  return { exitCode: state.exitCode, signal, reason: state.exitCode === 0 ? 'Completed' : 'Error' };
}

interface PodmanResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function runPodman(podman: string, args: readonly string[]): Promise<PodmanResult> {
  return new Promise((resolve) => {
    const child = spawn(podman, [...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', (e) => { resolve({ code: 127, stdout, stderr: e.message }); });
    child.once('close', (code) => { resolve({ code: code ?? 128, stdout, stderr }); });
  });
}

/** The last `Error: ...` line podman wrote, without the prefix. */
function podmanError(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  const last = [...lines].reverse().find((l) => l.startsWith('Error:')) ?? lines.at(-1) ?? 'podman failed';
  return last.replace(/^Error:\s*/, '');
}

async function inspectState(podman: string, name: string): Promise<{ status: string; exitCode: number; error: string } | undefined> {
  const r = await runPodman(podman, ['inspect', '--type', 'container', '--format', '{{.State.Status}}|{{.State.ExitCode}}|{{.State.Error}}', name]);
  if (r.code !== 0) return undefined;
  const [status = '', code = '', ...error] = r.stdout.trim().split('|');
  return { status, exitCode: Number(code), error: error.join('|') };
}

/**
 * The podman runtime. `start` creates the container, then attaches to it until it ends, with
 * stdout to the log file and stderr to it too (its tail kept for a start error's message); the
 * container is removed once its exit is read. `stop` is SIGTERM, then SIGKILL after the grace
 * period (`podman kill`); the kubelet going away kills at once.
 */
export function podmanRuntime(deps: PodmanRuntimeDeps): ContainerRuntime {
  // `${pod uid}/${container}` -> incarnations started so far
  const attempts = new Map<string, number>();
  return {
    name: 'podman',
    start(launch, signal) {
      const key = `${launch.pod.uid}/${launch.container.name}`;
      const attempt = attempts.get(key) ?? 0;
      attempts.set(key, attempt + 1);
      const name = podmanContainerName(launch, attempt);
      return startPodmanContainer(launch, name, deps, signal);
    },
  };
}

const startError = (message: string): ContainerExit => ({ exitCode: 128, signal: undefined, reason: 'StartError', message });

/** What a container's supervision knows: whether it runs yet, and a kill asked for before it did. */
interface Progress {
  started: boolean;
  pendingKill: NodeJS.Signals | undefined;
  done: ContainerExit | undefined;
}

/** Attaches to a created container until it ends; stdout and stderr to the log file. */
async function attach(name: string, launch: ContainerLaunch, deps: PodmanRuntimeDeps, onStarted: () => void): Promise<ContainerExit> {
  const fd = openSync(launch.logPath, 'a', 0o600);
  try {
    let stderrTail = '';
    const start = podmanInNetns(deps.podman, launch, ['start', '--attach', name]);
    const attached = spawn(start.command, [...start.args], { stdio: ['ignore', fd, 'pipe'] });
    attached.stderr?.on('data', (d: Buffer) => {
      writeSync(fd, d);
      stderrTail = (stderrTail + d.toString('utf8')).slice(-2000);
    });
    onStarted();
    await new Promise<void>((resolve) => {
      attached.once('error', () => { resolve(); });
      attached.once('close', () => { resolve(); });
    });
    const state = await inspectState(deps.podman, name);
    return podmanExit(state ?? { status: 'unknown', exitCode: attached.exitCode ?? 128, error: '' }, podmanError(stderrTail));
  } finally {
    closeSync(fd);
  }
}

function startPodmanContainer(launch: ContainerLaunch, name: string, deps: PodmanRuntimeDeps, signal: AbortSignal): RunningContainer {
  const log = deps.logger.child({ container: name });
  const progress: Progress = { started: false, pendingKill: undefined, done: undefined };
  const kill = (sig: NodeJS.Signals): void => {
    if (progress.done !== undefined) return;
    if (!progress.started) {
      if (progress.pendingKill !== 'SIGKILL') progress.pendingKill = sig;
      return;
    }
    void runPodman(deps.podman, ['kill', '--signal', sig, name]).then((r) => {
      if (r.code !== 0 && progress.done === undefined) log.debug({ event: 'podmanKillFailed', signalName: sig, detail: podmanError(r.stderr) }, 'podman kill failed');
    });
  };
  const onAbort = (): void => { kill('SIGKILL'); };
  if (signal.aborted) onAbort();
  else signal.addEventListener('abort', onAbort);

  const run = async (): Promise<ContainerExit> => {
    const args = podmanCreateArgs(launch, name, deps);
    if (!args.ok) return startError(args.error);
    if (progress.pendingKill !== undefined) return startError('stopped before it started');
    const create = podmanInNetns(deps.podman, launch, args.value);
    const created = await runPodman(create.command, create.args);
    if (created.code !== 0) return startError(`podman create: ${podmanError(created.stderr)}`);
    try {
      return await attach(name, launch, deps, () => {
        progress.started = true;
        if (progress.pendingKill !== undefined) kill(progress.pendingKill);
      });
    } catch (e: unknown) {
      return startError(e instanceof Error ? e.message : String(e));
    } finally {
      await runPodman(deps.podman, ['rm', '--force', '--time', '0', name]);
    }
  };

  const exited = run().then((exit) => {
    progress.done = exit;
    signal.removeEventListener('abort', onAbort);
    return exit;
  });
  return {
    pid: undefined,
    exited,
    async stop(graceMs) {
      if (progress.done !== undefined) return progress.done;
      return stopWithGrace(kill, exited, graceMs);
    },
    exec(command, timeoutMs) {
      if (!progress.started || progress.done !== undefined) return Promise.resolve({ kind: 'error', message: 'the container is not running' });
      return podmanExec(deps.podman, name, command, timeoutMs);
    },
  };
}

/**
 * podman's own exit codes for `podman exec` (podman-exec(1), "Exit Status"): 125 podman failed,
 * 126 the command cannot be invoked, 127 it was not found; any other code is the command's.
 */
const podmanExecFailures = new Map([[125, 'podman exec failed'], [126, 'the command cannot be invoked'], [127, 'the command was not found']]);

/** The outcome of `podman exec` as CRI ExecSync reports it; pure. */
export function podmanExecOutcome(code: number, stderr: string): ExecOutcome {
  const failure = podmanExecFailures.get(code);
  if (failure === undefined) return { kind: 'exited', exitCode: code };
  const detail = podmanError(stderr);
  return { kind: 'error', message: stderr.trim() === '' ? failure : `${failure}: ${detail}` };
}

/**
 * `podman exec NAME COMMAND...`: the command in the container's namespaces, with its user and
 * environment (what exec probes and CRI ExecSync do). Past `timeoutMs` the podman client is
 * killed and the outcome is `timedOut`; podman 4.3's exec has no timeout of its own, so the
 * command itself may run on in the container until it ends (containerd kills it; see
 * docs/sandbox.md). Never rejects.
 */
function podmanExec(podman: string, name: string, command: readonly string[], timeoutMs: number): Promise<ExecOutcome> {
  if (command.length === 0) return Promise.resolve({ kind: 'error', message: 'exec: no command' });
  return execWithTimeout(podman, ['exec', name, ...command], { stdio: ['ignore', 'ignore', 'pipe'] }, timeoutMs, (code, _signal, stderr) => podmanExecOutcome(code ?? 128, stderr));
}

/** Whether podman runs here (`podman --version` succeeds). */
export function podmanInstalled(podman: string): boolean {
  return spawnSync(podman, ['--version'], { stdio: 'ignore', timeout: 30_000 }).status === 0;
}

/** What the sandbox needs to know of a local image: its ID and what it was built from. */
export interface LocalImage {
  /** The image ID (`sha256:` + hex), as `containerStatuses[].imageID` reports a local image. */
  readonly id: string;
  /** The {@link sourceLabel} value, or undefined when the image carries none. */
  readonly source: string | undefined;
}

/** `ref` in podman's local storage (`podman image inspect`), or undefined when it is not there. */
export function podmanLocalImage(podman: string, ref: string): LocalImage | undefined {
  const r = spawnSync(podman, ['image', 'inspect', '--format', '{{.Id}}|{{json .Labels}}', ref], { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) return undefined;
  const [id = '', labels = 'null'] = r.stdout.trim().split('|');
  const parsed: unknown = JSON.parse(labels);
  const source = typeof parsed === 'object' && parsed !== null && sourceLabel in parsed ? (parsed as Record<string, unknown>)[sourceLabel] : undefined;
  return { id: id.startsWith('sha256:') ? id : `sha256:${id}`, source: typeof source === 'string' ? source : undefined };
}

/**
 * Removes every container labelled for one of `nodes` (node network namespaces), running or not:
 * what a killed node agent or supervisor left (`podman run` containers outlive their client).
 * Returns the names removed; podman missing removes nothing.
 */
export async function removeSandboxContainers(podman: string, nodes: readonly string[]): Promise<string[]> {
  const removed: string[] = [];
  for (const node of nodes) {
    const listed = await runPodman(podman, ['ps', '--all', '--filter', `label=${sandboxNodeLabel}=${node}`, '--format', '{{.Names}}']);
    if (listed.code !== 0) continue;
    const names = listed.stdout.split('\n').map((l) => l.trim()).filter((l) => l !== '');
    if (names.length === 0) continue;
    await runPodman(podman, ['rm', '--force', '--time', '0', ...names]);
    removed.push(...names);
  }
  return removed;
}

/** Which runtime runs ironlb's image: `auto` (podman when it and an image of this checkout are here), or forced. */
export type IronlbRuntimeMode = 'auto' | 'podman' | 'checkout';

export interface IronlbRuntimeChoiceDeps {
  readonly mode: IronlbRuntimeMode;
  /** The podman runtime, or undefined when podman is not installed. */
  readonly podman: ContainerRuntime | undefined;
  readonly checkout: ContainerRuntime;
  /** The local image for a Pod's image (`localhost/ironlb:TAG`), or undefined when it is not there. */
  readonly localImage: (ref: string) => LocalImage | undefined;
  /** The digest of this checkout's build inputs (image-source.ts), or why there is none. */
  readonly checkoutSource: Result<string, string>;
  readonly logger: Logger;
}

/**
 * The one place the kubelet decides how ironlb's image runs: with podman when podman is
 * installed and the image in its local storage was built from this checkout (`auto`), else from
 * this checkout's build. Decided once per image, said in one log line (`ironlbRuntime`), which
 * `sandbox up` and `sandbox status` repeat.
 */
export function ironlbRuntimeChooser(deps: IronlbRuntimeChoiceDeps): (image: string) => ContainerRuntime {
  // image -> the runtime chosen for it
  const chosen = new Map<string, ContainerRuntime>();
  return (image) => {
    const known = chosen.get(image);
    if (known !== undefined) return known;
    const ref = localImageRef(image);
    let local: LocalImage | undefined;
    const choice = chooseIronlbRuntime({
      mode: deps.mode,
      installed: deps.podman !== undefined,
      image: () => (local = deps.localImage(ref)),
      checkout: deps.checkoutSource,
    });
    const runtime = choice.podman && deps.podman !== undefined ? deps.podman : deps.checkout;
    const reason = choice.reason.replaceAll('IMAGE', ref);
    const imageId = choice.podman ? local?.id : undefined;
    deps.logger.info({ event: 'ironlbRuntime', image, runtime: runtime.name, ...(imageId === undefined ? {} : { imageId }), reason }, `ironlb's image ${image} runs ${choice.podman ? 'with podman' : 'from this checkout'}: ${reason}`);
    chosen.set(image, runtime);
    return runtime;
  };
}

/** What {@link chooseIronlbRuntime} decides from. */
export interface IronlbRuntimeFacts {
  readonly mode: IronlbRuntimeMode;
  /** Whether podman is installed. */
  readonly installed: boolean;
  /** The local image, asked only when it matters. */
  readonly image: () => LocalImage | undefined;
  /** The digest of this checkout's build inputs, or why there is none. */
  readonly checkout: Result<string, string>;
}

/** `sha256:0123456789ab`: enough of a digest to tell two apart in a line. */
const short = (digest: string): string => digest.slice(0, 'sha256:'.length + 12);

/**
 * The decision alone; pure but for `image`, asked only when it matters. `IMAGE` in the reason is
 * the local tag. An image whose {@link sourceLabel} differs from the checkout's digest (or that
 * has none, or when the checkout's cannot be had) is stale: `auto` runs the checkout instead, so
 * the sandbox never runs older code than the checkout holds; `podman` runs it anyway and says so.
 */
export function chooseIronlbRuntime(facts: IronlbRuntimeFacts): { readonly podman: boolean; readonly reason: string } {
  const { mode, installed, checkout } = facts;
  if (mode === 'checkout') return { podman: false, reason: 'forced (--ironlb-runtime checkout)' };
  if (!installed) return { podman: false, reason: 'podman is not installed' };
  const image = facts.image();
  if (image === undefined) {
    if (mode === 'podman') return { podman: true, reason: "forced (--ironlb-runtime podman), but IMAGE is not in podman's storage: its containers will fail to start" };
    return { podman: false, reason: "the image IMAGE is not in podman's storage (scripts/build-image.sh builds it)" };
  }
  const stale = staleness(image, checkout);
  if (stale === undefined) return { podman: true, reason: `the image IMAGE (${short(image.id)}) was built from this checkout (source ${short(image.source ?? '')})` };
  if (mode === 'podman') return { podman: true, reason: `forced (--ironlb-runtime podman), though ${stale}` };
  return { podman: false, reason: `${stale}; rebuild it with scripts/build-image.sh to run it` };
}

/** Why the image may not hold this checkout's code, or undefined when its label matches. */
function staleness(image: LocalImage, checkout: Result<string, string>): string | undefined {
  if (image.source === undefined) return `the image IMAGE (${short(image.id)}) has no ${sourceLabel} label, so what it was built from is unknown`;
  if (!checkout.ok) return `this checkout's source digest cannot be had (${checkout.error})`;
  if (image.source !== checkout.value) return `the image IMAGE (${short(image.id)}) was built from other source than this checkout (${short(image.source)}, checkout ${short(checkout.value)})`;
  return undefined;
}
