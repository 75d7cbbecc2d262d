import { groupVersion, message, type GroupVersionSchema } from './schema.js';

/** k8s.io/api discovery/v1 (discovery/v1/generated.proto). */
export const discoveryV1: GroupVersionSchema = groupVersion(
  'discovery.k8s.io/v1',
  [
    message('discovery.v1.EndpointSlice', { metadata: [1, 'meta.v1.ObjectMeta'], addressType: [4, 'string'], endpoints: [2, 'discovery.v1.Endpoint[]'], ports: [3, 'discovery.v1.EndpointPort[]'] }),
    message('discovery.v1.Endpoint', {
      addresses: [1, 'string[]'],
      conditions: [2, 'discovery.v1.EndpointConditions'],
      hostname: [3, 'string?'],
      targetRef: [4, 'core.v1.ObjectReference?'],
      deprecatedTopology: [5, 'string{}'],
      nodeName: [6, 'string?'],
      zone: [7, 'string?'],
      hints: [8, 'discovery.v1.EndpointHints?'],
    }),
    message('discovery.v1.EndpointConditions', { ready: [1, 'bool?'], serving: [2, 'bool?'], terminating: [3, 'bool?'] }),
    message('discovery.v1.EndpointHints', { forZones: [1, 'discovery.v1.ForZone[]'], forNodes: [2, 'discovery.v1.ForNode[]'] }),
    message('discovery.v1.ForZone', { name: [1, 'string'] }),
    message('discovery.v1.ForNode', { name: [1, 'string'] }),
    message('discovery.v1.EndpointPort', { name: [1, 'string?'], protocol: [2, 'string?'], port: [3, 'int32?'], appProtocol: [4, 'string?'] }),
  ],
  [['EndpointSlice', 'discovery.v1.EndpointSlice']],
);
