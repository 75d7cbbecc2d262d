import { parseAllDocuments } from 'yaml';
import { AppError } from '../shared/errors.js';
import { child, isObject, str, type JsonObject } from './apiserver/object.js';
import { apiVersionOf, resourceDefs } from './apiserver/resources.js';
import { sendOk, type JsonClient } from './workloads/json-client.js';

/**
 * Installs ironlb into the sandbox the way users install it: every document of manifests/ (the
 * very file users `kubectl apply -f`) applied through the API (server-side apply, field manager
 * `ironlb-sandbox`), so RBAC, ServiceAccounts, the Deployment and the DaemonSet are what a cluster
 * admin gets. The image reference stays as written: the sandbox kubelet runs `ironlb/ironlb:*`
 * with ironlb's runtime (src/sandbox/kubelet/ironlb-runtime.ts).
 */

/** Which documents to apply: workloads (`Deployment`, `DaemonSet`) only when they will run. */
export interface InstallChoice {
  readonly controller: boolean;
  readonly speakers: boolean;
}

/** The documents of a manifest text, as objects; a YAML error names the file. */
export function manifestDocuments(text: string, file: string): JsonObject[] {
  return parseAllDocuments(text).flatMap((d) => {
    const firstError = d.errors[0];
    if (firstError !== undefined) throw new AppError('ERR_SANDBOX_INSTALL', `${file}: ${firstError.message}`);
    const doc: unknown = d.toJS();
    return isObject(doc) ? [doc] : [];
  });
}

/** Whether a document is applied for this choice. */
export function wanted(doc: JsonObject, choice: InstallChoice): boolean {
  if (doc.kind === 'Deployment') return choice.controller;
  if (doc.kind === 'DaemonSet') return choice.speakers;
  return true;
}

/** The object's URL on the API server, from the served resources (resources.ts). */
export function objectPath(doc: JsonObject): string {
  const def = resourceDefs.find((d) => apiVersionOf(d) === doc.apiVersion && d.kind === doc.kind);
  const m = child(doc, 'metadata');
  const name = str(m, 'name') ?? '';
  if (def === undefined) throw new AppError('ERR_SANDBOX_INSTALL', `${String(doc.kind)} ${name}: the sandbox does not serve ${String(doc.apiVersion)} ${String(doc.kind)}`);
  const base = def.group === '' ? `/api/${def.version}` : `/apis/${def.group}/${def.version}`;
  const ns = def.namespaced ? `/namespaces/${encodeURIComponent(str(m, 'namespace') ?? 'default')}` : '';
  return `${base}${ns}/${def.plural}/${encodeURIComponent(name)}`;
}

/** Applies the documents in order (the Namespace and ServiceAccounts before what uses them). */
export async function applyDocuments(client: JsonClient, docs: readonly JsonObject[]): Promise<void> {
  for (const doc of docs) {
    await sendOk(client, 'PATCH', `${objectPath(doc)}?fieldManager=ironlb-sandbox&force=true`, doc, 'application/apply-patch+yaml');
  }
}
