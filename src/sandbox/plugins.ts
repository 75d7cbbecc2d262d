import type { SandboxApiPlugins } from './supervisor.js';

/**
 * The API server plug-ins the sandbox runs with. Service defaulting, kubectl tables and RBAC from
 * manifests/ironlb.yaml are added here as they land.
 */
export async function sandboxApiPlugins(): Promise<SandboxApiPlugins> {
  return Promise.resolve({});
}
