import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as k8s from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { AppError } from '../shared/errors.js';
import type { Clock } from '../shared/clock.js';
import type { Admission, Authorizer } from './apiserver/admission.js';
import { writeKubeconfig } from './apiserver/kubeconfig.js';
import { child, str, type JsonObject } from './apiserver/object.js';
import { startApiServer, type ApiServerOptions, type RunningApiServer, type TableRenderer } from './apiserver/server.js';
import { createServiceAccountTokens } from './apiserver/service-account-tokens.js';
import { generateServingCert } from './apiserver/tls.js';
import { runNamespaceControllers } from './serviceaccounts/controller.js';
import { applyDocuments, unreadyPodLines, wanted, type InstallManifests } from './install.js';
import { containerLogPath } from './kubelet/log-files.js';
import { createJsonClient } from './workloads/json-client.js';
import { speakerNodeFlags } from '../speaker/runtime.js';
import { superviseChild, type ChildSpec } from './children.js';
import { runEndpointWriter } from './endpoint-writer.js';
import { runWorkloadControllers } from './workloads/controllers.js';
import { createLan, destroyLan, lanLayout, nodePodNets, type LanHost, type LanLayout, type LanPlan } from './lan.js';
import { configMapObject, ironlbNamespace, namespaceObject, nodeObject, sandboxConfigYaml } from './seed.js';
import { recordWriter, writeJsonFile, type ReadyRecord, type SandboxPaths, type SandboxRecord } from './state-dir.js';

/** The service accounts of manifests/ironlb.yaml, as the API server names their users. */
export const controllerUser = `system:serviceaccount:${ironlbNamespace}:controller`;
export const speakerUser = `system:serviceaccount:${ironlbNamespace}:speaker`;

/** API server plug-ins: Service defaulting, RBAC, kubectl tables. */
export interface SandboxApiPlugins {
  readonly admission?: ReadonlyMap<string, Admission>;
  readonly authorizer?: Authorizer;
  readonly storeAuthorizer?: NonNullable<ApiServerOptions['storeAuthorizer']>;
  readonly table?: TableRenderer;
}

export interface SandboxOptions {
  readonly paths: SandboxPaths;
  readonly plan: LanPlan;
  /** Make network namespaces (needs root); without them speakers run with --no-announce. */
  readonly lan: boolean;
  readonly controller: boolean;
  readonly speakers: boolean;
  /** `[node, bin/ironlb.js]`: how to start ironlb child processes. */
  readonly ironlb: readonly string[];
  /** API server port (0: any free port). */
  readonly port: number;
  readonly plugins: SandboxApiPlugins;
  readonly logger: Logger;
  readonly clock: Clock;
  /** manifests/ as `kubectl apply -k` reads it (install.ts), which `up` applies to install ironlb. */
  readonly manifests: InstallManifests;
  /** How long to wait for the controller and speakers to hold their Leases. */
  readonly readyTimeoutMs: number;
}

/**
 * `ironlb sandbox serve`: builds the LAN (when root), starts the API server, seeds it, runs node
 * agents, the EndpointSlice writer, the workload controller and scheduler stand-ins, the controller and one speaker per node, writes `ready.json`
 * once the controller and speakers hold their Leases, and tears everything down on abort.
 */
