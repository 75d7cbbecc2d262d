import * as k8s from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { createInformer } from '../k8s/informer.js';
import type { Clock } from '../shared/clock.js';
import { runBackend } from './backend.js';
import { backendPort } from './endpoints.js';
import { toServiceRouteViews } from './k8s-views.js';
import { createServiceProxy, type ServiceAddressPort } from './proxy.js';
import { createReconcileLoop } from './reconcile-loop.js';
import { desiredRouting } from './service-routing.js';

/** What one sandbox node agent needs (it runs inside the node's namespace). */
export interface NodeAgentDeps {
  readonly kubeConfig: k8s.KubeConfig;
  readonly nodeName: string;
  /** This node's LAN address: the backend listens on it. */
  readonly nodeIp: string;
  /** node name -> LAN IP of every node (targets for Services whose endpoints are elsewhere). */
  readonly nodeIps: ReadonlyMap<string, string>;
  readonly addresses: ServiceAddressPort;
  readonly logger: Logger;
  readonly clock: Clock;
}

/**
 * One sandbox node: the backend answering its node name on nodeIp:8080, and the kube-proxy
 * stand-in that follows Services and EndpointSlices. Settles when `signal` aborts and every
 * listener and Service address is gone.
 */
export async function runNodeAgent(deps: NodeAgentDeps, signal: AbortSignal): Promise<void> {
  const log = deps.logger.child({ component: 'sandbox-node-agent', node: deps.nodeName });
  const core = deps.kubeConfig.makeApiClient(k8s.CoreV1Api);
  const discovery = deps.kubeConfig.makeApiClient(k8s.DiscoveryV1Api);
  const proxy = createServiceProxy({ addresses: deps.addresses, logger: log });
  const loop = createReconcileLoop(
    async () => {
      if (!services.hasSynced() || !slices.hasSynced()) return;
      const views = toServiceRouteViews(services.list(), slices.list(), backendPort);
      const { routing, skipped } = desiredRouting(deps.nodeName, views, deps.nodeIps);
      for (const s of skipped) log.debug({ event: 'portSkipped', service: s.service, reason: s.reason }, 'no listener for service port');
      await proxy.apply(routing);
    },
    (e) => { log.warn({ event: 'applyFailed', err: e }, 'cannot apply service routing; retrying on next change'); },
  );
  const common = { kubeConfig: deps.kubeConfig, logger: log, clock: deps.clock, onChange: () => { loop.poke(); } };
  const services = createInformer<k8s.V1Service>({ ...common, path: '/api/v1/services', list: () => core.listServiceForAllNamespaces() });
  const slices = createInformer<k8s.V1EndpointSlice>({
    ...common,
    path: '/apis/discovery.k8s.io/v1/endpointslices',
    list: () => discovery.listEndpointSliceForAllNamespaces(),
  });
  const running = [
    runBackend({ nodeName: deps.nodeName, host: deps.nodeIp, port: backendPort }, signal),
    services.run(signal),
    slices.run(signal),
  ];
  void Promise.all([services.synced, slices.synced]).then(() => { loop.poke(); });
  log.info({ event: 'nodeAgentStarted', nodeIp: deps.nodeIp }, 'sandbox node agent running');
  await Promise.all(running);
  await loop.idle();
  await proxy.close();
}
