import { groupVersion, message, type GroupVersionSchema } from './schema.js';

/** k8s.io/api coordination/v1 (coordination/v1/generated.proto). */
export const coordinationV1: GroupVersionSchema = groupVersion(
  'coordination.k8s.io/v1',
  [
    message('coordination.v1.Lease', { metadata: [1, 'meta.v1.ObjectMeta'], spec: [2, 'coordination.v1.LeaseSpec'] }),
    message('coordination.v1.LeaseSpec', {
      holderIdentity: [1, 'string?'],
      leaseDurationSeconds: [2, 'int32?'],
      acquireTime: [3, 'MicroTime?'],
      renewTime: [4, 'MicroTime?'],
      leaseTransitions: [5, 'int32?'],
      strategy: [6, 'string?'],
      preferredHolder: [7, 'string?'],
    }),
  ],
  [['Lease', 'coordination.v1.Lease']],
);
