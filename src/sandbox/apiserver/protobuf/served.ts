import { appsV1 } from './apps-v1.js';
import { autoscalingV1 } from './autoscaling-v1.js';
import { coordinationV1 } from './coordination-v1.js';
import { coreV1 } from './core-v1.js';
import { coreV1Pod } from './core-v1-pod.js';
import { createProtobufCodec, type ProtobufCodec } from './codec.js';
import { discoveryV1 } from './discovery-v1.js';
import { eventsV1 } from './events-v1.js';
import { metaKinds, metaV1 } from './meta-v1.js';
import { authenticationV1, coreV1ServiceAccount, rbacV1 } from './service-accounts.js';

/** The protobuf codec of every kind the sandbox serves: add a group-version's schema file here. */
export function servedProtobufCodec(): ProtobufCodec {
  return createProtobufCodec([metaV1, coreV1, coreV1Pod, appsV1, autoscalingV1, discoveryV1, coordinationV1, eventsV1, coreV1ServiceAccount, authenticationV1, rbacV1], metaKinds);
}