export async function runSandbox(opts: SandboxOptions, signal: AbortSignal): Promise<void> {
  const log = opts.logger.child({ component: 'sandbox' });
  const record: { -readonly [K in keyof SandboxRecord]: SandboxRecord[K] } = { pid: process.pid, plan: opts.plan, lan: opts.lan, startedAt: new Date().toISOString(), children: {} };
  const saveRecord = recordWriter(opts.paths.record);
  await saveRecord(record);
  const layout = lanLayout(opts.plan);
  let server: RunningApiServer | undefined;
  const running = new AbortController();
  const tasks: Promise<void>[] = [];
  try {
    if (opts.lan) await buildLan(opts.plan, log);
    const tokens = newTokens();
    const host = opts.lan ? layout.host.v4 : '127.0.0.1';
    const tls = await generateServingCert([host, '127.0.0.1', 'localhost'], new Date());
    server = await startApiServer({
      host,
      tls,
      port: opts.port,
      tokens: new Map([[tokens.admin, 'admin'], [tokens.controller, controllerUser], [tokens.speaker, speakerUser]]),
      adminUsers: ['admin'],
      serviceAccountTokens: await createServiceAccountTokens({ now: () => opts.clock.wallTime() }),
      statePath: opts.paths.apiState,
      ...(opts.lan ? { podLogRoot: podLogRoot(opts.paths) } : {}),
      ...opts.plugins,
      logger: log,
    });
    record.url = server.url;
    await saveRecord(record);
    await seed(server, opts.plan, layout.nodes, opts.clock);
    await writeKubeconfig(opts.paths.kubeconfig, server.url, tokens.admin, tls.cert);
    await writeKubeconfig(opts.paths.controllerKubeconfig, server.url, tokens.controller, tls.cert);
    await writeKubeconfig(opts.paths.speakerKubeconfig, server.url, tokens.speaker, tls.cert);
    // ironlb installed as users install it. Without network namespaces no kubelet runs Pods, so
    // only RBAC and ServiceAccounts are applied and the controller and speakers run as children.
    const install = opts.lan ? { controller: opts.controller, speakers: opts.speakers } : { controller: false, speakers: false };
    await applyDocuments(createJsonClient(adminKubeConfig(opts)), opts.manifests.documents.filter((d) => wanted(d, install)), opts.manifests.source);
    const onPid = (name: string, pid: number): void => {
      record.children = { ...record.children, [name]: pid };
      saveRecord(record).catch((e: unknown) => {
        log.warn({ event: 'recordWriteFailed', err: String(e) }, 'could not save the sandbox record');
      });
    };
    for (const spec of childSpecs(opts, layout)) tasks.push(superviseChild(spec, { logger: opts.logger, clock: opts.clock, onPid }, running.signal));
    if (layout.nodes.length > 0) tasks.push(runEndpointWriter({ kubeConfig: adminKubeConfig(opts), logger: opts.logger, clock: opts.clock }, running.signal));
    tasks.push(runWorkloadControllers({ kubeConfig: adminKubeConfig(opts), logger: opts.logger, clock: opts.clock }, running.signal));
    tasks.push(runNamespaceControllers({ kubeConfig: adminKubeConfig(opts), caCert: tls.cert, logger: opts.logger, clock: opts.clock }, running.signal));
    await waitReady(server, opts, layout.nodes, signal);
    const ready: ReadyRecord = { url: server.url, plan: opts.plan, kubeconfig: opts.paths.kubeconfig, nodes: layout.nodes.map((n) => n.name), lan: opts.lan, controller: opts.controller, speakers: opts.speakers };
    await writeJsonFile(opts.paths.ready, ready);
    log.info({ event: 'sandboxReady', url: server.url, nodes: ready.nodes }, 'sandbox ready');
    await untilAborted(signal);
  } finally {
    log.info({ event: 'sandboxStopping' }, 'stopping the sandbox');
    running.abort();
    await Promise.allSettled(tasks);
    await server?.close();
    if (opts.lan) await destroyLan(opts.plan);
  }
}

async function buildLan(plan: LanPlan, log: Logger): Promise<LanLayout> {
  // A crashed earlier run may have left namespaces with our names behind.
  await destroyLan(plan);
  const layout = await createLan(plan);
  log.info({ event: 'lanCreated', nodes: layout.nodes.map((n) => n.netns), client: layout.client.netns }, 'sandbox LAN created');
  return layout;
}

function newTokens(): { admin: string; controller: string; speaker: string } {
  const t = (): string => randomBytes(24).toString('base64url');
  return { admin: t(), controller: t(), speaker: t() };
}

/** Creates what a fresh cluster with ironlb applied has: the namespace, the pool ConfigMap, the Nodes. Keeps what a restart restored. */
async function seed(server: RunningApiServer, plan: LanPlan, nodes: readonly LanHost[], clock: Clock): Promise<void> {
  const { store } = server;
  const ensure = (storage: string, namespace: string, obj: JsonObject): void => {
    const name = str(child(obj, 'metadata'), 'name') ?? '';
    if (store.get(storage, namespace, name) === undefined) store.create(storage, obj);
  };
  ensure('/namespaces', '', namespaceObject(ironlbNamespace));
  ensure('/configmaps', ironlbNamespace, configMapObject(sandboxConfigYaml(plan.v4Net, plan.v6Net)));
  nodes.forEach((node, i) => {
    ensure('/nodes', '', nodeObject(node, clock.wallTime(), i));
  });
  await Promise.resolve();
}

