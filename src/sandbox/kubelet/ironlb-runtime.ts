import { mkdirSync } from 'node:fs';
import { rmdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { err, ok, type Result } from '../../shared/result.js';
import { serviceAccountMountPath } from '../serviceaccounts/volume.js';
import type { ImageConfig } from './image-config.js';
import { startProcessContainer } from './process-container.js';
import type { ContainerExit, ContainerLaunch, ContainerRuntime, ContainerSecurity, RunningContainer } from './runtime.js';
import { containerEnv } from './stand-in-runtime.js';

/**
 * ironlb's own image, run by the sandbox kubelet from this checkout's build: the container's
 * command and args as Kubernetes applies them over the image's ENTRYPOINT and CMD (with the
 * image's `/app` mapped to the checkout and `node` to this Node.js), its resolved env over the
 * image's ENV, the user, group and capabilities of its securityContext through `setpriv`, and the
 * service account volume bind-mounted at /var/run/secrets/kubernetes.io/serviceaccount in a mount
 * namespace of its own (`unshare --mount`), so ironlb loads its in-cluster config unchanged.
 *
 * Honoured: runAsUser/runAsGroup (else the image's USER), runAsNonRoot (refused as the kubelet
 * refuses it), capabilities as containerd sets them (bounding set = runtime defaults - drop + add,
 * nothing inheritable or ambient: a non-root user keeps none, a root user gets the bounding set),
 * allowPrivilegeEscalation: false (no_new_privs). Not honoured on this path: readOnlyRootFilesystem
 * and seccompProfile (no container root, no seccomp filter), resources (no cgroup), and the
 * process shares the host's filesystem and process table.
 */

/** containerd's default capabilities (pkg/cap, oci.WithDefaultCapabilities), which `drop`/`add` edit. */
export const defaultCapabilities: readonly string[] = [
  'CHOWN', 'DAC_OVERRIDE', 'FSETID', 'FOWNER', 'MKNOD', 'NET_RAW', 'SETGID', 'SETUID', 'SETFCAP', 'SETPCAP', 'NET_BIND_SERVICE', 'SYS_CHROOT', 'KILL', 'AUDIT_WRITE',
];

/** Where the image keeps ironlb (Dockerfile `WORKDIR /app`); mapped to the checkout. */
const imageAppDir = '/app';

export interface IronlbRuntimeDeps {
  /** The checkout: holds bin/ironlb.js, dist/, node_modules/ and native/ as /app does in the image. */
  readonly checkout: string;
  /** The Node.js that runs `node` of the image (this process's). */
  readonly nodePath: string;
  /** The image's configuration (from the Dockerfile). */
  readonly image: ImageConfig;
  /** PATH for the process (the host's: the container has no filesystem of its own). */
  readonly path: string;
}

/** The process a container becomes: the argv for `ip netns exec`, its environment. */
export interface IronlbCommand {
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  /** The user the program runs as (setpriv switches to it); commands run in the container (exec probes) run as it too. */
  readonly user: { readonly uid: number; readonly gid: number };
}

/** The capability set a container gets (containerd: defaults, minus drop, plus add; `ALL` in either). */
export function effectiveCapabilities(security: ContainerSecurity): readonly string[] {
  const norm = (c: string): string => c.toUpperCase().replace(/^CAP_/, '');
  const drop = (security.capabilities?.drop ?? []).map(norm);
  const add = (security.capabilities?.add ?? []).map(norm);
  if (security.privileged === true) return ['ALL'];
  const base = drop.includes('ALL') ? [] : defaultCapabilities.filter((c) => !drop.includes(c));
  return add.includes('ALL') ? ['ALL'] : [...new Set([...base, ...add])];
}

/** The numeric user and group of an image's `USER` (`65534:65534`, `0`; names other than root are not resolved). */
function imageUser(user: string): { readonly uid: number; readonly gid: number } | undefined {
  if (user === '' || user === 'root') return { uid: 0, gid: 0 };
  const m = /^(\d+)(?::(\d+))?$/.exec(user);
  if (m === null) return undefined;
  const uid = Number(m[1]);
  return { uid, gid: m[2] === undefined ? uid : Number(m[2]) };
}

/** runAsUser/runAsGroup over the image's USER; refused as the kubelet refuses runAsNonRoot for root. */
export function userOf(security: ContainerSecurity, image: ImageConfig): Result<{ readonly uid: number; readonly gid: number }, string> {
  const fromImage = imageUser(image.user);
  const uid = security.runAsUser ?? fromImage?.uid;
  if (uid === undefined) return err(`the image's USER "${image.user}" is not numeric; set securityContext.runAsUser`);
  const gid = security.runAsGroup ?? (security.runAsUser === undefined ? fromImage?.gid : undefined) ?? 0;
  // kubelet: "container has runAsNonRoot and image will run as root" (CreateContainerConfigError).
  if (security.runAsNonRoot === true && uid === 0) return err('container has runAsNonRoot and image will run as root');
  return ok({ uid, gid });
}

/** The image's path mapped into the checkout (`/app/bin/ironlb.js` -> `<checkout>/bin/ironlb.js`). */
function mapPath(arg: string, deps: IronlbRuntimeDeps): string {
  if (arg === imageAppDir || arg.startsWith(`${imageAppDir}/`)) return join(deps.checkout, arg.slice(imageAppDir.length));
  return arg;
}

/**
 * Kubernetes' rule for command and args over the image (https://kubernetes.io/docs/tasks/inject-data-application/define-command-argument-container/#notes):
 * command replaces ENTRYPOINT (and then CMD is ignored), args replace CMD.
 */
export function containerArgv(launch: ContainerLaunch, image: ImageConfig): readonly string[] {
  const { command, args } = launch.container;
  if (command.length > 0) return [...command, ...args];
  return [...image.entrypoint, ...(args.length > 0 ? args : image.cmd)];
}

function setprivArgs(uid: number, gid: number, security: ContainerSecurity): string[] {
  const caps = effectiveCapabilities(security);
  const bounding = caps.includes('ALL') ? '+all' : ['-all', ...caps.map((c) => `+${c.toLowerCase()}`)].join(',');
  const noNewPrivs = security.allowPrivilegeEscalation === false ? ['--no-new-privs'] : [];
  return ['setpriv', '--reuid', String(uid), '--regid', String(gid), '--clear-groups', '--inh-caps=-all', `--bounding-set=${bounding}`, ...noNewPrivs, '--'];
}

/**
 * Mounts the service account volume (read-only, as the kubelet mounts it) in the process's own
 * mount namespace, then execs the rest; the pid stays the program's.
 */
const mountScript = `mount --bind "$1" "$2" && mount -o remount,bind,ro "$2" && shift 2 && exec "$@"`;

/** The whole command line and environment of one ironlb container from the checkout; pure. */
export function ironlbCommand(launch: ContainerLaunch, deps: IronlbRuntimeDeps): Result<IronlbCommand, string> {
  const who = `container ${launch.container.name} of pod ${launch.pod.namespace}/${launch.pod.name}`;
  const user = userOf(launch.container.security, deps.image);
  if (!user.ok) return err(`${who}: ${user.error}`);
  const { uid, gid } = user.value;
  const [program = '', ...rest] = containerArgv(launch, deps.image).map((a) => mapPath(a, deps));
  const argv = [program === 'node' ? deps.nodePath : program, ...rest];
  if (argv[0] === '') return err(`${who}: no command: the container has no command and the image no ENTRYPOINT`);
  const priv = setprivArgs(uid, gid, launch.container.security);
  const mount = launch.serviceAccountDir === undefined ? [] : ['sh', '-c', mountScript, 'sh', launch.serviceAccountDir, serviceAccountMountPath];
  // HOME: a directory without .kube/config, so client-node finds no kubeconfig of the host and
  // loads the in-cluster config, as it does in the image (the image has no ~/.kube either).
  const env = { ...deps.image.env, ...containerEnv(launch, deps.path), HOME: '/nonexistent' };
  return ok({ argv: ['unshare', '--mount', '--propagation', 'private', '--', ...mount, ...priv, ...argv], env, user: { uid, gid } });
}

/** A container that could not be started: ends at once with reason StartError (the port's contract). */
function startError(message: string): RunningContainer {
  const exit: ContainerExit = { exitCode: 128, signal: undefined, reason: 'StartError', message };
  return { pid: undefined, exited: Promise.resolve(exit), stop: () => Promise.resolve(exit) };
}

/**
 * The runtime for ironlb's image from this checkout's build. The mount point of the service account
 * volume is created on the host once (an empty directory under /run, a tmpfs; `sandbox down`
 * removes it); the bind mount itself exists only in the container's mount namespace.
 */
export function ironlbCheckoutRuntime(deps: IronlbRuntimeDeps): ContainerRuntime {
  return {
    name: 'ironlb',
    start(launch, signal) {
      const command = ironlbCommand(launch, deps);
      if (!command.ok) return startError(command.error);
      if (launch.serviceAccountDir !== undefined) {
        try {
          mkdirSync(serviceAccountMountPath, { recursive: true, mode: 0o755 });
        } catch (e: unknown) {
          return startError(`cannot make the mount point ${serviceAccountMountPath}: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
      return startProcessContainer(launch, { argv: command.value.argv, env: command.value.env, cwd: mapPath(deps.image.workingDir, deps), execUser: command.value.user }, signal);
    },
  };
}

/**
 * Removes the empty mount point directories the runtime made (`sandbox down`): each only if empty,
 * so a host that has a service account volume of its own (a machine that is itself a Pod) keeps it.
 */
export async function removeServiceAccountMountPoint(): Promise<void> {
  for (let dir = serviceAccountMountPath; dir !== '/var/run' && dir !== '/'; dir = dirname(dir)) {
    const gone = await rmdir(dir).then(() => true, () => false);
    if (!gone) return;
  }
}

/** Whether an image is ironlb's own (`ironlb/ironlb:TAG`, `localhost/ironlb:TAG`, with or without a registry). */
export function isIronlbImage(image: string): boolean {
  const name = image.split('@')[0]?.replace(/:[^/:]+$/, '') ?? '';
  return /(^|\/)ironlb\/ironlb$/.test(name) || name === 'localhost/ironlb' || name === 'ironlb';
}
