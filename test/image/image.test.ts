import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { authorizerFromManifests } from '../../src/sandbox/apiserver/rbac.js';
import { checkoutSource, sourceLabel } from '../../src/sandbox/kubelet/image-source.js';
import { destroyLan, lanLayout, type LanHost, type LanPlan } from '../../src/sandbox/lan.js';
import { sandboxPaths } from '../../src/sandbox/state-dir.js';
import { startTestApiServer } from '../helpers/apiserver.js';
import { repoRoot, runCli } from '../helpers/cli.js';
import { runKubectl } from '../helpers/kubectl.js';
import { macOf } from '../helpers/lan-netns.js';
import { createTestbed, exited, nsExec, pause, sh, waitFor as waitUntilTrue, type Testbed } from '../helpers/netns.js';
import { stopProcessesMentioning } from '../helpers/processes.js';
import { canRunRootTests } from '../helpers/root.js';
import { sandboxRequests } from '../helpers/sandbox.js';
import { waitFor } from '../helpers/wait.js';
import { envFlags, image, inClusterFrom, podman, readinessProbe, runArgs, workload, type InCluster, type RunOptions, type Workload } from './pod-spec.js';

// The image users deploy, built from the unchanged Dockerfile by scripts/build-image.sh and run
// with the user, capabilities, filesystem and command that manifests/ironlb.yaml gives each
// container (read from the manifest here, not repeated: ./pod-spec.ts).

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
      await waitUntilTrue('an IP on the Service', () => {
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
    await waitUntilTrue('announcer in the container', () => out.includes('"interfaceAnnouncing"') || run.exitCode !== null, 60_000);
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
    await waitUntilTrue('XDP attached or refused in the container', () => out.includes('"xdpAttached"') || out.includes('"xdpFallback"') || run.exitCode !== null, 60_000);
    expect(out).not.toContain('"xdpFallback"');
    expect(out).toContain('"xdpAttached"');
    const arping = await sh('ip', ['netns', 'exec', testbed.b, 'arping', '-c', '2', '-w', '3', '-I', testbed.ifB, ip4]);
    expect(arping.stdout.toLowerCase()).toContain(`[${testbed.macA}]`);
    await podman(['stop', '-t', '5', name]);
    expect(await exited(run)).toBe(0);
  }, 120_000);

  // What `sandbox up` gives a cluster admin once the image is built: the kubelet stand-in runs the
  // manifests' Deployment and DaemonSet from the image with podman (podman-runtime.ts), not from
  // this checkout. manifests/ironlb.yaml is applied unchanged; its image ironlb/ironlb:TAG maps to
  // the local build localhost/ironlb:TAG.
  describe('the sandbox kubelet runs the manifests\' Pods from the image with podman', () => {
    const tag = `${(process.pid % 1296).toString(36)}${Math.floor(Math.random() * 36 ** 2).toString(36)}`;
    const plan: LanPlan = { prefix: `ipm${tag}`, nodes: 2, v4Net: `10.216.${String(process.pid % 250)}`, v6Net: `fd00:216:${((process.pid % 65534) + 1).toString(16)}::`, hostLink: true };
    const layout = lanLayout(plan);
    const namespace = 'ironlb-system';
    const label = 'io.ironlb.sandbox.node';
    let dir = '';
    let stateDir = '';
    let kubeconfig = '';
    let ip = '';

    interface PsEntry { readonly Names: readonly string[]; readonly State: string; readonly Labels: Readonly<Record<string, string>> | null }

    /** The sandbox's podman containers (running or not), by the label the kubelet puts on them. */
    async function containers(): Promise<{ name: string; state: string; pod: string; container: string; node: string }[]> {
      const all: { name: string; state: string; pod: string; container: string; node: string }[] = [];
      for (const node of layout.nodes) {
        const r = await podman(['ps', '--all', '--filter', `label=${label}=${node.netns}`, '--format', 'json']);
        expect(r.code, r.stderr).toBe(0);
        for (const c of JSON.parse(r.stdout === '' ? '[]' : r.stdout) as PsEntry[]) {
          all.push({ name: c.Names[0] ?? '', state: c.State, pod: c.Labels?.['io.kubernetes.pod.name'] ?? '', container: c.Labels?.['io.kubernetes.container.name'] ?? '', node: node.name });
        }
      }
      return all;
    }

    interface PodRow { readonly name: string; readonly node: string; readonly ready: boolean; readonly restarts: number; readonly containerId: string }

    async function pods(): Promise<PodRow[]> {
      const r = await runKubectl(kubeconfig, ['-n', namespace, 'get', 'pods', '-o', 'json']);
      const list = JSON.parse(r.stdout === '' ? '{"items":[]}' : r.stdout) as { items: { metadata: { name: string }; spec: { nodeName?: string }; status?: { conditions?: { type: string; status: string }[]; containerStatuses?: { restartCount: number; containerID?: string }[] } }[] };
      return list.items.map((p) => ({
        name: p.metadata.name,
        node: p.spec.nodeName ?? '',
        ready: p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
        restarts: p.status?.containerStatuses?.[0]?.restartCount ?? 0,
        containerId: p.status?.containerStatuses?.[0]?.containerID ?? '',
      }));
    }

    /** What a reader of a failure needs: each Pod's last log lines (and its previous container's), the node agents' runtime lines. */
    async function diagnostics(): Promise<string> {
      const out: string[] = [];
      for (const p of await pods()) {
        for (const previous of [false, true]) {
          const r = await runKubectl(kubeconfig, ['-n', namespace, 'logs', p.name, '--tail', '5', ...(previous ? ['--previous'] : [])]);
          out.push(`${p.name}${previous ? ' (previous)' : ''}: ${(r.stdout + r.stderr).trim()}`);
        }
      }
      for (const node of layout.nodes) {
        const log = await readFile(join(stateDir, 'logs', `node-agent-${node.name}.log`), 'utf8').catch(() => '');
        out.push(...log.split('\n').filter((l) => /ironlbRuntime|containerExited|StartError|podSyncFailed/.test(l)).slice(-6));
      }
      return out.join('\n');
    }

    const curl = async (): Promise<{ code: number; answer: string }> => {
      const r = await sh('ip', ['netns', 'exec', layout.client.netns, 'curl', '-s', '-m', '1', `http://${ip}:8090/`], 5000);
      return { code: r.code, answer: / on (node-\d+)$/.exec(r.stdout.trim())?.[1] ?? '' };
    };

    beforeAll(async () => {
      await destroyLan(plan);
      dir = await mkdtemp(join(tmpdir(), 'ironlb-img-pods-'));
      stateDir = join(dir, 'state');
      // The default choice (auto): podman and the image are here, so podman runs them.
      const up = await runCli(['sandbox', 'up', '--nodes', '2', '--no-controller', '--no-speakers', '--state-dir', stateDir, '--lan-prefix', plan.prefix, '--lan-v4', plan.v4Net, '--lan-v6', plan.v6Net], { timeoutMs: 120_000, env: { IRONLB_SANDBOX_RUNTIME: 'auto' } });
      if (up.code !== 0) throw new Error(`sandbox up failed (${String(up.code)}): ${up.stderr}`);
      kubeconfig = sandboxPaths(stateDir).kubeconfig;
    }, 180_000);

    afterAll(async () => {
      if (dir === '') return;
      await runCli(['sandbox', 'down', '--state-dir', stateDir], { timeoutMs: 60_000 });
      const leftover = await stopProcessesMentioning(stateDir);
      if (leftover > 0) console.error(`image pods test: stopped ${String(leftover)} processes that sandbox down left`);
      for (const c of await containers()) await podman(['rm', '-f', '-t', '0', c.name]);
      await destroyLan(plan);
      await rm(dir, { recursive: true, force: true });
    }, 120_000);

    it('kubectl apply of manifests/ironlb.yaml: the two controllers and a speaker per node run as podman containers, labelled, and turn Ready', async () => {
      const applied = await runKubectl(kubeconfig, ['apply', '-f', join(repoRoot, 'manifests', 'ironlb.yaml')]);
      expect(applied.code, applied.stderr).toBe(0);
      const ready = await waitFor('the controllers and both speakers Ready', () => pods(), (ps) => ps.length === 4 && ps.every((p) => p.ready), { timeoutMs: 240_000, intervalMs: 1000 }).catch(async (e: unknown) => {
        throw new Error(`${String(e)}\n${await diagnostics()}`);
      });
      expect(ready.map((p) => p.containerId.split('://')[0])).toEqual(['podman', 'podman', 'podman', 'podman']);
      const running = await containers();
      expect(running.filter((c) => c.state === 'running').map((c) => c.container).sort()).toEqual(['controller', 'controller', 'speaker', 'speaker']);
      for (const p of ready) expect(running.some((c) => c.pod === p.name && c.node === p.node)).toBe(true);
      // The node agent said which runtime it chose, once, in its log.
      const agentLog = await readFile(join(stateDir, 'logs', 'node-agent-node-1.log'), 'utf8');
      expect(agentLog.split('\n').filter((l) => l.includes('"event":"ironlbRuntime"'))).toHaveLength(1);
      expect(agentLog).toContain('runs with podman: the image localhost/ironlb:');
      // kubectl logs reads what the container wrote.
      const logs = await runKubectl(kubeconfig, ['-n', namespace, 'logs', 'ds/speaker']);
      expect(logs.stdout).toContain('"event":"speakerStarting"');
    }, 300_000);

    it('the image carries the digest of this checkout; exec probes run in the podman container; an image of other source runs from the checkout instead, and sandbox status says which ran', async () => {
      const version = image.slice(image.lastIndexOf(':') + 1);
      const digest = await checkoutSource(repoRoot);
      if (!digest.ok) throw new Error(digest.error);
      const label = await podman(['image', 'inspect', '--format', `{{index .Labels "${sourceLabel}"}}`, image]);
      expect(label.stdout.trim()).toBe(digest.value);
      // The same image relabelled as if built from other source (a LABEL-only build runs nothing).
      const staleTag = `stale-${tag}`;
      const context = join(dir, 'stale-image');
      await mkdir(context);
      await writeFile(join(context, 'Containerfile'), `FROM ${image}\nLABEL ${sourceLabel}=sha256:${'0'.repeat(64)}\n`);
      const built = await podman(['build', '--pull=never', '-t', `localhost/ironlb:${staleTag}`, '-f', join(context, 'Containerfile'), context]);
      expect(built.code, built.stderr).toBe(0);
      const idle = ['node', '-e', 'setInterval(() => {}, 1000)'];
      const pod = (name: string, podImage: string, probe?: readonly string[]): unknown => ({
        apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default' },
        spec: { terminationGracePeriodSeconds: 1, containers: [{ name: 'main', image: podImage, command: idle, ...(probe === undefined ? {} : { readinessProbe: { exec: { command: probe }, periodSeconds: 1, failureThreshold: 1 } }) }] },
      });
      // /app/package.json exists in the image only: the probe passes only if it runs in the container.
      const inImage = ['node', '-e', "process.exit(require('node:fs').existsSync('/app/package.json') ? 0 : 1)"];
      const manifests = JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [pod('exec-ok', `ironlb/ironlb:${version}`, inImage), pod('exec-fail', `ironlb/ironlb:${version}`, ['sh', '-c', 'exit 3']), pod('stale', `ironlb/ironlb:${staleTag}`)] });
      try {
        const applied = await runKubectl(kubeconfig, ['apply', '-f', '-'], manifests);
        expect(applied.code, applied.stderr).toBe(0);
        const podsIn = async (): Promise<PodRow[]> => {
          const r = await runKubectl(kubeconfig, ['-n', 'default', 'get', 'pods', '-o', 'json']);
          const list = JSON.parse(r.stdout === '' ? '{"items":[]}' : r.stdout) as { items: { metadata: { name: string }; spec: { nodeName?: string }; status?: { conditions?: { type: string; status: string }[]; containerStatuses?: { restartCount: number; containerID?: string }[] } }[] };
          return list.items.map((p) => ({ name: p.metadata.name, node: p.spec.nodeName ?? '', ready: p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false, restarts: p.status?.containerStatuses?.[0]?.restartCount ?? 0, containerId: p.status?.containerStatuses?.[0]?.containerID ?? '' }));
        };
        const ready = await waitFor('exec-ok and stale Ready', podsIn, (ps) => ['exec-ok', 'stale'].every((n) => ps.some((p) => p.name === n && p.ready)), { timeoutMs: 120_000, intervalMs: 500 });
        const runtimeOf = (name: string): string => ready.find((p) => p.name === name)?.containerId.split('://')[0] ?? '';
        expect([runtimeOf('exec-ok'), runtimeOf('stale')]).toEqual(['podman', 'ironlb']);
        // exec-fail has run for as long as exec-ok took to pass, probed every second: still not Ready.
        await pause(3000);
        const failing = (await podsIn()).find((p) => p.name === 'exec-fail');
        expect(failing?.containerId.split('://')[0]).toBe('podman');
        expect(failing?.ready).toBe(false);
        const status = await runCli(['sandbox', 'status', '--state-dir', stateDir], { timeoutMs: 30_000 });
        expect(status.stdout).toMatch(new RegExp(`ironlb's image ironlb/ironlb:${version.replaceAll('.', '\\.')} runs with podman: the image ${image.replaceAll('.', '\\.')} \\(sha256:[0-9a-f]{12}\\) was built from this checkout`));
        expect(status.stdout).toContain(`ironlb's image ironlb/ironlb:${staleTag} runs from this checkout: the image localhost/ironlb:${staleTag} (`);
        expect(status.stdout).toContain(`was built from other source than this checkout (sha256:000000000000, checkout ${digest.value.slice(0, 19)})`);
      } finally {
        await runKubectl(kubeconfig, ['-n', 'default', 'delete', 'pod', 'exec-ok', 'exec-fail', 'stale', '--ignore-not-found', '--wait=true', '--timeout=60s']);
        await podman(['rmi', '-f', `localhost/ironlb:${staleTag}`]);
      }
      // The containers are gone with their Pods (the later tests count the manifests' four).
      await waitFor('the probe Pods\' containers removed', () => containers(), (cs) => cs.every((c) => ['controller', 'speaker'].includes(c.container)), { timeoutMs: 60_000, intervalMs: 500 });
    }, 240_000);

    it('a LoadBalancer Service gets an IP from the controller container; curl from the client reaches it through the announcing speaker container', async () => {
      const demo = [
        'apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: demo, namespace: default}\nspec:\n  selector: {matchLabels: {app: demo}}\n  template:\n    metadata: {labels: {app: demo}}\n    spec:\n      tolerations: [{key: node-role.kubernetes.io/control-plane, operator: Exists, effect: NoSchedule}]\n      containers: [{name: web, image: demo, ports: [{containerPort: 8080}]}]\n',
        'apiVersion: v1\nkind: Service\nmetadata: {name: demo, namespace: default}\nspec:\n  type: LoadBalancer\n  selector: {app: demo}\n  ports: [{name: http, port: 8090, targetPort: 8080, protocol: TCP}]\n',
      ].join('---\n');
      expect((await runKubectl(kubeconfig, ['apply', '-f', '-'], demo)).code).toBe(0);
      ip = await waitFor('an EXTERNAL-IP', async () => (await runKubectl(kubeconfig, ['get', 'svc', 'demo', '-o', 'jsonpath={.status.loadBalancer.ingress[0].ip}'])).stdout, (v) => v !== '', { timeoutMs: 60_000, intervalMs: 250 });
      expect(ip.startsWith(`${plan.v4Net}.`)).toBe(true);
      const r = await waitFor('an answer through the Service IP', () => curl(), (c) => c.code === 0 && c.answer !== '', { timeoutMs: 120_000, intervalMs: 250 });
      expect(r.answer).toMatch(/^node-\d$/);
    }, 240_000);

    it('podman kill of a speaker container: the kubelet restarts it (restartCount 1, a new container), Ready again, and curl keeps answering', async () => {
      const before = await pods();
      const victim = before.find((p) => p.name.startsWith('speaker-'));
      if (victim === undefined) throw new Error('no speaker Pod');
      const container = (await containers()).find((c) => c.pod === victim.name && c.state === 'running');
      if (container === undefined) throw new Error(`no running container for ${victim.name}`);
      expect((await podman(['kill', container.name])).code).toBe(0);
      const after = await waitFor(`${victim.name} restarted and Ready`, () => pods(), (ps) => ps.some((p) => p.name === victim.name && p.restarts === 1 && p.ready), { timeoutMs: 120_000, intervalMs: 500 });
      expect(after.find((p) => p.name === victim.name)?.containerId).not.toBe(victim.containerId);
      const now = (await containers()).filter((c) => c.pod === victim.name);
      // The killed incarnation is removed once its exit is read; the new one runs.
      expect(now.map((c) => c.state)).toEqual(['running']);
      expect(now[0]?.name).not.toBe(container.name);
      const r = await waitFor('an answer through the Service IP', () => curl(), (c) => c.code === 0 && c.answer !== '', { timeoutMs: 30_000, intervalMs: 250 });
      expect(r.code).toBe(0);
    }, 180_000);

    it('sandbox down after kill -9 of the supervisor and node agents removes every container (they outlive their kubelet)', async () => {
      const record = JSON.parse(await readFile(join(stateDir, 'sandbox.json'), 'utf8')) as { pid: number; children?: Record<string, number> };
      process.kill(record.pid, 'SIGKILL');
      for (const [name, pid] of Object.entries(record.children ?? {})) if (name.startsWith('node-agent-')) process.kill(pid, 'SIGKILL');
      await pause(1000);
      expect((await containers()).filter((c) => c.state === 'running').length).toBe(4);
      const down = await runCli(['sandbox', 'down', '--state-dir', stateDir], { timeoutMs: 90_000 });
      expect(down.stdout).toMatch(/^sandbox removed/);
      expect(await containers()).toEqual([]);
    }, 120_000);
  });

  // The DaemonSet and the Deployment as a cluster runs them, on the sandbox's LAN: `sandbox up`
  // without its own controller and speakers gives the API server (the manifests' RBAC, the
  // service-account tokens), node namespaces with the kube-proxy stand-in and a backend
  // answering its node name, and the client namespace. The controller container runs in the
  // host's network; one speaker container per node in that node's namespace (hostNetwork),
  // each with in-cluster credentials and the env the kubelet would give it.
  describe('the controller and two speaker containers on the sandbox LAN', () => {
    const tag = `${(process.pid % 1296).toString(36)}${Math.floor(Math.random() * 36 ** 2).toString(36)}`;
    const plan: LanPlan = { prefix: `img${tag}`, nodes: 2, v4Net: `10.215.${String(process.pid % 250)}`, v6Net: `fd00:215:${((process.pid % 65534) + 1).toString(16)}::`, hostLink: true };
    const layout = lanLayout(plan);
    const namespace = 'ironlb-system';
    // Crash failover is the speaker's Lease duration (3 s by default; the manifest sets none),
    // plus the watch and the gratuitous ARP; the rest is room for a loaded CI machine.
    const failoverBudgetMs = 10_000;
    // Backends: a DaemonSet (tolerating node-1's control-plane taint) whose Pods the sandbox's
    // kubelet runs as stand-in web servers answering `<pod> on <node>`; the Service keeps traffic
    // on the node it reaches (externalTrafficPolicy: Local), so the answer names that node.
    const demoManifests = [
      'apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: demo, namespace: default}\nspec:\n  selector: {matchLabels: {app: demo}}\n  template:\n    metadata: {labels: {app: demo}}\n    spec:\n      tolerations: [{key: node-role.kubernetes.io/control-plane, operator: Exists, effect: NoSchedule}]\n      containers: [{name: web, image: demo, ports: [{containerPort: 8080}]}]\n',
      'apiVersion: v1\nkind: Service\nmetadata: {name: demo, namespace: default}\nspec:\n  type: LoadBalancer\n  externalTrafficPolicy: Local\n  selector: {app: demo}\n  ports: [{name: http, port: 8090, targetPort: 8080, protocol: TCP}]\n',
    ].join('---\n');
    let dir = '';
    let kubeconfig = '';
    let controllerSa: InCluster = { flags: [] };
    let speakerSa: InCluster = { flags: [] };
    let ip = '';
    let crashTakeoverMs = Number.NaN;
    // node name -> the speaker container running there
    const speakers = new Map<string, RunningContainer>();
    const started: RunningContainer[] = [];

    interface RunningContainer { readonly name: string; readonly child: ChildProcess; output(): string }

    /** `podman run` attached (so its output is the container's log, and its exit code the container's). */
    function startContainer(name: string, args: readonly string[]): RunningContainer {
      const child = spawn('podman', args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
      const c = { name, child, output: () => out };
      started.push(c);
      return c;
    }

    const nodeOf = (name: string): LanHost => {
      const node = layout.nodes.find((n) => n.name === name);
      if (node === undefined) throw new Error(`no node ${name}`);
      return node;
    };

    /** The speaker container for `node`, as the DaemonSet's Pod on that node would run. */
    function startSpeaker(node: LanHost, options: RunOptions = {}): RunningContainer {
      const name = `ironlb-img-spk-${tag}-${node.name}`;
      const { container } = workload('DaemonSet', 'speaker');
      const pod = ['--name', name, '--network', `ns:/run/netns/${node.netns}`, ...speakerSa.flags, ...envFlags(container, { 'spec.nodeName': node.name, 'metadata.namespace': namespace })];
      return startContainer(name, runArgs('DaemonSet', 'speaker', { ...options, podman: [...pod, ...(options.podman ?? [])] }));
    }

    /** What the kubelet's readinessProbe gets from `node`'s speaker: the HTTP code (`000`: no answer) and body. */
    async function probe(node: LanHost, path?: string): Promise<{ code: string; body: string }> {
      const p = readinessProbe(workload('DaemonSet', 'speaker').container);
      const r = await sh('ip', ['netns', 'exec', node.netns, 'curl', '-s', '-m', '2', '-w', '\n%{http_code}', `http://${node.v4}:${String(p.port)}${path ?? p.path}`], 5000);
      const lines = r.stdout.split('\n');
      return { code: lines.pop() ?? '', body: lines.join('\n') };
    }

    /**
     * curl from the client to `target`:8090; `answer` is the node whose backend Pod answered
     * (`<pod> on <node>`), which with `externalTrafficPolicy: Local` is the node the client's
     * frames went to: the announcing one.
     */
    const curl = async (target = ip): Promise<{ code: number; answer: string }> => {
      const r = await sh('ip', ['netns', 'exec', layout.client.netns, 'curl', '-s', '-m', '1', `http://${target}:8090/`], 5000);
      return { code: r.code, answer: / on (node-\d+)$/.exec(r.stdout.trim())?.[1] ?? '' };
    };

    /**
     * Runs `act` and polls curl from the client until a node other than `from` answers; returns
     * how long that took from the start of `act`, and the curls that failed meanwhile: `cut` are
     * connections reset or closed empty (curl 56, 52), which is what a TCP connection open at the
     * moment the client's neighbour entry moves gets from the new node, which never saw it (any
     * layer-2 failover, MetalLB's too, breaks connections in flight); `failed` are all others
     * (timeouts, refused, a wrong answer): a broken data path.
     */
    async function takeover(from: string, act: () => Promise<unknown>): Promise<{ ms: number; failed: number; cut: number; codes: number[]; by: string }> {
      const t0 = performance.now();
      const acting = act();
      const codes: number[] = [];
      for (;;) {
        const r = await curl();
        if (r.code !== 0 || r.answer === '') codes.push(r.code);
        else if (r.answer !== from) {
          const ms = Math.round(performance.now() - t0);
          await acting;
          const cut = codes.filter((c) => c === 52 || c === 56).length;
          return { ms, failed: codes.length - cut, cut, codes, by: r.answer };
        }
        if (performance.now() - t0 > 30_000) {
          // What a reader needs to tell a missing takeover from a broken data path.
          const neigh = (await sh('ip', ['netns', 'exec', layout.client.netns, 'ip', 'neigh', 'show', ip])).stdout.trim();
          const logs = [...speakers].map(([node, c]) => `${node}:\n${c.output().trim().split('\n').slice(-4).join('\n')}`).join('\n');
          throw new Error(`no node other than ${from} answered within 30 s (curl exit codes of the failures: ${codes.join(' ')}, last ${JSON.stringify(r)}); client neighbour: ${neigh}\n${logs}`);
        }
        await pause(50);
      }
    }

    const lease = async (node: string): Promise<{ holder: string; resourceVersion: string }> => {
      const r = await runKubectl(kubeconfig, ['-n', namespace, 'get', 'lease', `ironlb-speaker-${node}`, '-o', 'jsonpath={.spec.holderIdentity}|{.metadata.resourceVersion}']);
      const [holder = '', resourceVersion = ''] = r.stdout.split('|');
      return { holder, resourceVersion };
    };

    beforeAll(async () => {
      await destroyLan(plan);
      dir = await mkdtemp(join(tmpdir(), 'ironlb-img-lan-'));
      const stateDir = join(dir, 'state');
      const up = await runCli(['sandbox', 'up', '--nodes', '2', '--no-controller', '--no-speakers', '--state-dir', stateDir, '--lan-prefix', plan.prefix, '--lan-v4', plan.v4Net, '--lan-v6', plan.v6Net], { timeoutMs: 120_000 });
      if (up.code !== 0) throw new Error(`sandbox up failed (${String(up.code)}): ${up.stderr}`);
      const paths = sandboxPaths(stateDir);
      kubeconfig = paths.kubeconfig;
      controllerSa = await inClusterFrom(paths.controllerKubeconfig, join(dir, 'sa-controller'), namespace);
      speakerSa = await inClusterFrom(paths.speakerKubeconfig, join(dir, 'sa-speaker'), namespace);
      const ctlName = `ironlb-img-ctl-${tag}`;
      const ctl = workload('Deployment', 'controller').container;
      startContainer(ctlName, runArgs('Deployment', 'controller', {
        podman: ['--name', ctlName, '--network', 'host', ...controllerSa.flags, ...envFlags(ctl, { 'metadata.name': ctlName, 'metadata.namespace': namespace })],
        // Its monitoring port would be the host's 7472: any free one instead.
        args: [...(ctl.args ?? []), '--metrics-port', '0'],
      }));
      for (const node of layout.nodes) speakers.set(node.name, startSpeaker(node));
    }, 180_000);

    afterAll(async () => {
      for (const c of started) await podman(['rm', '-f', '-t', '0', c.name]);
      for (const c of started) if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGKILL');
      if (dir === '') return;
      const stateDir = join(dir, 'state');
      await runCli(['sandbox', 'down', '--state-dir', stateDir], { timeoutMs: 60_000 });
      const leftover = await stopProcessesMentioning(stateDir);
      if (leftover > 0) console.error(`image LAN test: stopped ${String(leftover)} processes that sandbox down left`);
      await destroyLan(plan);
      await rm(dir, { recursive: true, force: true });
    }, 120_000);

    // The DaemonSet's Pods start on a loaded machine after the image build: allow minutes.
    it('the controller gives the demo Service an IP; curl from the client reaches the announcing node; both speakers pass their readiness probe', async () => {
      expect((await runKubectl(kubeconfig, ['apply', '-f', '-'], demoManifests)).stdout).toBe('daemonset.apps/demo created\nservice/demo created\n');
      ip = await waitFor('an EXTERNAL-IP from the controller container', async () => (await runKubectl(kubeconfig, ['get', 'svc', 'demo', '-o', 'jsonpath={.status.loadBalancer.ingress[0].ip}'])).stdout, (v) => v !== '', { timeoutMs: 60_000, intervalMs: 250 });
      expect(ip).toBe(`${plan.v4Net}.200`);
      const first = await waitFor('an answer through the Service IP', () => curl(), (r) => r.code === 0 && r.answer !== '', { timeoutMs: 180_000, intervalMs: 200 });
      expect(speakers.get(first.answer)?.output()).toContain('"event":"announceStarted"');
      for (const node of layout.nodes) expect((await waitFor(`${node.name}'s speaker ready`, () => probe(node), (p) => p.code === '200', { timeoutMs: 30_000, intervalMs: 250 })).code).toBe('200');
    }, 300_000);

    it('a dual-stack Service: the announcing speaker container answers NDP for its IPv6 IP with its node\'s MAC', async () => {
      const svc = 'apiVersion: v1\nkind: Service\nmetadata: {name: demo6, namespace: default}\nspec:\n  type: LoadBalancer\n  externalTrafficPolicy: Local\n  ipFamilyPolicy: RequireDualStack\n  ipFamilies: [IPv4, IPv6]\n  selector: {app: demo}\n  ports: [{name: http, port: 8090, targetPort: 8080, protocol: TCP}]\n';
      expect((await runKubectl(kubeconfig, ['apply', '-f', '-'], svc)).stdout).toBe('service/demo6 created\n');
      const ips = await waitFor('two IPs on demo6', async () => (await runKubectl(kubeconfig, ['get', 'svc', 'demo6', '-o', 'jsonpath={.status.loadBalancer.ingress[*].ip}'])).stdout.split(' ').filter((s) => s !== ''), (v) => v.length === 2, { timeoutMs: 60_000, intervalMs: 250 });
      const ip6 = ips.find((a) => a.includes(':')) ?? '';
      expect(ip6.startsWith(plan.v6Net)).toBe(true);
      // All IPs of a Service go with its first (docs/election.md): the IPv4 one shows the owner.
      const ip4 = ips.find((a) => !a.includes(':')) ?? '';
      const { answer } = await waitFor('an answer through the IPv4 IP of demo6', () => curl(ip4), (r) => r.code === 0 && r.answer !== '', { timeoutMs: 30_000, intervalMs: 200 });
      const ndisc = await sh('ip', ['netns', 'exec', layout.client.netns, 'ndisc6', '-r', '2', '-w', '1000', ip6, layout.lanInterface]);
      expect(ndisc.stdout.toLowerCase()).toContain(`target link-layer address: ${await macOf(nodeOf(answer).netns, layout.lanInterface)}`);
    }, 90_000);

    it('podman kill of the owning speaker: the other container takes over within the failover time, and curl keeps answering', async () => {
      const from = (await curl()).answer;
      const owner = speakers.get(from);
      if (owner === undefined) throw new Error(`no speaker container on "${from}"`);
      const result = await takeover(from, () => podman(['kill', owner.name]));
      console.log(`image: takeover after podman kill of ${from}'s speaker: ${String(result.ms)} ms, by ${result.by}, failed curls (exit codes): ${result.codes.join(' ') || 'none'}`);
      expect(result.failed).toBe(0);
      expect(result.cut, 'at most the one connection open at the switch is cut').toBeLessThanOrEqual(1);
      expect(result.ms).toBeLessThan(failoverBudgetMs);
      expect(speakers.get(result.by)?.output()).toContain('"event":"announceStarted"');
      expect(await exited(owner.child)).toBe(137);
      crashTakeoverMs = result.ms;
    }, 60_000);

    it('podman stop (SIGTERM) of the new owner: the restarted speaker takes over, faster than after the kill', async () => {
      const from = (await curl()).answer;
      const back = layout.nodes.find((n) => n.name !== from);
      const owner = speakers.get(from);
      if (back === undefined || owner === undefined) throw new Error(`no speaker container on "${from}"`);
      speakers.set(back.name, startSpeaker(back));
      await waitFor(`${back.name}'s speaker ready again`, () => probe(back), (p) => p.code === '200', { timeoutMs: 30_000, intervalMs: 250 });
      // The owner must count the restarted speaker alive, or its release would leave nobody eligible.
      await waitFor(`${from} counting two speakers alive`, () => probe(nodeOf(from), '/metrics'), (p) => /^ironlb_speaker_alive_speakers 2$/m.test(p.body), { timeoutMs: 30_000, intervalMs: 250 });
      const result = await takeover(from, () => podman(['stop', '-t', '5', owner.name]));
      console.log(`image: takeover after podman stop of ${from}'s speaker: ${String(result.ms)} ms (after podman kill: ${String(crashTakeoverMs)} ms), by ${result.by}, failed curls (exit codes): ${result.codes.join(' ') || 'none'}`);
      expect(result.by).toBe(back.name);
      expect(result.failed).toBe(0);
      expect(result.cut, 'at most the one connection open at the switch is cut').toBeLessThanOrEqual(1);
      expect(result.ms).toBeLessThan(crashTakeoverMs);
      expect(await exited(owner.child)).toBe(0);
      expect(owner.output()).toContain('"event":"leaseReleased"');
    }, 90_000);

    it('without NET_RAW the speaker container runs but is not ready: /readyz 503 saying why, the metric, one log line, its readiness probe fails, and it never touches its Lease', async () => {
      // The speaker the test before stopped (podman stop -t 5: it has exited by now unless that test failed early).
      const stopped = (): (typeof layout.nodes)[number] | undefined => layout.nodes.find((n) => speakers.get(n.name)?.child.exitCode !== null);
      await waitUntilTrue('a node whose speaker container has exited', () => stopped() !== undefined, 15_000);
      const node = stopped();
      if (node === undefined) throw new Error('no node without a running speaker');
      const before = await lease(node.name);
      expect(before.holder).toBe('');
      const denied = startSpeaker(node, { withoutCaps: ['NET_RAW'] });
      // The not-ready line for the packet sockets (it may follow others, e.g. caches not synced, in a later chunk).
      const notReadyLines = (): string[] => denied.output().split('\n').filter((l) => l.includes('"speakerNotReady"') && l.includes('"reason":"packetSocketsFailed"'));
      await waitUntilTrue('the speaker without NET_RAW not ready', () => notReadyLines().length > 0 || denied.child.exitCode !== null, 60_000);
      expect(denied.child.exitCode).toBeNull();
      const notReady = notReadyLines();
      expect(notReady).toHaveLength(1);
      expect(notReady[0]).toContain('no CAP_NET_RAW (EPERM)');
      // The manifest's readinessProbe, from the node as the kubelet sends it.
      const ready = await probe(node);
      expect(ready.code).toBe('503');
      expect(ready.body).toMatch(/^not ready: .*cannot open AF_PACKET sockets: no CAP_NET_RAW \(EPERM\)/);
      expect((await probe(node, '/healthz')).code).toBe('200');
      expect((await probe(node, '/metrics')).body).toContain('ironlb_speaker_not_ready{reason="packetSocketsFailed"} 1');
      expect(await lease(node.name)).toEqual(before);
      await podman(['stop', '-t', '5', denied.name]);
      expect(await exited(denied.child)).toBe(0);
    }, 90_000);

    it('no request of the containers was forbidden by the manifests\' RBAC', async () => {
      const body = await sandboxRequests(kubeconfig);
      expect(Object.keys(body.counts).some((k) => k.startsWith('system:serviceaccount:ironlb-system:speaker update leases'))).toBe(true);
      expect(Object.keys(body.counts).some((k) => k.startsWith('system:serviceaccount:ironlb-system:controller patch services/status'))).toBe(true);
      expect(body.forbidden).toEqual([]);
    });
  });

});
