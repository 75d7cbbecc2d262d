import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { authorizerFromManifests } from '../../src/sandbox/apiserver/rbac.js';
import { startTestApiServer } from '../helpers/apiserver.js';
import { repoRoot } from '../helpers/cli.js';
import { createTestbed, exited, nsExec, sh, waitFor, type Testbed } from '../helpers/netns.js';
import { canRunRootTests } from '../helpers/root.js';

// The image users deploy, built from the unchanged Dockerfile by scripts/build-image.sh and run
// with the user, capabilities, filesystem and command that manifests/ironlb.yaml gives each
// container (read from the manifest here, not repeated).

interface Capabilities { readonly add?: readonly string[]; readonly drop?: readonly string[] }
interface SecurityContext { readonly seccompProfile?: { readonly type: string }; readonly runAsUser?: number; readonly runAsGroup?: number; readonly readOnlyRootFilesystem?: boolean; readonly allowPrivilegeEscalation?: boolean; readonly capabilities?: Capabilities }
interface Container { readonly name: string; readonly image: string; readonly command?: readonly string[]; readonly args?: readonly string[]; readonly env?: readonly { readonly name: string; readonly value?: string }[]; readonly securityContext?: SecurityContext }
interface Workload { readonly kind: string; readonly metadata: { readonly name: string }; readonly spec: { readonly template: { readonly spec: { readonly securityContext?: SecurityContext; readonly containers: readonly Container[] } } } }

const version = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;
const image = `localhost/ironlb:${version}`;

function workload(kind: string, name: string): { pod: SecurityContext; container: Container } {
  const docs = parseAllDocuments(readFileSync(join(repoRoot, 'manifests', 'ironlb.yaml'), 'utf8')).map((d) => d.toJS() as Workload);
  const w = docs.find((d) => d.kind === kind && d.metadata.name === name);
  const container = w?.spec.template.spec.containers[0];
  if (w === undefined || container === undefined) throw new Error(`${kind} ${name} missing from manifests/ironlb.yaml`);
  return { pod: w.spec.template.spec.securityContext ?? {}, container };
}

/**
 * What overlays/xdp changes for the speaker, as kubectl's kustomize renders it, as podman flags:
 * the capabilities beyond the base manifest's, the plain IRONLB_ env values, and seccomp.
 */
function xdpOverlayFlags(): string[] {
  const rendered = execFileSync('kubectl', ['kustomize', join(repoRoot, 'overlays', 'xdp')], { encoding: 'utf8' });
  const ds = parseAllDocuments(rendered).map((d) => d.toJS() as Workload).find((d) => d.kind === 'DaemonSet' && d.metadata.name === 'speaker');
  const speaker = ds?.spec.template.spec.containers[0];
  if (ds === undefined || speaker === undefined) throw new Error('overlays/xdp renders no speaker DaemonSet');
  const base = new Set(workload('DaemonSet', 'speaker').container.securityContext?.capabilities?.add ?? []);
  const caps = (speaker.securityContext?.capabilities?.add ?? []).filter((c) => !base.has(c));
  const env = (speaker.env ?? []).filter((e) => e.value !== undefined && e.name.startsWith('IRONLB_'));
  const seccomp = ds.spec.template.spec.securityContext?.seccompProfile?.type === 'Unconfined' ? ['--security-opt', 'seccomp=unconfined'] : [];
  return [...caps.flatMap((c) => ['--cap-add', c]), ...env.flatMap((e) => ['--env', `${e.name}=${e.value ?? ''}`]), ...seccomp];
}

/** How a test departs from the manifest: extra podman flags, other args, another entrypoint. */
interface RunOptions {
  readonly podman?: readonly string[];
  /** Replaces the manifest's `args` (the subcommand). */
  readonly args?: readonly string[];
  /** Replaces the manifest's `command` (or the image's entrypoint). */
  readonly entrypoint?: readonly string[];
}

/**
 * `podman run` flags for a container as Kubernetes would run it: user and group (container over
 * pod), read-only root, capabilities, no privilege escalation; the manifest's `command` replaces
 * the image's entrypoint and its `args` follow (Kubernetes' rule).
 */
function runArgs(kind: string, name: string, options: RunOptions = {}): string[] {
  const { pod, container } = workload(kind, name);
  const sc = { ...pod, ...container.securityContext };
  const out = ['run', '--rm', '--pull=never'];
  if (sc.runAsUser !== undefined) out.push('--user', `${String(sc.runAsUser)}${sc.runAsGroup === undefined ? '' : `:${String(sc.runAsGroup)}`}`);
  if (sc.readOnlyRootFilesystem === true) out.push('--read-only');
  if (sc.allowPrivilegeEscalation === false) out.push('--security-opt', 'no-new-privileges');
  for (const c of sc.capabilities?.drop ?? []) out.push('--cap-drop', c);
  for (const c of sc.capabilities?.add ?? []) out.push('--cap-add', c);
  out.push(...(options.podman ?? []));
  const entrypoint = options.entrypoint ?? container.command;
  if (entrypoint !== undefined) out.push('--entrypoint', JSON.stringify(entrypoint));
  out.push(image, ...(options.args ?? container.args ?? []));
  return out;
}

