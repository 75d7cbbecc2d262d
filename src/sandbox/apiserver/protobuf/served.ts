import { coordinationV1 } from './coordination-v1.js';
import { coreV1 } from './core-v1.js';
import { createProtobufCodec, type ProtobufCodec } from './codec.js';
import { discoveryV1 } from './discovery-v1.js';
import { eventsV1 } from './events-v1.js';
import { metaKinds, metaV1 } from './meta-v1.js';

/** The protobuf codec of every kind the sandbox serves: add a group-version's schema file here. */
export function servedProtobufCodec(): ProtobufCodec {
  return createProtobufCodec([metaV1, coreV1, discoveryV1, coordinationV1, eventsV1], metaKinds);
}
