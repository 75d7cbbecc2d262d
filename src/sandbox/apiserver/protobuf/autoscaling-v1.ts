import { groupVersion, message, type GroupVersionSchema } from './schema.js';

/**
 * k8s.io/api autoscaling/v1 (autoscaling/v1/generated.proto): Scale, the body of the `scale`
 * subresource of Deployments and ReplicaSets (`kubectl scale`). It has no list kind.
 */
export const autoscalingV1: GroupVersionSchema = groupVersion(
  'autoscaling/v1',
  [
    message('autoscaling.v1.Scale', { metadata: [1, 'meta.v1.ObjectMeta'], spec: [2, 'autoscaling.v1.ScaleSpec'], status: [3, 'autoscaling.v1.ScaleStatus'] }),
    message('autoscaling.v1.ScaleSpec', { replicas: [1, 'int32'] }),
    message('autoscaling.v1.ScaleStatus', { replicas: [1, 'int32?'], selector: [2, 'string'] }),
  ],
  [],
  [['Scale', 'autoscaling.v1.Scale']],
);
