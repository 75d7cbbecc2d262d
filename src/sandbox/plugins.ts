import { fileURLToPath } from 'node:url';
import { authorizerFromStore } from './apiserver/rbac.js';
import { createServiceAdmission } from './apiserver/service.js';
import { tableRenderer } from './apiserver/tables.js';
import { createWorkloadAdmission } from './workloads/admission.js';
import { workloadColumns } from './workloads/tables.js';
import type { SandboxApiPlugins } from './supervisor.js';

/** The manifests a real cluster applies; the sandbox enforces their RBAC on the controller and speakers. */
export const manifestPath = fileURLToPath(new URL('../../manifests/ironlb.yaml', import.meta.url));

/**
 * The API server plug-ins the sandbox runs with: Service defaulting (cluster IPs, node ports),
 * workload (Pod, Deployment, ReplicaSet, DaemonSet) defaulting and validation, kubectl's
 * server-side tables, and RBAC over the Roles and bindings applied to it (manifests/ironlb.yaml,
 * which `up` applies), so any API call the controller or a speaker makes without a grant fails
 * here as it would on a cluster.
 */
export function sandboxApiPlugins(): SandboxApiPlugins {
  return {
    admission: new Map([['/services', createServiceAdmission()], ...createWorkloadAdmission()]),
    table: tableRenderer(workloadColumns),
    storeAuthorizer: authorizerFromStore,
  };
}
