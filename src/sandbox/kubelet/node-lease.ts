import type { Logger } from 'pino';
import type { Clock } from '../../shared/clock.js';
import { child, str, type JsonObject } from '../apiserver/object.js';
import { nodeLeaseNamespace } from '../apiserver/graceful-delete.js';
import type { JsonClient } from '../workloads/json-client.js';

/**
 * The kubelet's node heartbeat: a Lease named after the node in kube-node-lease, renewed every
 * 10 s with a 40 s duration (https://kubernetes.io/docs/concepts/architecture/leases/#node-heart-beats;
 * the kubelet's nodeLeaseDurationSeconds default). The sandbox API server reads it to know that a
 * kubelet will finish a graceful Pod deletion on that node (graceful-delete.ts).
 */

/** kubelet defaults: renew every 10 s (a quarter of the duration), duration 40 s. */
export const nodeLeaseDurationSeconds = 40;
export const nodeLeaseRenewMs = 10_000;

function microTime(d: Date): string {
  return d.toISOString().replace(/Z$/, '000Z');
}

/** The Lease to write: `existing` renewed, or a new one. Pure. */
export function renewedNodeLease(node: string, existing: JsonObject | undefined, now: Date): JsonObject {
  const spec = { ...child(existing ?? {}, 'spec'), holderIdentity: node, leaseDurationSeconds: nodeLeaseDurationSeconds, renewTime: microTime(now) };
  const metadata = existing === undefined ? { name: node, namespace: nodeLeaseNamespace } : child(existing, 'metadata');
  return { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata, spec };
}

/** Renews the node Lease until `signal` aborts; a failed renewal is logged and retried next period. */
export async function runNodeLease(deps: { readonly client: JsonClient; readonly node: string; readonly clock: Clock; readonly logger: Logger }, signal: AbortSignal): Promise<void> {
  const path = `/apis/coordination.k8s.io/v1/namespaces/${nodeLeaseNamespace}/leases`;
  const item = `${path}/${encodeURIComponent(deps.node)}`;
  while (!signal.aborted) {
    try {
      const got = await deps.client.send('GET', item);
      const existing = got.code === 200 ? got.body : undefined;
      const body = renewedNodeLease(deps.node, existing, deps.clock.wallTime());
      const reply = existing === undefined ? await deps.client.send('POST', path, body) : await deps.client.send('PUT', item, body);
      if (reply.code >= 300) deps.logger.warn({ event: 'nodeLeaseFailed', code: reply.code, message: str(reply.body, 'message') }, 'cannot renew the node lease; retrying');
    } catch (e: unknown) {
      deps.logger.warn({ event: 'nodeLeaseFailed', err: e }, 'cannot renew the node lease; retrying');
    }
    await deps.clock.sleep(nodeLeaseRenewMs, signal).catch(() => undefined);
  }
}
