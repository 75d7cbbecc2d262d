import * as k8s from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { clientNodeListWatch } from '../k8s/client.js';
import { createInformer } from '../k8s/informer.js';
import type { Clock } from '../shared/clock.js';
import { runKubelet, type KubeletDeps } from './kubelet/kubelet.js';
import { toServiceRouteViews } from './k8s-views.js';
import { createServiceProxy, type ServiceAddressPort } from './proxy.js';
import { createReconcileLoop } from './reconcile-loop.js';
import { desiredRouting } from './service-routing.js';

/** What one sandbox node agent needs (it runs inside the node's network namespace). */
export interface NodeAgentDeps {
  readonly kubeConfig: k8s.KubeConfig;
  readonly nodeName: string;
  /** This node's LAN address: node ports listen on it. */
  readonly nodeIp: string;
  readonly addresses: ServiceAddressPort;
  /** The node's kubelet; undefined runs the kube-proxy stand-in alone. */
  readonly kubelet: Omit<KubeletDeps, 'kubeConfig' | 'logger' | 'clock'> | undefined;
  readonly logger: Logger;
  readonly clock: Clock;
}

/**
 * One sandbox node: its kubelet stand-in (kubelet/kubelet.ts) and the kube-proxy stand-in that
 * follows Services and EndpointSlices. Settles when `signal` aborts and every Pod, listener and
 * Service address is gone.
 */
export async function runNodeAgent(deps: NodeAgentDeps, signal: AbortSignal): Promise<void> {
  const log = deps.logger.child({ component: 'sandbox-node-agent', node: deps.nodeName });
  const core = deps.kubeConfig.makeApiClient(k8s.CoreV1Api);
  const discovery = deps.kubeConfig.makeApiClient(k8s.DiscoveryV1Api);
  const proxy = createServiceProxy({ addresses: deps.addresses, logger: log });
  const loop = createReconcileLoop(
    async () => {
      if (!services.hasSynced() || !slices.hasSynced()) return;
      const views = toServiceRouteViews(services.list(), slices.list());
      const { routing, skipped } = desiredRouting(deps.nodeName, [deps.nodeIp], views);
      for (const s of skipped) log.debug({ event: 'portSkipped', service: s.service, reason: s.reason }, 'no listener for service port');
      await proxy.apply(routing);
    },
    (e) => { log.warn({ event: 'applyFailed', err: e }, 'cannot apply service routing; retrying on next change'); },
  );
  const common = { logger: log, clock: deps.clock, onChange: () => { loop.poke(); } };
  const services = createInformer<k8s.V1Service>({ ...common, path: '/api/v1/services', source: clientNodeListWatch(deps.kubeConfig, '/api/v1/services', () => core.listServiceForAllNamespaces()) });
  const slices = createInformer<k8s.V1EndpointSlice>({
    ...common,
    path: '/apis/discovery.k8s.io/v1/endpointslices',
    source: clientNodeListWatch(deps.kubeConfig, '/apis/discovery.k8s.io/v1/endpointslices', () => discovery.listEndpointSliceForAllNamespaces()),
  });
  const running = [services.run(signal), slices.run(signal)];
  if (deps.kubelet !== undefined) running.push(runKubelet({ ...deps.kubelet, kubeConfig: deps.kubeConfig, logger: deps.logger, clock: deps.clock }, signal));
  void Promise.all([services.synced, slices.synced]).then(() => { loop.poke(); });
  log.info({ event: 'nodeAgentStarted', nodeIp: deps.nodeIp }, 'sandbox node agent running');
  await Promise.all(running);
  await loop.idle();
  await proxy.close();
}