function childSpecs(opts: SandboxOptions, layout: LanLayout): ChildSpec[] {
  const log = (name: string): string => `${opts.paths.logs}/${name}.log`;
  const specs: ChildSpec[] = [];
  for (const net of opts.lan ? nodePodNets(layout) : []) {
    const argv = [...opts.ironlb, 'sandbox', 'node-agent', '--node', net.node, '--node-ip', net.lanIp, '--netns', net.netns, '--pod-cidr', net.cidr, '--pod-log-dir', podLogRoot(opts.paths), '--kubeconfig', opts.paths.kubeconfig];
    specs.push({ name: `node-agent-${net.node}`, argv, netns: net.netns, netnsMode: 'enter', logPath: log(`node-agent-${net.node}`) });
  }
  if (opts.controller && !opts.lan) {
    specs.push({ name: 'controller', argv: [...opts.ironlb, 'controller', '--kubeconfig', opts.paths.controllerKubeconfig, '--metrics-port', '0'], logPath: log('controller') });
  }
  for (const node of opts.speakers && !opts.lan ? layout.nodes : []) {
    // --no-announce sends nothing, so no standby could probe an owner (split liveness would find
    // a crash by its 40 s heartbeat only): the lease mode judges it by its 3 s Lease.
    const mode = ['--no-announce', '--liveness', 'lease', '--metrics-port', '0'];
    const [node0 = process.execPath, ...script] = opts.ironlb;
    const argv = [node0, ...speakerNodeFlags, ...script, 'speaker', '--node-name', node.name, '--kubeconfig', opts.paths.speakerKubeconfig, ...mode];
    specs.push({ name: `speaker-${node.name}`, argv, logPath: log(`speaker-${node.name}`) });
  }
  return specs;
}

function adminKubeConfig(opts: SandboxOptions): k8s.KubeConfig {
  const kubeConfig = new k8s.KubeConfig();
  kubeConfig.loadFromFile(opts.paths.kubeconfig);
  return kubeConfig;
}

/** Where the kubelets write container logs and the API server reads them for pods/log. */
export function podLogRoot(paths: SandboxPaths): string {
  return `${paths.logs}/pods`;
}

/** The Leases that show the controller and each speaker are up. */
function expectedLeases(opts: SandboxOptions, nodes: readonly LanHost[]): string[] {
  return [...(opts.controller ? ['ironlb-controller'] : []), ...(opts.speakers ? nodes.map((n) => `ironlb-speaker-${n.name}`) : [])];
}

/** Installed workloads whose Pods are not all Ready yet (Deployment readyReplicas, DaemonSet numberReady). */
function unreadyWorkloads(server: RunningApiServer, opts: SandboxOptions): string[] {
  if (!opts.lan) return [];
  const get = (storage: string, name: string): JsonObject => server.store.get(storage, ironlbNamespace, name) ?? {};
  const out: string[] = [];
  if (opts.controller) {
    const d = get('apps/deployments', 'controller');
    const want = child(d, 'spec').replicas;
    if (typeof want !== 'number' || child(d, 'status').readyReplicas !== want) out.push('Deployment controller');
  }
  if (opts.speakers) {
    const st = child(get('apps/daemonsets', 'speaker'), 'status');
    if (typeof st.desiredNumberScheduled !== 'number' || st.desiredNumberScheduled === 0 || st.numberReady !== st.desiredNumberScheduled) out.push('DaemonSet speaker');
  }
  return out;
}

async function waitReady(server: RunningApiServer, opts: SandboxOptions, nodes: readonly LanHost[], signal: AbortSignal): Promise<void> {
  const wanted = expectedLeases(opts, nodes);
  const deadline = opts.clock.now() + opts.readyTimeoutMs;
  for (;;) {
    const missing = wanted.filter((name) => str(child(server.store.get('coordination.k8s.io/leases', ironlbNamespace, name) ?? {}, 'spec'), 'holderIdentity') === undefined);
    const unready = unreadyWorkloads(server, opts);
    if (missing.length === 0 && unready.length === 0) return;
    if (signal.aborted) throw new AppError('ERR_SANDBOX_STOPPED', 'stopped before the sandbox was ready');
    if (opts.clock.now() > deadline) {
      const what = [...(missing.length > 0 ? [`no holder yet on Lease(s) ${missing.join(', ')}`] : []), ...(unready.length > 0 ? [`not Ready: ${unready.join(', ')}`] : [])];
      const pods = unreadyPodLines(server.store.list('/pods', ironlbNamespace), (pod, container, restarts) => lastLogLine(opts.paths, pod, container, restarts));
      throw new AppError('ERR_SANDBOX_NOT_READY', [`not ready after ${String(opts.readyTimeoutMs / 1000)} s: ${what.join('; ')}`, ...pods.map((l) => `  ${l}`), `see kubectl get pods -n ${ironlbNamespace} and the logs in ${opts.paths.logs}`].join('\n'));
    }
    await opts.clock.sleep(100, signal).catch(() => undefined);
  }
}

/** The last non-empty line of a container's current log file, if any. */
function lastLogLine(paths: SandboxPaths, pod: JsonObject, container: string, restartCount: number): string | undefined {
  const m = child(pod, 'metadata');
  const id = { namespace: str(m, 'namespace') ?? '', name: str(m, 'name') ?? '', uid: str(m, 'uid') ?? '' };
  try {
    return readFileSync(containerLogPath(podLogRoot(paths), id, container, restartCount), 'utf8').trimEnd().split('\n').pop();
  } catch {
    return undefined;
  }
}

function untilAborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => {
      resolve();
    }, { once: true });
  });
}