async function podman(args: readonly string[], timeoutMs = 60_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return sh('podman', args, timeoutMs);
}

describe.skipIf(!canRunRootTests('the ironlb image (podman)'))('the ironlb image, run as the manifests run it', () => {
  let bed: Testbed | undefined;
  let xdpBed: Testbed | undefined;
  const containers: string[] = [];

  beforeAll(async () => {
    // Bases are cached by version; the ironlb image itself is always built (from a clean layer
    // cache under CI=true), so a broken Dockerfile fails here.
    const build = spawn('bash', [join(repoRoot, 'scripts', 'build-image.sh'), image], {
      env: { ...process.env, IRONLB_IMAGE_NO_CACHE: process.env.CI === 'true' ? '1' : '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let log = '';
    build.stdout.setEncoding('utf8').on('data', (d: string) => (log += d));
    build.stderr.setEncoding('utf8').on('data', (d: string) => (log += d));
    const code = await exited(build);
    // Stage times and the image size, for the test output (docs/benchmarks.md has none of them).
    console.log(log.split('\n').filter((l) => l.startsWith('build-image:')).join('\n'));
    if (code !== 0) throw new Error(`scripts/build-image.sh failed (${String(code)}):\n${log.slice(-4000)}`);
  }, 30 * 60_000);

  afterAll(async () => {
    for (const c of containers) await podman(['rm', '-f', '-t', '0', c]);
    await bed?.cleanup();
    await xdpBed?.cleanup();
  }, 60_000);

  it('--help and config validate, as the controller runs', async () => {
    const help = await podman(runArgs('Deployment', 'controller', { args: ['controller', '--help'] }));
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('ironlb controller');
    const config = readFileSync(join(repoRoot, 'config', 'metallb-style-config.yaml'), 'utf8');
    const validate = spawn('podman', runArgs('Deployment', 'controller', { podman: ['-i'], args: ['config', 'validate', '--output', 'json', '-'] }), { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    validate.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    validate.stdin.end(config);
    expect(await exited(validate)).toBe(0);
    expect((JSON.parse(out) as { pools: unknown[] }).pools.length).toBeGreaterThan(0);
  }, 60_000);

  it('the controller without a cluster exits 1 with one line, as user 65534 with no capabilities', async () => {
    const r = await podman(runArgs('Deployment', 'controller', { podman: ['--network', 'none'] }));
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(/^ironlb controller: no cluster configuration/);
    const id = await podman(runArgs('Deployment', 'controller', { entrypoint: ['id', '-u'], args: [] }));
    expect(id.stdout.trim()).toBe('65534');
  }, 60_000);

  it('the controller (user 65534, read-only, no capabilities) gives a Service an IP with its in-cluster RBAC-limited credentials', async () => {
    const manifests = readFileSync(join(repoRoot, 'manifests', 'ironlb.yaml'), 'utf8');
    const token = `ctl-${String(process.pid)}`;
    const api = await startTestApiServer({ authorizer: authorizerFromManifests(manifests), users: new Map([[token, 'system:serviceaccount:ironlb-system:controller']]) });
    const secrets = await mkdtemp(join(tmpdir(), 'ironlb-sa-'));
    const name = `ironlb-img-ctl-${String(process.pid)}`;
    containers.push(name);
    try {
      const core = api.kubeConfig().makeApiClient(k8s.CoreV1Api);
      await core.createNamespace({ body: { metadata: { name: 'ironlb-system' } } });
      await core.createNamespacedConfigMap({ namespace: 'ironlb-system', body: { metadata: { name: 'config' }, data: { config: 'address-pools:\n- {name: default, protocol: layer2, addresses: [10.51.0.0/28]}\n' } } });
      // What the kubelet mounts for the service account, readable by the container's user.
      await writeFile(join(secrets, 'token'), token);
      await writeFile(join(secrets, 'ca.crt'), api.cert?.cert ?? '');
      await writeFile(join(secrets, 'namespace'), 'ironlb-system');
      await chmod(secrets, 0o755);
      const port = new URL(api.url).port;
      const args = runArgs('Deployment', 'controller', {
        podman: [
          '--name', name, '-d', '--network', 'host',
          '-v', `${secrets}:/var/run/secrets/kubernetes.io/serviceaccount:ro`,
          '-e', 'KUBERNETES_SERVICE_HOST=127.0.0.1', '-e', `KUBERNETES_SERVICE_PORT=${port}`,
          // The downward API values of the manifest's env.
          '-e', `IRONLB_POD_NAME=${name}`, '-e', 'IRONLB_NAMESPACE=ironlb-system',
        ],
        args: [...(workload('Deployment', 'controller').container.args ?? []), '--metrics-port', '0'],
      });
      const started = await podman(args);
      expect(started.code, started.stderr).toBe(0);
      await core.createNamespacedService({ namespace: 'default', body: { metadata: { name: 'web' }, spec: { type: 'LoadBalancer', ports: [{ port: 80, protocol: 'TCP' }], selector: { app: 'web' } } } });
      let ip = '';
      await waitFor('an IP on the Service', () => {
        const svc = api.server.store.list('/services', 'default')[0] as { status?: { loadBalancer?: { ingress?: { ip: string }[] } } } | undefined;
        ip = svc?.status?.loadBalancer?.ingress?.[0]?.ip ?? '';
        return ip !== '';
      }, 60_000);
      expect(ip).toMatch(/^10\.51\.0\.\d+$/);
      const mine = api.server.requests.entries().filter((r) => r.user.endsWith(':controller'));
      expect(mine.length).toBeGreaterThan(0);
      expect(mine.filter((r) => r.code === 403).map((r) => `${r.verb} ${r.resource}`)).toEqual([]);
      const stopped = await podman(['stop', '-t', '5', name]);
      expect(stopped.code).toBe(0);
    } finally {
      await podman(['rm', '-f', '-t', '0', name]);
      await api.close();
      await rm(secrets, { recursive: true, force: true });
    }
  }, 120_000);

  it('the speaker (user 0, NET_RAW only, read-only) answers ARP and NDP in a node namespace', async () => {
    bed = await createTestbed('img');
    const ip4 = `${bed.v4}100`;
    const ip6 = `${bed.v6}100`;
    // `announce` is the speaker's layer2 engine without Kubernetes: same interfaces code, same
    // sockets, same capabilities; run with the DaemonSet's user, capabilities and node flags.
    const name = `ironlb-img-${String(process.pid)}`;
    containers.push(name);
    const args = runArgs('DaemonSet', 'speaker', { podman: ['--name', name, '--network', `ns:/run/netns/${bed.a}`], args: ['announce', '--interface', bed.ifA, '--ip', ip4, '--ip', ip6] });
    const run = spawn('podman', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    run.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    run.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    await waitFor('announcer in the container', () => out.includes('"interfaceAnnouncing"') || run.exitCode !== null, 60_000);
    expect(out).toContain('"interfaceAnnouncing"');
    const arping = await sh('ip', ['netns', 'exec', bed.b, 'arping', '-c', '2', '-w', '3', '-I', bed.ifB, ip4]);
    expect(arping.stdout.toLowerCase()).toContain(`[${bed.macA}]`);
    const ndisc = await sh('ip', ['netns', 'exec', bed.b, 'ndisc6', '-r', '2', '-w', '500', ip6, bed.ifB]);
    expect(ndisc.stdout.toLowerCase()).toContain(`target link-layer address: ${bed.macA}`);
    await podman(['stop', '-t', '5', name]);
    expect(await exited(run)).toBe(0);
  }, 120_000);

  it('the speaker with overlays/xdp answers ARP in XDP from the image', async () => {
    xdpBed = await createTestbed('imgx');
    const testbed = xdpBed;
    const ip4 = `${testbed.v4}100`;
    // On veth, XDP_TX frames reach the peer only when the peer runs NAPI: give it our object,
    // unconfigured (it passes everything), as test/netns/xdp.test.ts does.
    await nsExec(testbed.b, ['ip', 'link', 'set', testbed.ifB, 'xdp', 'obj', join(repoRoot, 'native', 'xdp', 'build', 'responder.bpf.o'), 'sec', 'xdp']);
    const name = `ironlb-imgx-${String(process.pid)}`;
    containers.push(name);
    const args = runArgs('DaemonSet', 'speaker', { podman: ['--name', name, '--network', `ns:/run/netns/${testbed.a}`, ...xdpOverlayFlags()], args: ['announce', '--interface', testbed.ifA, '--ip', ip4] });
    const run = spawn('podman', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    run.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    run.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    await waitFor('XDP attached or refused in the container', () => out.includes('"xdpAttached"') || out.includes('"xdpFallback"') || run.exitCode !== null, 60_000);
    expect(out).not.toContain('"xdpFallback"');
    expect(out).toContain('"xdpAttached"');
    const arping = await sh('ip', ['netns', 'exec', testbed.b, 'arping', '-c', '2', '-w', '3', '-I', testbed.ifB, ip4]);
    expect(arping.stdout.toLowerCase()).toContain(`[${testbed.macA}]`);
    await podman(['stop', '-t', '5', name]);
    expect(await exited(run)).toBe(0);
  }, 120_000);
});
