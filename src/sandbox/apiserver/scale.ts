import { formatSelector } from './label-selector.js';
import { child, isObject, meta, str, type JsonObject } from './object.js';
import { ApiStatusError, invalid } from './status.js';

/**
 * The `scale` subresource of Deployments and ReplicaSets: an autoscaling/v1 Scale view of
 * spec.replicas, status.replicas and the selector (k8s.io/kubernetes pkg/registry/apps/deployment
 * ScaleREST). `kubectl scale` finds it through discovery and patches `spec.replicas`.
 */

/** The Scale of a stored object. */
export function toScale(obj: JsonObject): JsonObject {
  const m = meta(obj);
  const metadata: JsonObject = {};
  for (const key of ['name', 'namespace', 'uid', 'resourceVersion', 'creationTimestamp']) {
    if (m[key] !== undefined) metadata[key] = m[key];
  }
  const spec = child(obj, 'spec');
  const status = child(obj, 'status');
  return {
    kind: 'Scale',
    apiVersion: 'autoscaling/v1',
    metadata,
    spec: { replicas: typeof spec.replicas === 'number' ? spec.replicas : 0 },
    status: { replicas: typeof status.replicas === 'number' ? status.replicas : 0, selector: formatSelector(child(spec, 'selector')).replace('<none>', '') },
  };
}

/** The replicas a written Scale asks for, refused with kube-apiserver's message when invalid. */
export function replicasOf(scale: unknown, name: string): number {
  if (!isObject(scale)) throw new ApiStatusError('BadRequest', 'the request body must be a JSON object');
  const replicas = child(scale, 'spec').replicas ?? 0;
  if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0) {
    throw invalid('Scale', 'autoscaling', name, [{ reason: 'FieldValueInvalid', field: 'spec.replicas', message: `Invalid value: ${JSON.stringify(replicas)}: must be greater than or equal to 0` }]);
  }
  return replicas;
}

/** The resourceVersion a written Scale is conditional on, if any. */
export function scaleResourceVersion(scale: unknown): string | undefined {
  return isObject(scale) ? str(child(scale, 'metadata'), 'resourceVersion') : undefined;
}
