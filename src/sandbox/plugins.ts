import { fileURLToPath } from 'node:url';
import { authorizerFromStore } from './apiserver/rbac.js';
import { createServiceAdmission } from './apiserver/service.js';
import { tableRenderer } from './apiserver/tables.js';
import { createWorkloadAdmission } from './workloads/admission.js';
import { workloadColumns } from './workloads/tables.js';
import type { SandboxApiPlugins } from './supervisor.js';

/** manifests/: what a real cluster applies (`kubectl apply -k`); `up` applies it too (install.ts). */
export const manifestsDir = fileURLToPath(new URL('../../manifests', import.meta.url));

/** The checkout's package.json: its version tags the local image build (scripts/build-image.sh). */
export const packageJsonPath = fileURLToPath(new URL('../../package.json', import.meta.url));

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
