import { createServiceAdmission } from './apiserver/service.js';
import { renderTable } from './apiserver/tables.js';
import type { SandboxApiPlugins } from './supervisor.js';

/**
 * The API server plug-ins the sandbox runs with: Service defaulting (ClusterIP and NodePort
 * allocation) and kubectl tables. RBAC from manifests/ironlb.yaml is added here as it lands.
 */
export async function sandboxApiPlugins(): Promise<SandboxApiPlugins> {
  return Promise.resolve({ admission: new Map([['/services', createServiceAdmission()]]), table: renderTable });
}
