import * as k8s from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { httpStatusOf } from '../k8s/client.js';
import { createInformer } from '../k8s/informer.js';
import type { Clock } from '../shared/clock.js';
import { desiredEndpointSlice, type BackendNode, type EndpointSliceBody } from './endpoints.js';
import { toEndpointServiceView } from './k8s-views.js';
import { createReconcileLoop } from './reconcile-loop.js';

/** The client-node model of a slice (mutable arrays), copied from the pure body. */
function toV1EndpointSlice(slice: EndpointSliceBody, resourceVersion?: string): k8s.V1EndpointSlice {
  return {
    apiVersion: slice.apiVersion,
    kind: slice.kind,
    metadata: { ...slice.metadata, labels: { ...slice.metadata.labels }, ...(resourceVersion === undefined ? {} : { resourceVersion }) },
    addressType: slice.addressType,
    endpoints: slice.endpoints.map((e) => ({ addresses: [...e.addresses], nodeName: e.nodeName, conditions: { ...e.conditions } })),
    ports: slice.ports.map((p) => ({ ...p })),
  };
}

/** What the sandbox's EndpointSlice writer needs; it runs once per sandbox, host side. */
export interface EndpointWriterDeps {
  readonly kubeConfig: k8s.KubeConfig;
  readonly backendLabels: Readonly<Record<string, string>>;
  readonly nodes: readonly BackendNode[];
  readonly logger: Logger;
  readonly clock: Clock;
}

/**
 * Keeps one EndpointSlice per Service whose selector matches the backends (see endpoints.ts),
 * creating or replacing it when it differs. Slices of deleted Services are deleted with them.
 */
export async function runEndpointWriter(deps: EndpointWriterDeps, signal: AbortSignal): Promise<void> {
  const log = deps.logger.child({ component: 'sandbox-endpoints' });
  const core = deps.kubeConfig.makeApiClient(k8s.CoreV1Api);
  const discovery = deps.kubeConfig.makeApiClient(k8s.DiscoveryV1Api);
  const written = new Map<string, string>(); // namespace/name -> JSON of the slice last written

  async function write(svc: k8s.V1Service): Promise<void> {
    const slice = desiredEndpointSlice(toEndpointServiceView(svc), deps.backendLabels, deps.nodes);
    if (slice === undefined) return;
    const { name, namespace } = slice.metadata;
    const key = `${namespace}/${name}`;
    const json = JSON.stringify(slice);
    if (written.get(key) === json) return;
    try {
      const current = await discovery.readNamespacedEndpointSlice({ name, namespace });
      const body = toV1EndpointSlice(slice, current.metadata?.resourceVersion);
      await discovery.replaceNamespacedEndpointSlice({ name, namespace, body });
    } catch (e: unknown) {
      if (httpStatusOf(e) !== 404) throw e;
      await discovery.createNamespacedEndpointSlice({ namespace, body: toV1EndpointSlice(slice) });
    }
    written.set(key, json);
    log.info({ event: 'endpointSliceWritten', service: key, nodes: slice.endpoints.map((ep) => ep.nodeName) }, 'endpoint slice written');
  }

  async function remove(key: string): Promise<void> {
    const [namespace = '', name = ''] = key.split('/');
    await discovery.deleteNamespacedEndpointSlice({ name, namespace }).catch((e: unknown) => {
      if (httpStatusOf(e) !== 404) throw e;
    });
    written.delete(key);
  }

  const loop = createReconcileLoop(
    async () => {
      const present = new Set<string>();
      for (const svc of services.list()) {
        present.add(`${svc.metadata?.namespace ?? 'default'}/${svc.metadata?.name ?? ''}`);
        await write(svc);
      }
      for (const key of [...written.keys()].filter((k) => !present.has(k))) await remove(key);
    },
    (e) => { log.warn({ event: 'endpointSliceFailed', err: e }, 'cannot write endpoint slices; retrying on next change'); },
  );
  const services = createInformer<k8s.V1Service>({
    kubeConfig: deps.kubeConfig,
    path: '/api/v1/services',
    list: () => core.listServiceForAllNamespaces(),
    logger: log,
    clock: deps.clock,
    onChange: () => { loop.poke(); },
  });
  await services.run(signal);
  await loop.idle();
}
