import { readFileSync } from 'node:fs';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { repoRoot } from '../helpers/cli.js';
import { sh } from '../helpers/netns.js';

// manifests/ironlb.yaml read as podman flags: the user, capabilities, filesystem, command and env
// that Kubernetes would give each container, so the image tests run the containers the way
// users' clusters do without repeating the manifest.

interface Capabilities { readonly add?: readonly string[]; readonly drop?: readonly string[] }
/** The securityContext fields podman can express. */
export interface SecurityContext { readonly seccompProfile?: { readonly type: string }; readonly runAsUser?: number; readonly runAsGroup?: number; readonly readOnlyRootFilesystem?: boolean; readonly allowPrivilegeEscalation?: boolean; readonly capabilities?: Capabilities }
interface EnvVar { readonly name: string; readonly value?: string; readonly valueFrom?: { readonly fieldRef?: { readonly fieldPath: string } } }
interface HttpProbe { readonly httpGet?: { readonly path: string; readonly port: string | number } }
interface Port { readonly name?: string; readonly containerPort: number }
/** A container of a Pod template, as far as the tests read it. */
export interface Container { readonly name: string; readonly image: string; readonly command?: readonly string[]; readonly args?: readonly string[]; readonly env?: readonly EnvVar[]; readonly ports?: readonly Port[]; readonly readinessProbe?: HttpProbe; readonly securityContext?: SecurityContext }
/** A Deployment or DaemonSet, as far as the tests read it. */
export interface Workload { readonly kind: string; readonly metadata: { readonly name: string }; readonly spec: { readonly template: { readonly spec: { readonly securityContext?: SecurityContext; readonly containers: readonly Container[] } } } }

const version = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;
/** The tag scripts/build-image.sh gives the image (podman prefixes `localhost/`). */
export const image = `localhost/ironlb:${version}`;

/** The pod-level securityContext and the first container of a workload in manifests/ironlb.yaml. */
export function workload(kind: string, name: string): { pod: SecurityContext; container: Container } {
  const docs = parseAllDocuments(readFileSync(join(repoRoot, 'manifests', 'ironlb.yaml'), 'utf8')).map((d) => d.toJS() as Workload);
  const w = docs.find((d) => d.kind === kind && d.metadata.name === name);
  const container = w?.spec.template.spec.containers[0];
  if (w === undefined || container === undefined) throw new Error(`${kind} ${name} missing from manifests/ironlb.yaml`);
  return { pod: w.spec.template.spec.securityContext ?? {}, container };
}

/**
 * The container's `env` as podman flags: plain values as written, downward-API `fieldRef`s from
 * `fields` (fieldPath -> value, what the kubelet would fill in). An unknown fieldPath throws, so
 * a new one in the manifest cannot be silently left out.
 */
export function envFlags(container: Container, fields: Readonly<Record<string, string>>): string[] {
  return (container.env ?? []).flatMap((e) => {
    const path = e.valueFrom?.fieldRef?.fieldPath;
    if (path === undefined) return ['--env', `${e.name}=${e.value ?? ''}`];
    const value = fields[path];
    if (value === undefined) throw new Error(`${container.name}: env ${e.name} needs fieldRef ${path}, which the test does not provide`);
    return ['--env', `${e.name}=${value}`];
  });
}

/** The port a container's readinessProbe asks for, by name or number (Kubernetes' rule). */
export function readinessProbe(container: Container): { path: string; port: number } {
  const get = container.readinessProbe?.httpGet;
  if (get === undefined) throw new Error(`${container.name}: no httpGet readinessProbe in manifests/ironlb.yaml`);
  const port = typeof get.port === 'number' ? get.port : container.ports?.find((p) => p.name === get.port)?.containerPort;
  if (port === undefined) throw new Error(`${container.name}: readinessProbe port ${String(get.port)} is not a named container port`);
  return { path: get.path, port };
}

/** How a test departs from the manifest: extra podman flags, other args, another entrypoint. */
export interface RunOptions {
  readonly podman?: readonly string[];
  /** Replaces the manifest's `args` (the subcommand). */
  readonly args?: readonly string[];
  /** Replaces the manifest's `command` (or the image's entrypoint). */
  readonly entrypoint?: readonly string[];
  /** Capabilities the manifest adds that this run leaves out (a broken cluster policy, say). */
  readonly withoutCaps?: readonly string[];
}

/**
 * `podman run` flags for a container as Kubernetes would run it: user and group (container over
 * pod), read-only root, capabilities, no privilege escalation; the manifest's `command` replaces
 * the image's entrypoint and its `args` follow (Kubernetes' rule).
 */
export function runArgs(kind: string, name: string, options: RunOptions = {}): string[] {
  const { pod, container } = workload(kind, name);
  const sc = { ...pod, ...container.securityContext };
  const out = ['run', '--rm', '--pull=never'];
  if (sc.runAsUser !== undefined) out.push('--user', `${String(sc.runAsUser)}${sc.runAsGroup === undefined ? '' : `:${String(sc.runAsGroup)}`}`);
  if (sc.readOnlyRootFilesystem === true) out.push('--read-only');
  if (sc.allowPrivilegeEscalation === false) out.push('--security-opt', 'no-new-privileges');
  for (const c of sc.capabilities?.drop ?? []) out.push('--cap-drop', c);
  for (const c of sc.capabilities?.add ?? []) if (!(options.withoutCaps ?? []).includes(c)) out.push('--cap-add', c);
  out.push(...(options.podman ?? []));
  const entrypoint = options.entrypoint ?? container.command;
  if (entrypoint !== undefined) out.push('--entrypoint', JSON.stringify(entrypoint));
  out.push(image, ...(options.args ?? container.args ?? []));
  return out;
}

export async function podman(args: readonly string[], timeoutMs = 60_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return sh('podman', args, timeoutMs);
}

/** Where the kubelet mounts a Pod's service account, and the env that points client libraries at the API. */
export interface InCluster {
  /** podman flags: the service account mount, KUBERNETES_SERVICE_HOST and _PORT. */
  readonly flags: readonly string[];
}

/**
 * Writes what the kubelet mounts for a service account (token, ca.crt, namespace), taken from a
 * kubeconfig that holds that account's token, into `dir`, readable by any container user; returns
 * the podman flags that give a container in-cluster configuration for it.
 */
export async function inClusterFrom(kubeconfigPath: string, dir: string, namespace: string): Promise<InCluster> {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  const cluster = kc.getCurrentCluster();
  const token = kc.getCurrentUser()?.token;
  if (cluster === null || token === undefined || cluster.caData === undefined) throw new Error(`${kubeconfigPath}: no server, token or certificate-authority-data`);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'token'), token);
  await writeFile(join(dir, 'ca.crt'), Buffer.from(cluster.caData, 'base64'));
  await writeFile(join(dir, 'namespace'), namespace);
  await chmod(dir, 0o755);
  const url = new URL(cluster.server);
  return {
    flags: [
      '-v', `${dir}:/var/run/secrets/kubernetes.io/serviceaccount:ro`,
      '-e', `KUBERNETES_SERVICE_HOST=${url.hostname}`, '-e', `KUBERNETES_SERVICE_PORT=${url.port}`,
    ],
  };
}
