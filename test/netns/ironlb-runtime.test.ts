import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { child, isObject, list, meta, str, type JsonObject } from '../../src/sandbox/apiserver/object.js';
import { authorizerFromStore } from '../../src/sandbox/apiserver/rbac.js';
import { createServiceAccountTokens } from '../../src/sandbox/apiserver/service-account-tokens.js';
import { imageConfigOf } from '../../src/sandbox/kubelet/image-config.js';
import { ironlbCheckoutRuntime, removeServiceAccountMountPoint } from '../../src/sandbox/kubelet/ironlb-runtime.js';
import type { ContainerLaunch, ContainerRuntime, ContainerSecurity, RunningContainer } from '../../src/sandbox/kubelet/runtime.js';
import { runNamespaceControllers } from '../../src/sandbox/serviceaccounts/controller.js';
import { fetchServiceAccountVolume, serviceAccountMountPath, writeServiceAccountVolume } from '../../src/sandbox/serviceaccounts/volume.js';
import { createJsonClient, type JsonClient } from '../../src/sandbox/workloads/json-client.js';
import { createWorkloadAdmission } from '../../src/sandbox/workloads/admission.js';
import { speakerNodeFlags } from '../../src/speaker/runtime.js';
import { systemClock } from '../../src/sys/clock.js';
import { startTestApiServer, type TestApiServer } from '../helpers/apiserver.js';
import { repoRoot } from '../helpers/cli.js';
import { runKubectl } from '../helpers/kubectl.js';
import { sh } from '../helpers/netns.js';
import { canRunRootTests } from '../helpers/root.js';
import { waitFor } from '../helpers/wait.js';

const manifests = parseAllDocuments(await readFile(join(repoRoot, 'manifests', 'ironlb.yaml'), 'utf8')).map((d) => d.toJS() as JsonObject);
const workload = (kind: string): JsonObject => manifests.find((d) => d.kind === kind) ?? {};

/** The Pod spec's securityContext with the container's over it, as the kubelet merges them. */
function securityOf(podSpec: JsonObject, container: JsonObject): ContainerSecurity {
  const merged = { ...child(podSpec, 'securityContext'), ...child(container, 'securityContext') };
  const caps = child(merged, 'capabilities');
  const strings = (key: string): string[] => list(caps, key).filter((c): c is string => typeof c === 'string');
  return {
    ...(typeof merged.runAsUser === 'number' ? { runAsUser: merged.runAsUser } : {}),
    ...(typeof merged.runAsGroup === 'number' ? { runAsGroup: merged.runAsGroup } : {}),
    ...(typeof merged.runAsNonRoot === 'boolean' ? { runAsNonRoot: merged.runAsNonRoot } : {}),
    ...(typeof merged.allowPrivilegeEscalation === 'boolean' ? { allowPrivilegeEscalation: merged.allowPrivilegeEscalation } : {}),
    ...(typeof merged.readOnlyRootFilesystem === 'boolean' ? { readOnlyRootFilesystem: merged.readOnlyRootFilesystem } : {}),
    capabilities: { add: strings('add'), drop: strings('drop') },
  };
}

/** /proc/PID/status fields. */
async function procStatus(pid: number): Promise<Record<string, string>> {
  const text = await readFile(`/proc/${String(pid)}/status`, 'utf8');
  return Object.fromEntries(text.split('\n').map((l) => l.split(':\t')).filter((p) => p.length === 2).map(([k = '', v = '']) => [k, v.trim()]));
}

/**
 * ironlb's image run by the sandbox kubelet's runtime from this checkout, as the manifests ask:
 * the controller as UID 65534 with no capabilities and no_new_privs, the speaker as root with
 * CAP_NET_RAW alone, each with its service account volume mounted in a mount namespace of its
 * own and no --kubeconfig, so both load their in-cluster config and talk to the API server as
 * their service accounts, under the RBAC applied with kubectl.
 */
