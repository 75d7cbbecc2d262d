import { startProcessContainer } from './process-container.js';
import type { ContainerLaunch, ContainerRuntime } from './runtime.js';

/** What the stand-in runtime needs: how to run ironlb (`[node, bin/ironlb.js]`). */
export interface StandInRuntimeDeps {
  readonly ironlb: readonly string[];
  /** PATH for the process (the host's; a stand-in has no image of its own). */
  readonly path: string;
}

/** The environment a container sees: its resolved env over PATH and HOSTNAME (the Pod name, as a kubelet sets it). */
export function containerEnv(launch: ContainerLaunch, path: string): Record<string, string> {
  const env: Record<string, string> = { PATH: path, HOSTNAME: launch.hostNetwork ? launch.nodeName : launch.pod.name };
  for (const e of launch.env) env[e.name] = e.value;
  return env;
}

/** The TCP ports the stand-in listens on: every declared TCP containerPort. */
export function standInPorts(launch: ContainerLaunch): number[] {
  return launch.container.ports.filter((p) => p.protocol === 'TCP').map((p) => p.containerPort);
}

/**
 * The runtime for every image the sandbox cannot run: `ironlb sandbox stand-in`, a web server on
 * each declared containerPort (80 when none) answering with its Pod and node name, in the Pod's
 * network namespace. Command, args and securityContext of the container are not applied (there
 * is no image to run them in); it runs as the sandbox's user, so it can bind port 80.
 */
export function standInRuntime(deps: StandInRuntimeDeps): ContainerRuntime {
  return {
    name: 'standin',
    start(launch, signal) {
      const ports = standInPorts(launch).flatMap((p) => ['--port', String(p)]);
      const argv = [...deps.ironlb, 'sandbox', 'stand-in', '--pod', launch.pod.name, '--node', launch.nodeName, ...ports];
      return startProcessContainer(launch, { argv, env: containerEnv(launch, deps.path) }, signal);
    },
  };
}
