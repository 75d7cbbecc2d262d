import { join } from 'node:path';

/**
 * Where container logs live, as the kubelet lays out /var/log/pods
 * (`<namespace>_<name>_<uid>/<container>/<restartCount>.log`): the kubelet writes them, the API
 * server's pods/log reads them. Pure path arithmetic.
 */

/** The directory of one container's log files. */
export function containerLogDir(root: string, pod: { readonly namespace: string; readonly name: string; readonly uid: string }, container: string): string {
  return join(root, `${pod.namespace}_${pod.name}_${pod.uid}`, container);
}

/** The log file of one incarnation of a container (restartCount 0 is the first). */
export function containerLogPath(root: string, pod: { readonly namespace: string; readonly name: string; readonly uid: string }, container: string, restartCount: number): string {
  return join(containerLogDir(root, pod, container), `${String(restartCount)}.log`);
}
