import type * as k8s from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { createInformer, type Informer } from '../../k8s/informer.js';
import { clientNodeListWatch } from '../../k8s/client.js';
import type { Clock } from '../../shared/clock.js';
import { child, isObject, list, meta, str, type JsonObject } from '../apiserver/object.js';
import { createReconcileLoop } from '../reconcile-loop.js';
import { createJsonClient, sendOk, type JsonClient } from '../workloads/json-client.js';

/**
 * Stand-ins for two kube-controller-manager controllers that every namespace relies on:
 * the ServiceAccount controller (a `default` ServiceAccount in each namespace, which Pods use when
 * they name none) and the root CA publisher (ConfigMap `kube-root-ca.crt`, key `ca.crt`, the CA
 * that signs the API server's certificate; the kubelet projects it into every Pod as
 * /var/run/secrets/kubernetes.io/serviceaccount/ca.crt). See
 * https://kubernetes.io/docs/reference/access-authn-authz/service-accounts-admin/.
 */
export interface NamespaceControllersDeps {
  readonly kubeConfig: k8s.KubeConfig;
  /** PEM of the API server's CA (the sandbox's self-signed serving certificate). */
  readonly caCert: string;
  readonly logger: Logger;
  readonly clock: Clock;
}

/** The ConfigMap the root CA publisher writes into every namespace. */
export const rootCaConfigMap = 'kube-root-ca.crt';

/** What one namespace is missing: the objects to create, as pure data. */
export function missingObjects(namespace: string, serviceAccounts: readonly string[], configMaps: ReadonlyMap<string, JsonObject>, caCert: string): readonly { readonly path: string; readonly body: JsonObject; readonly replace: boolean }[] {
  const out: { path: string; body: JsonObject; replace: boolean }[] = [];
  const ns = encodeURIComponent(namespace);
  if (!serviceAccounts.includes('default')) {
    out.push({ path: `/api/v1/namespaces/${ns}/serviceaccounts`, body: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default', namespace } }, replace: false });
  }
  const published = configMaps.get(rootCaConfigMap);
  const body = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: rootCaConfigMap, namespace, annotations: { 'kubernetes.io/description': 'Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.' } }, data: { 'ca.crt': caCert } };
  if (published === undefined) out.push({ path: `/api/v1/namespaces/${ns}/configmaps`, body, replace: false });
  else if (child(published, 'data')['ca.crt'] !== caCert) out.push({ path: `/api/v1/namespaces/${ns}/configmaps/${rootCaConfigMap}`, body: { ...body, metadata: { ...meta(published), ...body.metadata } }, replace: true });
  return out;
}

function listVia(client: JsonClient, path: string): () => Promise<k8s.KubernetesListObject<k8s.KubernetesObject>> {
  return async () => {
    const body = await sendOk(client, 'GET', path);
    return { apiVersion: 'v1', kind: 'List', metadata: { resourceVersion: str(child(body, 'metadata'), 'resourceVersion') ?? '' }, items: list(body, 'items').filter(isObject) };
  };
}

function namespaceOf(o: k8s.KubernetesObject): string {
  return o.metadata?.namespace ?? '';
}

/** Runs both controllers until `signal` aborts. */
export async function runNamespaceControllers(deps: NamespaceControllersDeps, signal: AbortSignal): Promise<void> {
  const log = deps.logger.child({ component: 'sandbox-serviceaccounts' });
  const client = createJsonClient(deps.kubeConfig);
  const paths = { namespaces: '/api/v1/namespaces', serviceaccounts: '/api/v1/serviceaccounts', configmaps: '/api/v1/configmaps' } as const;
  let poke = (): void => undefined;
  const informer = (path: string, fieldSelector?: string): Informer<k8s.KubernetesObject> =>
    createInformer<k8s.KubernetesObject>({
      path,
      source: clientNodeListWatch(deps.kubeConfig, path, listVia(client, fieldSelector === undefined ? path : `${path}?fieldSelector=${encodeURIComponent(fieldSelector)}`), fieldSelector === undefined ? {} : { fieldSelector }),
      logger: log,
      clock: deps.clock,
      onChange: () => { poke(); },
    });
  const namespaces = informer(paths.namespaces);
  const serviceAccounts = informer(paths.serviceaccounts);
  const configMaps = informer(paths.configmaps, `metadata.name=${rootCaConfigMap}`);
  const loop = createReconcileLoop(
    async () => {
      if (!namespaces.hasSynced() || !serviceAccounts.hasSynced() || !configMaps.hasSynced()) return;
      for (const ns of namespaces.list()) {
        const name = ns.metadata?.name ?? '';
        const sas = serviceAccounts.list().filter((o) => namespaceOf(o) === name).map((o) => o.metadata?.name ?? '');
        const cms = new Map(configMaps.list().filter((o) => namespaceOf(o) === name).map((o) => [o.metadata?.name ?? '', { ...o }]));
        for (const write of missingObjects(name, sas, cms, deps.caCert)) await sendOk(client, write.replace ? 'PUT' : 'POST', write.path, write.body, 'application/json', [409]);
      }
    },
    (e) => {
      log.warn({ event: 'serviceAccountSyncFailed', err: e }, 'ServiceAccount / root CA sync failed; retrying');
      setTimeout(() => { poke(); }, 1000).unref();
    },
  );
  poke = () => { loop.poke(); };
  // The first events arrive before every cache has synced, when the loop does nothing: run it once
  // more when all three have, or objects that existed at start would wait for an unrelated change.
  void Promise.all([namespaces.synced, serviceAccounts.synced, configMaps.synced]).then(poke);
  await Promise.all([namespaces.run(signal), serviceAccounts.run(signal), configMaps.run(signal)]);
  await loop.idle();
}
