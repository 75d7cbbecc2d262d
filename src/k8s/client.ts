import { createHash } from 'node:crypto';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent, type AgentOptions } from 'node:https';
import * as k8s from '@kubernetes/client-node';
import { AppError } from '../shared/errors.js';
import type { ChangeKind, ListWatchSource } from './informer.js';

export { httpStatusOf, isAbortError, KubeApiError } from './kube-rest.js';

/** Where to find the cluster: an explicit kubeconfig file, else the library's defaults (KUBECONFIG, ~/.kube/config, in-cluster). */
export interface KubeConfigSource {
  readonly kubeconfigPath?: string | undefined;
}

/** The TLS settings that decide whether two requests may share a connection. */
function agentKey(options: AgentOptions): string {
  const { ca, cert, key, rejectUnauthorized, servername } = options;
  return createHash('sha256').update(JSON.stringify({ ca, cert, key, rejectUnauthorized, servername })).digest('hex');
}

/**
 * A KubeConfig whose API clients keep their connections alive. client-node 1.x builds a new
 * http(s).Agent for every request, so every call pays a TCP and TLS handshake (measured: 2.7x
 * slower Service status writes against the sandbox, see docs/controller.md); kube-apiserver
 * clients in Go reuse connections. This keeps one keep-alive agent per set of TLS settings.
 */
export class ConnectionReusingKubeConfig extends k8s.KubeConfig {
  private readonly agents = new Map<string, HttpAgent | HttpsAgent>();

  override async applySecurityAuthentication(context: k8s.RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    const fresh = context.getAgent();
    if (fresh === undefined || fresh.constructor !== HttpsAgent && fresh.constructor !== HttpAgent) return; // proxies: leave as is
    const options = (fresh as HttpsAgent).options;
    const id = `${fresh.constructor === HttpsAgent ? 'https' : 'http'}:${agentKey(options)}`;
    let shared = this.agents.get(id);
    if (shared === undefined) {
      shared = fresh.constructor === HttpsAgent ? new HttpsAgent({ ...options, keepAlive: true }) : new HttpAgent({ keepAlive: true });
      this.agents.set(id, shared);
    }
    context.setAgent(shared);
  }
}

/**
 * Whether `loadFromDefault` found nothing and fell back to guessing: client-node then points at
 * `http://localhost:8080` (context `loaded-context`, cluster `cluster`), and with a service account
 * token but no KUBERNETES_SERVICE_HOST at `https://undefined:undefined`. Either would retry forever
 * against a server that is not there.
 */
function isLastResort(kc: k8s.KubeConfig): boolean {
  const cluster = kc.getCurrentCluster();
  if (cluster === null) return false;
  const guessed = kc.getCurrentContext() === 'loaded-context' && cluster.name === 'cluster' && cluster.server === 'http://localhost:8080';
  return guessed || cluster.server.includes('undefined');
}

/** The loaded cluster configuration, as `cli/` passes it around (cli/ imports no client-node). */
export type KubeConfig = k8s.KubeConfig;

/** The core/v1 API client (Services, ConfigMaps, Events, Nodes). */
export function coreApi(kc: KubeConfig): k8s.CoreV1Api {
  return kc.makeApiClient(k8s.CoreV1Api);
}

/** The coordination.k8s.io/v1 API client (Leases). */
export function coordinationApi(kc: KubeConfig): k8s.CoordinationV1Api {
  return kc.makeApiClient(k8s.CoordinationV1Api);
}

/** Loads a KubeConfig; a bad or missing file is one clear error, not a stack trace. */
export function loadKubeConfig(source: KubeConfigSource): k8s.KubeConfig {
  const kc = new ConnectionReusingKubeConfig();
  try {
    if (source.kubeconfigPath !== undefined) kc.loadFromFile(source.kubeconfigPath);
    else kc.loadFromDefault();
  } catch (e: unknown) {
    throw new AppError('ERR_KUBECONFIG', `cannot load kubeconfig ${source.kubeconfigPath ?? '(default)'}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  if (source.kubeconfigPath === undefined && isLastResort(kc)) {
    throw new AppError(
      'ERR_NO_CLUSTER_CONFIG',
      'no cluster configuration: no --kubeconfig, KUBECONFIG or ~/.kube/config, and not in a pod (KUBERNETES_SERVICE_HOST and a service account token)',
    );
  }
  if (kc.getCurrentCluster() === null) {
    throw new AppError('ERR_KUBECONFIG', `kubeconfig ${source.kubeconfigPath ?? '(default)'} has no current cluster`);
  }
  return kc;
}

/**
 * client-node's ListWatch (list through `list`, watch `path`) as an informer source: for the
 * controller and the sandbox, which use client-node anyway. It relists after a 410 and stops
 * on any other error, which it reports on `onError`.
 */
export function clientNodeListWatch<T extends k8s.KubernetesObject>(
  kc: k8s.KubeConfig,
  path: string,
  list: () => Promise<k8s.KubernetesListObject<T>>,
  selectors: { readonly labelSelector?: string; readonly fieldSelector?: string } = {},
): ListWatchSource<T> {
  const lw = new k8s.ListWatch<T>(path, new k8s.Watch(kc), list, false, selectors.labelSelector, selectors.fieldSelector);
  return {
    on: (verb: ChangeKind, cb: (obj: T) => void) => {
      lw.on(verb, cb);
    },
    onError: (cb) => {
      lw.on('error', (e?: unknown) => {
        cb(e);
      });
    },
    start: () => lw.start(),
    stop: () => lw.stop(),
    list: () => lw.list(),
    get: (name, namespace) => lw.get(name, namespace),
  };
}