describe.skipIf(!canRunRootTests('ironlb runtime (netns)'))('ironlb runtime: the image\'s processes from this checkout', () => {
  const id = (process.pid % 1000).toString(36);
  const netns = `ironlb-rt-${id}`;
  const hostIf = `rth${id}`;
  const nsIf = `rtn${id}`;
  const net = `10.215.${String(process.pid % 250)}`;
  let api: TestApiServer;
  let client: JsonClient;
  let dir: string;
  let runtime: ContainerRuntime;
  const stop = new AbortController();
  const running: RunningContainer[] = [];
  let controllers: Promise<void> = Promise.resolve();

  async function podFrom(kind: string, name: string, node: string): Promise<JsonObject> {
    const template = child(child(workload(kind), 'spec'), 'template');
    const body = { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'ironlb-system', labels: child(child(template, 'metadata'), 'labels') }, spec: { ...child(template, 'spec'), nodeName: node } };
    const reply = await client.send('POST', '/api/v1/namespaces/ironlb-system/pods', body);
    expect(reply.code, JSON.stringify(reply.body)).toBe(201);
    return reply.body;
  }

  /** What the kubelet hands the runtime for the Pod's only container. */
  async function launchOf(pod: JsonObject, env: Record<string, string>): Promise<ContainerLaunch> {
    const spec = child(pod, 'spec');
    const container = list(spec, 'containers').filter(isObject)[0] ?? {};
    const saDir = join(dir, str(meta(pod), 'name') ?? '', 'serviceaccount');
    await writeServiceAccountVolume(saDir, await fetchServiceAccountVolume(client, pod, new Date()));
    const url = new URL(api.url);
    const strings = (key: string): string[] => list(container, key).filter((c): c is string => typeof c === 'string');
    return {
      pod: { namespace: 'ironlb-system', name: str(meta(pod), 'name') ?? '', uid: str(meta(pod), 'uid') ?? '' },
      nodeName: str(spec, 'nodeName') ?? '',
      container: { name: str(container, 'name') ?? '', image: str(container, 'image') ?? '', command: strings('command'), args: strings('args'), ports: [], security: securityOf(spec, container) },
      env: [...Object.entries(env).map(([name, value]) => ({ name, value })), { name: 'KUBERNETES_SERVICE_HOST', value: url.hostname }, { name: 'KUBERNETES_SERVICE_PORT', value: url.port }],
      netns,
      hostNetwork: spec.hostNetwork === true,
      podIp: `${net}.2`,
      hostIp: `${net}.2`,
      logPath: join(dir, `${str(meta(pod), 'name') ?? ''}.log`),
      serviceAccountDir: saDir,
    };
  }

  beforeAll(async () => {
    await sh('ip', ['netns', 'add', netns]);
    await sh('ip', ['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf, 'netns', netns]);
    await sh('ip', ['addr', 'add', `${net}.1/24`, 'dev', hostIf]);
    await sh('ip', ['link', 'set', hostIf, 'up']);
    await sh('ip', ['netns', 'exec', netns, 'ip', 'addr', 'add', `${net}.2/24`, 'dev', nsIf]);
    await sh('ip', ['netns', 'exec', netns, 'ip', 'link', 'set', nsIf, 'up']);
    await sh('ip', ['netns', 'exec', netns, 'ip', 'link', 'set', 'lo', 'up']);
    dir = await mkdtemp(join(tmpdir(), 'ironlb-rt-'));
    api = await startTestApiServer({ host: `${net}.1`, admission: new Map(createWorkloadAdmission()), storeAuthorizer: authorizerFromStore, serviceAccountTokens: await createServiceAccountTokens({ now: () => new Date() }) });
    client = createJsonClient(api.kubeConfig());
    controllers = runNamespaceControllers({ kubeConfig: api.kubeConfig(), caCert: api.cert?.cert ?? '', logger: pino({ level: 'silent' }), clock: systemClock }, stop.signal);
    const applied = await runKubectl(api.kubeconfigPath, ['apply', '-f', join(repoRoot, 'manifests', 'ironlb.yaml')]);
    expect(applied.stderr).toBe('');
    await waitFor('kube-root-ca.crt', () => client.send('GET', '/api/v1/namespaces/ironlb-system/configmaps/kube-root-ca.crt'), (r) => r.code === 200);
    runtime = ironlbCheckoutRuntime({ checkout: repoRoot, nodePath: process.execPath, image: imageConfigOf(await readFile(join(repoRoot, 'Dockerfile'), 'utf8')), path: process.env.PATH ?? '/usr/bin:/bin' });
  }, 60_000);

  afterAll(async () => {
    await Promise.all(running.map((c) => c.stop(3000)));
    stop.abort();
    await controllers;
    await api.close();
    await sh('ip', ['link', 'del', hostIf]);
    await sh('ip', ['netns', 'del', netns]);
    await rm(dir, { recursive: true, force: true });
    await removeServiceAccountMountPoint();
  }, 30_000);

  it('runs the controller as UID 65534, without capabilities, with its in-cluster config and no --kubeconfig', async () => {
    const pod = await podFrom('Deployment', 'controller-rt', 'node-rt');
    const c = runtime.start(await launchOf(pod, { IRONLB_POD_NAME: 'controller-rt', IRONLB_NAMESPACE: 'ironlb-system' }), stop.signal);
    running.push(c);
    expect(c.pid).toBeDefined();
    const pid = c.pid ?? 0;
    const lease = await waitFor('the leader Lease', () => client.send('GET', '/apis/coordination.k8s.io/v1/namespaces/ironlb-system/leases/ironlb-controller'), (r) => str(child(r.body, 'spec'), 'holderIdentity') === 'controller-rt', { timeoutMs: 30_000 });
    expect(lease.code).toBe(200);
    const status = await procStatus(pid);
    expect(status.Uid?.split(/\s+/)).toEqual(['65534', '65534', '65534', '65534']);
    expect(status.Gid?.split(/\s+/)[0]).toBe('65534');
    expect(status.CapEff).toBe('0000000000000000');
    expect(status.CapBnd).toBe('0000000000000000');
    expect(status.NoNewPrivs).toBe('1');
    const cmdline = (await readFile(`/proc/${String(pid)}/cmdline`, 'utf8')).split('\0');
    expect(cmdline).toContain(join(repoRoot, 'bin', 'ironlb.js'));
    expect(cmdline).toContain('controller');
    expect(cmdline.join(' ')).not.toContain('kubeconfig');
    expect(await readFile(`/proc/${String(pid)}/environ`, 'utf8')).not.toContain('KUBECONFIG');
    // The volume is mounted in the container's mount namespace only.
    expect(await readFile(`/proc/${String(pid)}/mountinfo`, 'utf8')).toContain(' /run/secrets/kubernetes.io/serviceaccount ');
    expect(existsSync(join(serviceAccountMountPath, 'token'))).toBe(false);
    const requests = (await createJsonClient(api.kubeConfig()).send('GET', '/sandbox/v1/requests')).body as { counts?: Record<string, number>; forbidden?: string[] };
    expect(Object.keys(requests.counts ?? {}).filter((k) => k.startsWith('system:serviceaccount:ironlb-system:controller ') && k.includes(' leases'))).not.toEqual([]);
    expect(requests.forbidden).toEqual([]);
  }, 60_000);

  it('runs the speaker as root with CAP_NET_RAW alone, and it holds its node Lease', async () => {
    await client.send('POST', '/api/v1/nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-rt' }, status: { addresses: [{ type: 'InternalIP', address: `${net}.2` }] } });
    const pod = await podFrom('DaemonSet', 'speaker-rt', 'node-rt');
    const c = runtime.start(await launchOf(pod, { IRONLB_NODE_NAME: 'node-rt', IRONLB_NAMESPACE: 'ironlb-system' }), stop.signal);
    running.push(c);
    const pid = c.pid ?? 0;
    await waitFor('the speaker Lease', () => client.send('GET', '/apis/coordination.k8s.io/v1/namespaces/ironlb-system/leases/ironlb-speaker-node-rt'), (r) => r.code === 200, { timeoutMs: 30_000 });
    const status = await procStatus(pid);
    expect(status.Uid?.split(/\s+/)[0]).toBe('0');
    // CAP_NET_RAW is bit 13.
    expect(status.CapEff).toBe('0000000000002000');
    expect(status.CapBnd).toBe('0000000000002000');
    expect(status.CapAmb).toBe('0000000000000000');
    const cmdline = (await readFile(`/proc/${String(pid)}/cmdline`, 'utf8')).split('\0');
    expect(cmdline.slice(0, speakerNodeFlags.length + 2)).toEqual([process.execPath, ...speakerNodeFlags, join(repoRoot, 'bin', 'ironlb.js')]);
    const exit = await c.stop(5000);
    expect(exit.signal === undefined ? exit.exitCode : 143).toBeOneOf([0, 143]);
  }, 60_000);

  it('refuses runAsNonRoot with a root user, as the kubelet does', async () => {
    const pod = await podFrom('Deployment', 'controller-root', 'node-rt');
    const launch = await launchOf(pod, {});
    const c = runtime.start({ ...launch, container: { ...launch.container, security: { ...launch.container.security, runAsUser: 0 } } }, stop.signal);
    expect(await c.exited).toEqual({ exitCode: 128, signal: undefined, reason: 'StartError', message: 'container controller of pod ironlb-system/controller-root: container has runAsNonRoot and image will run as root' });
  });
});
