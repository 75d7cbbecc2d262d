import * as k8s from '@kubernetes/client-node';
import type { StatusWriteOutcome } from '../controller/ports.js';
import type { ServiceVersion } from '../service/service.js';
import { httpStatusOf } from './client.js';

/**
 * Writes `status.loadBalancer.ingress` through the status subresource with a JSON merge patch:
 * it replaces only that list, so unrelated status (conditions) is kept. The patch carries the
 * resourceVersion the decision was made on; a 409 means "decide again on fresh state".
 */
export async function writeServiceIngress(core: k8s.CoreV1Api, svc: ServiceVersion, ips: readonly string[]): Promise<StatusWriteOutcome> {
  // In a merge patch `ingress: null` deletes the list; an empty object would keep the old one.
  const ingress = ips.length === 0 ? null : ips.map((ip) => ({ ip, ipMode: 'VIP' }));
  const body = { metadata: { resourceVersion: svc.resourceVersion }, status: { loadBalancer: { ingress } } };
  try {
    await core.patchNamespacedServiceStatus(
      { name: svc.name, namespace: svc.namespace, body },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    return 'written';
  } catch (e: unknown) {
    const status = httpStatusOf(e);
    if (status === 409) return 'conflict';
    if (status === 404) return 'notFound';
    throw e;
  }
}
