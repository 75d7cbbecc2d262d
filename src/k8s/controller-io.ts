import * as k8s from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { StatusWriter } from '../controller/ports.js';
import type { Clock } from '../shared/clock.js';
import { clientNodeListWatch } from './client.js';
import { createInformer, type Informer } from './informer.js';
import { writeServiceIngress } from './service-status.js';

/*
 * The controller's ports (controller/ports.ts) over client-node; cli/controller.ts wires them.
 */

/** The informer of every Service in the cluster. */
export function serviceInformer(kc: k8s.KubeConfig, logger: Logger, clock: Clock, onChange: (svc: k8s.V1Service) => void): Informer<k8s.V1Service> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  return createInformer<k8s.V1Service>({
    source: clientNodeListWatch(kc, '/api/v1/services', () => core.listServiceForAllNamespaces()),
    path: '/api/v1/services',
    logger,
    clock,
    onChange: (_kind, obj) => {
      onChange(obj);
    },
  });
}

/** The informer of one ConfigMap (field selector on its name, so other ConfigMaps cost nothing). */
export function configMapInformer(kc: k8s.KubeConfig, namespace: string, name: string, logger: Logger, clock: Clock, onChange: () => void): Informer<k8s.V1ConfigMap> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const fieldSelector = `metadata.name=${name}`;
  return createInformer<k8s.V1ConfigMap>({
    source: clientNodeListWatch(kc, `/api/v1/namespaces/${namespace}/configmaps`, () => core.listNamespacedConfigMap({ namespace, fieldSelector }), { fieldSelector }),
    path: `/api/v1/namespaces/${namespace}/configmaps`,
    logger,
    clock,
    onChange: () => {
      onChange();
    },
  });
}

/** The informer of the Leases in the namespace (the speakers' conflict reports; controller/quarantine.ts reads only speaker Leases). */
export function leaseInformer(kc: k8s.KubeConfig, namespace: string, logger: Logger, clock: Clock, onChange: () => void): Informer<k8s.V1Lease> {
  const coordination = kc.makeApiClient(k8s.CoordinationV1Api);
  return createInformer<k8s.V1Lease>({
    source: clientNodeListWatch(kc, `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases`, () => coordination.listNamespacedLease({ namespace })),
    path: `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases`,
    logger,
    clock,
    onChange: () => {
      onChange();
    },
  });
}

/** Status writes through the status subresource (see service-status.ts). */
export function serviceStatusWriter(kc: k8s.KubeConfig): StatusWriter {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  return { writeIngress: (svc, ips) => writeServiceIngress(core, svc, ips) };
}
