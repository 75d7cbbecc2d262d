import * as k8s from '@kubernetes/client-node';
import { AppError } from '../shared/errors.js';

/** Where to find the cluster: an explicit kubeconfig file, else the library's defaults (KUBECONFIG, ~/.kube/config, in-cluster). */
export interface KubeConfigSource {
  readonly kubeconfigPath?: string | undefined;
}

/** A failure to talk to the API server that is not an expected HTTP status. */
export class KubeApiError extends AppError {
  /** HTTP status, or 0 when the request never got an answer. */
  readonly status: number;
  constructor(message: string, status: number, cause?: unknown) {
    super('ERR_KUBE_API', message, { cause });
    this.status = status;
  }
}

/** Loads a KubeConfig; a bad or missing file is one clear error, not a stack trace. */
export function loadKubeConfig(source: KubeConfigSource): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  try {
    if (source.kubeconfigPath !== undefined) kc.loadFromFile(source.kubeconfigPath);
    else kc.loadFromDefault();
  } catch (e: unknown) {
    throw new AppError('ERR_KUBECONFIG', `cannot load kubeconfig ${source.kubeconfigPath ?? '(default)'}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  if (kc.getCurrentCluster() === null) {
    throw new AppError('ERR_KUBECONFIG', `kubeconfig ${source.kubeconfigPath ?? '(default)'} has no current cluster`);
  }
  return kc;
}

/** The HTTP status of a client-node error (ApiException or a watch error), or 0 if there is none. */
export function httpStatusOf(e: unknown): number {
  if (typeof e !== 'object' || e === null) return 0;
  const record = e as { code?: unknown; statusCode?: unknown };
  if (typeof record.code === 'number') return record.code;
  if (typeof record.statusCode === 'number') return record.statusCode;
  return 0;
}

/** Whether an error is the AbortError that client-node raises when we stop an informer ourselves. */
export function isAbortError(e: unknown): boolean {
  return e instanceof Error && (e.name === 'AbortError' || /aborted/i.test(e.message));
}
