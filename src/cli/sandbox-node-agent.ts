import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { dirname, join, resolve } from 'node:path';
import { loadKubeConfig, type KubeConfig } from '../k8s/client.js';
import type { PodView } from '../sandbox/kubelet/pod-view.js';
import type { RuntimeChooser } from '../sandbox/kubelet/runtime.js';
import { imageConfigOf } from '../sandbox/kubelet/image-config.js';
import { ironlbCheckoutRuntime, isIronlbImage } from '../sandbox/kubelet/ironlb-runtime.js';
import { checkoutSource } from '../sandbox/kubelet/image-source.js';
import { ironlbRuntimeChooser, podmanInstalled, podmanLocalImage, podmanRuntime, removeSandboxContainers, type IronlbRuntimeMode } from '../sandbox/kubelet/podman-runtime.js';
import { standInRuntime } from '../sandbox/kubelet/stand-in-runtime.js';
import { serviceAccountVolumes } from '../sandbox/serviceaccounts/pod-volumes.js';
import { createJsonClient } from '../sandbox/workloads/json-client.js';
import { runNodeAgent } from '../sandbox/node-agent.js';
import { dummyInterfaceAddresses, serviceInterfaceName } from '../sandbox/proxy.js';
import { UsageError } from '../shared/errors.js';
import { err, type Result } from '../shared/result.js';
import { systemClock } from '../sys/clock.js';
import { exitCode, type CommandRunner } from './command.js';
import { commonFlags, printUsage, readFlags, type Flags } from './flags.js';

const flagSpec = {
  ...commonFlags,
  node: { type: 'string', description: 'this node\'s name, e.g. node-1' },
  'node-ip': { type: 'string', description: 'this node\'s LAN address (status.hostIP; node ports listen on it)' },
  netns: { type: 'string', description: 'this node\'s network namespace (Pod namespaces are named after it); without it no kubelet runs' },
  'pod-cidr': { type: 'string', description: 'this node\'s Pod CIDR (spec.podCIDR), e.g. 10.244.1.0/24' },
  'pod-log-dir': { type: 'string', description: 'root of the container log files (the API server serves pods/log from it)' },
  'restart-backoff-ms': { type: 'number', default: 10_000, min: 0, description: 'first crash-loop back-off (kubelet: 10 s, doubling)' },
  'restart-backoff-max-ms': { type: 'number', default: 300_000, min: 0, description: 'longest crash-loop back-off (kubelet: 5 min)' },
  kubeconfig: { type: 'string', env: 'KUBECONFIG', description: 'kubeconfig of the sandbox API server' },
  'service-interface': { type: 'string', description: 'interface for Service IPs (default kube-ipvs0 if present, else lo)' },
  'ironlb-runtime': { type: 'string', default: 'auto', choices: ['auto', 'podman', 'checkout'], env: 'IRONLB_SANDBOX_RUNTIME', description: 'how ironlb\'s image runs: auto (podman when podman and an image built from this checkout are here, else this checkout), podman, checkout' },
} as const;

/** Whether this process's network namespace has the interface (/proc/self/net/dev is per namespace, unlike /sys). */
function hasInterface(name: string): boolean {
  const dev = readFileSync('/proc/self/net/dev', 'utf8');
  return dev.split('\n').some((line) => line.trim().startsWith(`${name}:`));
}

function required(value: string | undefined, flag: string): string {
  if (value === undefined || value === '') throw new UsageError(`--${flag} is required`);
  return value;
}

interface RuntimeOptions {
  readonly path: string;
  readonly podLogDir: string;
  readonly mode: IronlbRuntimeMode;
  /** The node's network namespace: the label on its podman containers. */
  readonly node: string;
  /** The checkout ironlb runs from (bin/ironlb.js is <checkout>/bin/ironlb.js). */
  readonly checkout: string;
  /** The digest of the checkout's image build inputs, to compare with the image's label. */
  readonly checkoutSource: Result<string, string>;
}

/**
 * What the kubelet runs containers with: ironlb's own image runs ironlb with podman when podman
 * and an image built from this checkout are here, else from this checkout (bin/ironlb.js is <checkout>/bin/ironlb.js)
 * (podman-runtime.ts, `ironlbRuntimeChooser`); every other image the stand-in web server. The
 * service account volumes live beside the container logs, in the sandbox's state dir.
 */
