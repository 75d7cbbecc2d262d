import { chmod, mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AppError } from '../../shared/errors.js';
import { child, meta, str, type JsonObject } from '../apiserver/object.js';
import { sendOk, type JsonClient } from '../workloads/json-client.js';
import { rootCaConfigMap } from './controller.js';

/**
 * The service account volume a kubelet mounts into every container at
 * /var/run/secrets/kubernetes.io/serviceaccount (the `kube-api-access-*` projected volume that the
 * ServiceAccount admission plugin adds): `token` from a TokenRequest bound to the Pod, `ca.crt`
 * from the `kube-root-ca.crt` ConfigMap, `namespace` from the downward API. client-node,
 * client-go and the Python client read exactly these three files for their in-cluster config.
 */

/** Where containers find the volume (k8s.io/client-go/rest InClusterConfig). */
export const serviceAccountMountPath = '/var/run/secrets/kubernetes.io/serviceaccount';

/** What the kubelet asks for: 3607 s, bound to the Pod (pkg/kubelet/token; the API server extends it). */
const tokenExpirationSeconds = 3607;

/** The three files of the volume. */
export interface ServiceAccountVolume {
  readonly token: string;
  readonly caCert: string;
  readonly namespace: string;
  /** When the kubelet should ask again (80% of the reported lifetime, as pkg/kubelet/token does). */
  readonly refreshAt: Date;
}

/** Thrown when a Pod's service account volume cannot be made (the kubelet's `MountVolume.SetUp failed`). */
export class ServiceAccountVolumeError extends AppError {
  constructor(message: string, cause?: unknown) {
    super('ERR_SANDBOX_SA_VOLUME', message, { cause });
  }
}

/** Requests the token and reads the CA for `pod` through the API, as the kubelet does. */
export async function fetchServiceAccountVolume(client: JsonClient, pod: JsonObject, now: Date): Promise<ServiceAccountVolume> {
  const m = meta(pod);
  const namespace = str(m, 'namespace') ?? 'default';
  const podName = str(m, 'name') ?? '';
  const account = str(child(pod, 'spec'), 'serviceAccountName') ?? 'default';
  const what = `MountVolume.SetUp failed for volume "kube-api-access" of pod ${namespace}/${podName}`;
  try {
    const token = await requestToken(client, pod, account);
    const cm = await sendOk(client, 'GET', `/api/v1/namespaces/${encodeURIComponent(namespace)}/configmaps/${rootCaConfigMap}`);
    const caCert = child(cm, 'data')['ca.crt'];
    if (token.token === '' || typeof caCert !== 'string') throw new ServiceAccountVolumeError(`${what}: no token or no ca.crt in the API server's answers`);
    const lifetime = Number.isNaN(token.expires) ? tokenExpirationSeconds * 1000 : token.expires - now.getTime();
    return { token: token.token, caCert, namespace, refreshAt: new Date(now.getTime() + lifetime * 0.8) };
  } catch (e: unknown) {
    if (e instanceof ServiceAccountVolumeError) throw e;
    throw new ServiceAccountVolumeError(`${what}: ${e instanceof Error ? e.message : String(e)}`, e);
  }
}

/** POST serviceaccounts/<name>/token bound to the Pod; the token and its expiry (ms since the epoch, NaN if unknown). */
async function requestToken(client: JsonClient, pod: JsonObject, account: string): Promise<{ readonly token: string; readonly expires: number }> {
  const m = meta(pod);
  const ns = encodeURIComponent(str(m, 'namespace') ?? 'default');
  const request = { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { audiences: [], expirationSeconds: tokenExpirationSeconds, boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: str(m, 'name') ?? '', uid: str(m, 'uid') ?? '' } } };
  const reply = await sendOk(client, 'POST', `/api/v1/namespaces/${ns}/serviceaccounts/${encodeURIComponent(account)}/token`, request);
  const status = child(reply, 'status');
  return { token: str(status, 'token') ?? '', expires: Date.parse(str(status, 'expirationTimestamp') ?? '') };
}

/**
 * Writes the volume into `dir` (created if needed): each file written beside and renamed into
 * place, so a process re-reading its token never sees half a file. Mode 0644 like the projected
 * volume's default (420), so a container running as any user can read it.
 */
export async function writeServiceAccountVolume(dir: string, volume: ServiceAccountVolume): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  await chmod(dir, 0o755);
  for (const [name, content] of [['token', volume.token], ['ca.crt', volume.caCert], ['namespace', volume.namespace]] as const) {
    const temp = join(dir, `..${name}.tmp`);
    await writeFile(temp, content, { mode: 0o644 });
    await rename(temp, join(dir, name));
  }
}
