import { join } from 'node:path';
import type { JsonObject } from '../apiserver/object.js';
import type { JsonClient } from '../workloads/json-client.js';
import { fetchServiceAccountVolume, writeServiceAccountVolume } from './volume.js';

/** The Pod a kubelet makes a service account volume for. */
export interface VolumePod {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly serviceAccountName: string;
}

/**
 * The kubelet's service account volumes on disk: `<root>/<pod uid>/serviceaccount`, made (or
 * refreshed) when a container starts, as the kubelet sets up the projected volume before it.
 */
export function serviceAccountVolumes(deps: { readonly client: JsonClient; readonly root: string; readonly now: () => Date }): (pod: VolumePod) => Promise<string> {
  return async (pod) => {
    const obj: JsonObject = { metadata: { namespace: pod.namespace, name: pod.name, uid: pod.uid }, spec: { serviceAccountName: pod.serviceAccountName } };
    const dir = join(deps.root, pod.uid, 'serviceaccount');
    await writeServiceAccountVolume(dir, await fetchServiceAccountVolume(deps.client, obj, deps.now()));
    return dir;
  };
}