function containerRuntimes(kubeConfig: KubeConfig, opts: RuntimeOptions, logger: Logger): { readonly runtimes: RuntimeChooser; readonly serviceAccountDir: (pod: PodView) => Promise<string | undefined> } {
  const { path, podLogDir } = opts;
  const standIn = standInRuntime({ ironlb: [process.execPath, process.argv[1] ?? 'ironlb'], path });
  const { checkout } = opts;
  const image = imageConfigOf(readFileSync(join(checkout, 'Dockerfile'), 'utf8'));
  const podman = opts.mode !== 'checkout' && podmanInstalled('podman') ? podmanRuntime({ podman: 'podman', image, node: opts.node, logger }) : undefined;
  const ironlb = ironlbRuntimeChooser({
    mode: opts.mode,
    podman,
    checkout: ironlbCheckoutRuntime({ checkout, nodePath: process.execPath, image, path }),
    localImage: (ref) => podmanLocalImage('podman', ref),
    checkoutSource: opts.checkoutSource,
    logger,
  });
  const volumes = serviceAccountVolumes({ client: createJsonClient(kubeConfig), root: join(dirname(podLogDir), 'pod-volumes'), now: () => systemClock.wallTime() });
  return {
    runtimes: (image) => (isIronlbImage(image) ? ironlb(image) : standIn),
    // Only ironlb reads its token (the stand-in does not); a volume that cannot be made yet (the
    // ServiceAccount not created yet) leaves the container without it: ironlb then exits, and the
    // kubelet's restart tries again, as a real kubelet retries MountVolume.SetUp.
    serviceAccountDir: async (pod) => {
      if (!pod.containers.some((c) => isIronlbImage(c.spec.image))) return undefined;
      try {
        return await volumes({ ...pod.id, serviceAccountName: pod.serviceAccountName });
      } catch (e: unknown) {
        logger.warn({ event: 'serviceAccountVolumeFailed', pod: `${pod.id.namespace}/${pod.id.name}`, err: e }, 'cannot make the service account volume; starting without it');
        return undefined;
      }
    },
  };
}

/**
 * The kubelet's runtimes for this node, after removing the podman containers a killed node agent
 * left (they outlive it; kubelet.ts removes the Pod namespaces).
 */
async function nodeRuntimes(kubeConfig: KubeConfig, flags: Flags<typeof flagSpec>, env: Readonly<Record<string, string | undefined>>, logger: Logger): Promise<ReturnType<typeof containerRuntimes>> {
  const mode = flags['ironlb-runtime'] as IronlbRuntimeMode;
  const netns = flags.netns ?? flags.node ?? '';
  if (flags.netns !== undefined && mode !== 'checkout') await removeSandboxContainers('podman', [netns]);
  const checkout = dirname(dirname(resolve(process.argv[1] ?? 'bin/ironlb.js')));
  // Only `auto` and `podman` compare the image with the checkout (hashing ~1 MB of sources).
  const source = mode === 'checkout' ? err('not compared (--ironlb-runtime checkout)') : await checkoutSource(checkout);
  return containerRuntimes(kubeConfig, { path: env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', podLogDir: flags['pod-log-dir'] ?? '.', mode, node: netns, checkout, checkoutSource: source }, logger);
}

/** `ironlb sandbox node-agent`: internal; `sandbox up` runs one per node inside the node's namespace. */
export const sandboxNodeAgentCommand: CommandRunner = {
  async run(ctx) {
    const { flags } = readFlags(flagSpec, ctx.argv, ctx.env);
    if (flags.help) return printUsage(ctx.stdout, 'ironlb sandbox node-agent --node NAME --node-ip IP [--netns NS --pod-cidr CIDR --pod-log-dir DIR] [--kubeconfig FILE]', flagSpec);
    const node = required(flags.node, 'node');
    const nodeIp = required(flags['node-ip'], 'node-ip');
    const logger = ctx.makeLogger(flags['log-level'], flags['log-format']);
    const iface = flags['service-interface'] ?? serviceInterfaceName(hasInterface);
    const kubeConfig = loadKubeConfig({ kubeconfigPath: flags.kubeconfig });
    const server = new URL(kubeConfig.getCurrentCluster()?.server ?? 'https://127.0.0.1:443');
    const { runtimes, serviceAccountDir } = await nodeRuntimes(kubeConfig, flags, ctx.env, logger);
    const kubelet = flags.netns === undefined ? undefined : {
      node: { node, netns: flags.netns, lanIp: nodeIp, cidr: required(flags['pod-cidr'], 'pod-cidr') },
      hostIp: nodeIp,
      runtimes,
      logRoot: required(flags['pod-log-dir'], 'pod-log-dir'),
      serviceAccountDir,
      apiServer: { host: server.hostname, port: server.port === '' ? '443' : server.port },
      restartBackoff: { baseMs: flags['restart-backoff-ms'], maxMs: flags['restart-backoff-max-ms'] },
      shutdownGraceMs: 2000,
    };
    await runNodeAgent({ kubeConfig, nodeName: node, nodeIp, addresses: dummyInterfaceAddresses(iface), kubelet, logger, clock: systemClock }, ctx.signal);
    return exitCode.ok;
  },
};
