import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot, runCli } from '../helpers/cli.js';
import { sh } from '../helpers/netns.js';
import { canRunRootTests } from '../helpers/root.js';
import { sandboxLan, sandboxRequests, useSandbox } from '../helpers/sandbox.js';

/**
 * The README's walk-through, end to end, as a user types it: `sandbox up` (ironlb installed from
 * manifests/ and Ready), the classic MetalLB steps on config/ (pool ConfigMap, nginx Deployment
 * and LoadBalancer Service), get pods/svc, ping and curl from the client namespace, kill the
 * announcing node's speaker (curl keeps working, RESTARTS 1), a speaker restarted by its liveness
 * probe, patch; then the rest of the sandbox's workload behaviour on config/sandbox-demo.yaml, and
 * down. The LAN uses its own prefix and subnet, so a user's sandbox on this machine is not
 * touched: the only difference from the README is the pool file, whose 172.31.213.x range is
 * rewritten to this LAN's.
 */
describe.skipIf(!canRunRootTests('sandbox walk-through (netns)'))('ironlb sandbox walk-through', () => {
  const { prefix, v4, v6 } = sandboxLan('wt', 213);
  const client = `${prefix}-client`;
  const sandbox = useSandbox({ name: 'walk', prefix, v4, v6, nodes: 3, upTimeoutMs: 150_000, pollTimeoutMs: 20_000 });
  const { kubectl, status, announcer, eventually } = sandbox;
  let nginxIp = '';
  let externalIp = '';

  /**
   * The Service's IP as it is now: the controller moves a Service whose address a speaker's probe
   * found in conflict (RFC 5227), so the tests follow the status rather than the first IP.
   */
  const refreshIp = async (): Promise<void> => {
    const ip = (await kubectl('get', 'svc', 'demo', '-o', 'jsonpath={.status.loadBalancer.ingress[0].ip}')).stdout.trim();
    if (ip !== '') externalIp = ip;
  };
  const curl = async (): Promise<{ code: number; stdout: string }> => {
    await refreshIp();
    return sh('ip', ['netns', 'exec', client, 'curl', '-s', '-m', '2', `http://${externalIp}:8090/`], 5000);
  };
  const curlNginx = async (): Promise<{ code: number; stdout: string }> => sh('ip', ['netns', 'exec', client, 'curl', '-s', '-m', '2', `http://${nginxIp}:8090/`], 5000);
  /** The demo's Pods as `kubectl get pods -o json` shows them. */
  const pods = async (selector = 'app=demo', namespace = 'default'): Promise<{ name: string; node: string; ip: string; ready: boolean; restarts: number }[]> => {
    const out = JSON.parse((await kubectl('get', 'pods', '-n', namespace, '-l', selector, '-o', 'json')).stdout) as { items: { metadata: { name: string }; spec: { nodeName?: string }; status: { podIP?: string; conditions?: { type: string; status: string }[]; containerStatuses?: { restartCount: number }[] } }[] };
    return out.items.map((p) => ({ name: p.metadata.name, node: p.spec.nodeName ?? '', ip: p.status.podIP ?? '', ready: (p.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'), restarts: p.status.containerStatuses?.[0]?.restartCount ?? 0 }));
  };
  const speakers = async () => pods('app.kubernetes.io/component=speaker', 'ironlb-system');
  /** An HTTP GET to a Pod from its node's namespace, as the kubelet's probes reach it. */
  const podGet = async (node: string, ip: string, path: string) => sh('ip', ['netns', 'exec', `${prefix}-${node}`, 'curl', '-s', '-m', '2', `http://${ip}:8080${path}`], 5000);
  const owner = async (): Promise<string | undefined> => (await refreshIp(), announcer('demo', externalIp));
  /** `sandbox status`'s SPEAKER-PID of a node, as the README has the user read it. */
  const speakerPid = async (node: string): Promise<number | undefined> => {
    const row = (await status()).split('\n').find((l) => l.startsWith(`${node} `))?.split(/\s+/);
    return row?.[2] !== undefined && /^\d+$/.test(row[2]) ? Number(row[2]) : undefined;
  };

  it('up installed ironlb from manifests/: the controller and one speaker per node, all Ready, with logs', async () => {
    expect(sandbox.upStdout).toContain('controller running; one speaker per node');
    const wide = (await kubectl('get', 'pods', '-n', 'ironlb-system', '-o', 'wide')).stdout.trim().split('\n');
    expect(wide[0]?.split(/\s+/)).toEqual(['NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE', 'IP', 'NODE', 'NOMINATED', 'NODE', 'READINESS', 'GATES']);
    const rows = wide.slice(1).map((l) => l.split(/\s+/));
    const controllers = rows.filter((r) => r[0]?.startsWith('controller-'));
    const speakerRows = rows.filter((r) => r[0]?.startsWith('speaker-'));
    expect(controllers.map((r) => [r[1], r[2]])).toEqual([['1/1', 'Running'], ['1/1', 'Running']]);
    // One speaker per node, control plane included (it tolerates the taint), on the node's address (hostNetwork).
    expect(speakerRows.map((r) => [r[1], r[2], r[6]]).sort()).toEqual([['1/1', 'Running', 'node-1'], ['1/1', 'Running', 'node-2'], ['1/1', 'Running', 'node-3']]);
    for (const r of speakerRows) expect(r[5]).toBe(`${v4}.1${(r[6] ?? '').slice('node-'.length)}`);
    // The controller Pods are not hostNetwork: addresses from their node's Pod CIDR (they reach the API server through masquerade).
    for (const r of controllers) expect(r[5]).toMatch(/^10\.244\.\d+\.\d+$/);
    const image = (await kubectl('get', 'ds', 'speaker', '-n', 'ironlb-system', '-o', 'jsonpath={.spec.template.spec.containers[0].image}')).stdout;
    expect(image).toMatch(/^localhost\/ironlb:\d+\.\d+\.\d+/);
    const logs = await kubectl('logs', '-n', 'ironlb-system', 'ds/speaker');
    expect(logs.code).toBe(0);
    expect(logs.stdout).toContain('"event":"speakerStarting"');
  });

  it('classic walk-through: kubectl apply the pool and nginx; the Pods run; get svc shows the first pool address', async () => {
    const pool = join(sandbox.dir, 'sandbox-pool.yaml');
    await writeFile(pool, (await readFile(join(repoRoot, 'config', 'sandbox-pool.yaml'), 'utf8')).replaceAll('172.31.213.', `${v4}.`));
    const applied = await kubectl('apply', '-f', pool);
    expect(applied.stderr).toBe('');
    expect(applied.stdout).toBe('configmap/config configured\n');
    const nginx = await kubectl('apply', '-f', join(repoRoot, 'config', 'nginx.yaml'));
    expect(nginx.stderr).toBe('');
    expect(nginx.stdout).toBe('deployment.apps/nginx created\nservice/nginx created\n');
    const running = await eventually('2 nginx Pods Running', async () => {
      const rows = (await kubectl('get', 'pods')).stdout.trim().split('\n').slice(1).map((l) => l.split(/\s+/));
      return rows.length === 2 && rows.every((r) => r[0]?.startsWith('nginx-') && r[1] === '1/1' && r[2] === 'Running') ? rows : undefined;
    }, 60_000);
    expect(running.map((r) => r[3])).toEqual(['0', '0']);
    const svc = await eventually('an EXTERNAL-IP', async () => {
      const [header, row] = (await kubectl('get', 'svc', 'nginx')).stdout.trim().split('\n');
      const cols = row?.split(/\s+/) ?? [];
      return cols[3] !== undefined && cols[3] !== '<pending>' ? { header, cols } : undefined;
    });
    expect(svc.header?.split(/\s+/)).toEqual(['NAME', 'TYPE', 'CLUSTER-IP', 'EXTERNAL-IP', 'PORT(S)', 'AGE']);
    expect([svc.cols[0], svc.cols[1], svc.cols[3]]).toEqual(['nginx', 'LoadBalancer', `${v4}.200`]);
    expect(svc.cols[4]).toMatch(/^8090:3\d{4}\/TCP$/);
    nginxIp = `${v4}.200`;
  }, 90_000);

  it('ping and curl the address from ironlb-client: an nginx Pod answers', async () => {
    await eventually('an announcing node', () => announcer('nginx', nginxIp));
    expect((await sh('ip', ['netns', 'exec', client, 'ping', '-c', '1', '-W', '2', nginxIp])).code).toBe(0);
    const names = (await pods('app=nginx')).map((p) => `${p.name} on ${p.node}`);
    const answer = await eventually('an HTTP answer', async () => { const r = await curlNginx(); return r.code === 0 && r.stdout !== '' ? r.stdout.trim() : undefined; });
    expect(names).toContain(answer);
  });

  it('kill -9 of the announcing node\'s speaker: curl keeps working, and the speaker Pod shows RESTARTS 1', async () => {
    const before = await eventually('an announcing node', () => announcer('nginx', nginxIp));
    const victim = (await speakers()).find((p) => p.node === before);
    expect(victim?.restarts).toBe(0);
    const pid = await speakerPid(before);
    expect(pid).toBeDefined();
    process.kill(pid ?? 0, 'SIGKILL');
    // A user re-running curl: every attempt over the next seconds is answered (another node takes
    // over if the Lease runs out first; the node's kube-proxy stand-in keeps forwarding meanwhile).
    for (let i = 0; i < 10; i++) {
      const r = await curlNginx();
      expect(r.code, `curl attempt ${String(i)} after the kill`).toBe(0);
      await new Promise((res) => setTimeout(res, 500));
    }
    await eventually('RESTARTS 1 on the speaker Pod', async () => ((await speakers()).find((p) => p.name === victim?.name)?.restarts === 1 ? true : undefined), 60_000);
    const row = (await kubectl('get', 'pods', '-n', 'ironlb-system')).stdout.split('\n').find((l) => l.startsWith(victim?.name ?? '-'))?.split(/\s+/) ?? [];
    expect([row[1], row[2], row[3]]).toEqual(['1/1', 'Running', '1']);
    expect((await curlNginx()).code).toBe(0);
  }, 120_000);

  it('a speaker that stops answering its liveness probe (SIGSTOP) is restarted by the kubelet', async () => {
    const all = await speakers();
    const victim = all.find((p) => p.restarts === 0);
    expect(victim).toBeDefined();
    const pid = await speakerPid(victim?.node ?? '');
    expect(pid).toBeDefined();
    process.kill(pid ?? 0, 'SIGSTOP');
    try {
      // livenessProbe: /healthz every 10 s, 3 failures; then SIGTERM, SIGKILL after the 5 s grace period.
      await eventually('the liveness restart', async () => ((await speakers()).find((p) => p.name === victim?.name)?.restarts === 1 ? true : undefined), 90_000);
    } finally {
      try { process.kill(pid ?? 0, 'SIGCONT'); } catch { /* gone: the kubelet killed it */ }
    }
    expect(existsSync(`/proc/${String(pid)}`)).toBe(false);
    await eventually('the restarted speaker Ready', async () => ((await speakers()).find((p) => p.name === victim?.name)?.ready === true ? true : undefined), 60_000);
    const events = (await kubectl('logs', '-n', 'ironlb-system', victim?.name ?? '', '--previous', '--tail=1')).code;
    expect(events).toBe(0);
  }, 180_000);

  it('kubectl patch of sessionAffinity changes nothing for the address', async () => {
    expect((await kubectl('patch', 'svc', 'nginx', '-p', '{"spec":{"sessionAffinity":"ClientIP"}}')).stdout).toBe('service/nginx patched\n');
    await new Promise((r) => setTimeout(r, 1000));
    expect((await kubectl('get', 'svc', 'nginx', '-o', 'jsonpath={.status.loadBalancer.ingress[0].ip}')).stdout).toBe(nginxIp);
    const r = await curlNginx();
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^nginx-\S+ on node-\d\n$/);
  });

  it('gives the demo Service an EXTERNAL-IP from the pool', async () => {
    expect((await kubectl('apply', '-f', join(repoRoot, 'config', 'sandbox-demo.yaml'))).stdout).toBe('deployment.apps/demo created\nservice/demo created\n');
    const row = await eventually('an EXTERNAL-IP', async () => {
      const line = (await kubectl('get', 'svc', 'demo')).stdout.split('\n')[1] ?? '';
      return line.includes(`${v4}.2`) ? line : undefined;
    });
    externalIp = row.split(/\s+/)[3] ?? '';
    // nginx holds the first address of the pool; the demo gets the next.
    expect(externalIp).toBe(`${v4}.201`);
    expect((await kubectl('describe', 'svc', 'demo')).stdout).toMatch(/IPAllocated .*Assigned IP \[.*\] from pool default/);
  });

  it('runs the Deployment\'s Pods: Running and Ready, each with an address from its node\'s Pod CIDR', async () => {
    const rollout = await kubectl('rollout', 'status', 'deployment/demo', '--timeout=60s');
    expect(rollout.stdout).toContain('deployment "demo" successfully rolled out');
    const rows = (await kubectl('get', 'pods', '-o', 'wide')).stdout.trim().split('\n').slice(1).map((l) => l.split(/\s+/)).filter((r) => r[0]?.startsWith('demo-'));
    expect(rows.map((r) => [r[1], r[2], r[3]])).toEqual([['1/1', 'Running', '0'], ['1/1', 'Running', '0']]);
    for (const p of await pods()) {
      expect(p.ip).toMatch(new RegExp(`^10\\.244\\.${p.node.slice('node-'.length)}\\.\\d+$`));
      expect((await podGet(p.node, p.ip, '/')).stdout).toBe(`${p.name} on ${p.node}\n`);
    }
    expect((await pods()).map((p) => p.node).sort()).toEqual(['node-2', 'node-3']);
  }, 90_000);

  it('answers curl from the client namespace with the name of the announcing node', async () => {
    const announcing = await eventually('an announcing node', owner);
    const answer = await eventually('an HTTP answer', async () => {
      const r = await curl();
      return r.code === 0 && r.stdout.trim() !== '' ? r.stdout.trim() : undefined;
    });
    expect(answer).toContain(announcing);
    expect((await kubectl('describe', 'svc', 'demo')).stdout).toContain(`announcing from node ${announcing} with protocol layer2`);
  });

  it('serves kubectl logs from the container, with --tail and -f', async () => {
    const [pod] = await pods();
    const all = await kubectl('logs', pod?.name ?? '');
    expect(all.stdout).toContain(`stand-in web server for pod ${pod?.name ?? ''} on node ${pod?.node ?? ''}: listening on port 8080`);
    expect(all.stdout).toContain('"GET /healthz HTTP/1.1" 200');
    const tail = await kubectl('logs', pod?.name ?? '', '--tail=1');
    expect(tail.stdout.trim().split('\n')).toHaveLength(1);
    const follower = spawn('kubectl', ['--kubeconfig', sandbox.kubeconfig, 'logs', '-f', '--tail=0', pod?.name ?? '']);
    let followed = '';
    follower.stdout.on('data', (d: Buffer) => { followed += d.toString(); });
    try {
      await eventually('kubectl logs -f to stream a new line', async () => {
        await podGet(pod?.node ?? '', pod?.ip ?? '', '/followed-by-the-test');
        return followed.includes('GET /followed-by-the-test') ? true : undefined;
      });
    } finally {
      follower.kill();
    }
  });

  it('readiness gates the EndpointSlice: a Pod failing its probe stops getting traffic and the IP moves to the node with a ready Pod', async () => {
    const before = await eventually('an announcing node', owner);
    const victim = (await pods()).find((p) => p.node === before);
    expect(victim).toBeDefined();
    expect((await podGet(victim?.node ?? '', victim?.ip ?? '', '/standin/fail')).code).toBe(0);
    await eventually('the Pod to turn unready', async () => ((await pods()).find((p) => p.name === victim?.name)?.ready === false ? true : undefined));
    const slices = JSON.parse((await kubectl('get', 'endpointslices', '-l', 'kubernetes.io/service-name=demo', '-o', 'json')).stdout) as { items: { endpoints: { targetRef: { name: string }; conditions: { ready: boolean } }[] }[] };
    expect(slices.items.flatMap((s) => s.endpoints).find((e) => e.targetRef.name === victim?.name)?.conditions.ready).toBe(false);
    const after = await eventually('another announcing node', async () => { const o = await owner(); return o !== undefined && o !== before ? o : undefined; });
    const answer = await eventually('an answer from the other Pod', async () => { const r = await curl(); return r.code === 0 && r.stdout.includes(after) ? r.stdout : undefined; });
    expect(answer).not.toContain(victim?.name ?? '');
    // Healthy again: Ready again (the IP stays where it is: no flapping back).
    expect((await podGet(victim?.node ?? '', victim?.ip ?? '', '/standin/ok')).code).toBe(0);
    await eventually('the Pod to turn ready again', async () => ((await pods()).find((p) => p.name === victim?.name)?.ready === true ? true : undefined));
  }, 90_000);

  it('scales the Deployment up and down, and replaces a deleted Pod with one that serves', async () => {
    expect((await kubectl('scale', 'deployment/demo', '--replicas=3')).code).toBe(0);
    expect((await kubectl('rollout', 'status', 'deployment/demo', '--timeout=60s')).code).toBe(0);
    const three = await eventually('3 ready Pods', async () => { const p = await pods(); return p.length === 3 && p.every((x) => x.ready) ? p : undefined; });
    for (const p of three) expect((await podGet(p.node, p.ip, '/')).stdout).toBe(`${p.name} on ${p.node}\n`);
    expect((await kubectl('scale', 'deployment/demo', '--replicas=2')).code).toBe(0);
    await eventually('2 Pods', async () => ((await pods()).length === 2 ? true : undefined));
    const [victim] = await pods();
    expect((await kubectl('delete', 'pod', victim?.name ?? '')).code).toBe(0);
    const replaced = await eventually('a ready replacement', async () => { const p = await pods(); return p.length === 2 && p.every((x) => x.ready && x.name !== victim?.name) ? p : undefined; });
    for (const p of replaced) expect((await podGet(p.node, p.ip, '/')).stdout).toBe(`${p.name} on ${p.node}\n`);
    // The deleted and scaled-down Pods' namespaces went with them.
    const podNetworkPods = async (): Promise<number> => (JSON.parse((await kubectl('get', 'pods', '-A', '-o', 'json')).stdout) as { items: { spec: { hostNetwork?: boolean } }[] }).items.filter((p) => p.spec.hostNetwork !== true).length;
    await eventually('one Pod namespace per Pod that is not hostNetwork', async () => {
      const netns = (await sh('ip', ['netns', 'list'])).stdout.split('\n').filter((l) => l.startsWith(`${prefix}-node-`) && l.includes('-p-')).length;
      return netns === (await podNetworkPods()) ? true : undefined;
    });
  }, 120_000);

  it('restarts a container whose liveness probe fails, and kubectl shows RESTARTS', async () => {
    const manifest = join(sandbox.dir, 'live.yaml');
    await writeFile(manifest, [
      'apiVersion: apps/v1', 'kind: Deployment', 'metadata: {name: live, namespace: default}',
      'spec:', '  replicas: 1', '  selector: {matchLabels: {app: live}}', '  template:', '    metadata: {labels: {app: live}}', '    spec:',
      '      terminationGracePeriodSeconds: 1',
      '      containers:', '      - name: web', '        image: registry.example/live:1', '        ports: [{containerPort: 8080}]',
      '        livenessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 1, failureThreshold: 2}', '',
    ].join('\n'));
    expect((await kubectl('apply', '-f', manifest)).code).toBe(0);
    expect((await kubectl('rollout', 'status', 'deployment/live', '--timeout=60s')).code).toBe(0);
    const [pod] = await pods('app=live');
    // No readiness probe: Ready as soon as the process runs, maybe before it listens.
    await eventually('the stand-in to take /standin/fail', async () => ((await podGet(pod?.node ?? '', pod?.ip ?? '', '/standin/fail')).code === 0 ? true : undefined));
    await eventually('a restart', async () => ((await pods('app=live'))[0]?.restarts === 1 ? true : undefined), 30_000);
    const row = (await kubectl('get', 'pod', pod?.name ?? '')).stdout.split('\n')[1]?.split(/\s+/) ?? [];
    expect(row[3]).toBe('1');
    // The new container is healthy again and serves; the old one's log is --previous.
    await eventually('the restarted container to answer', async () => ((await podGet(pod?.node ?? '', pod?.ip ?? '', '/healthz')).stdout.includes(pod?.name ?? '') ? true : undefined));
    expect((await kubectl('logs', pod?.name ?? '', '--previous')).stdout).toContain('GET /standin/fail');
  }, 90_000);

  it('ran the controller and the speakers with the manifests\' RBAC, and none of their requests was forbidden', async () => {
    const body = await sandboxRequests(sandbox.kubeconfig);
    expect(Object.keys(body.counts).some((k) => k.startsWith('system:serviceaccount:ironlb-system:speaker update leases'))).toBe(true);
    expect(Object.keys(body.counts).some((k) => k.startsWith('system:serviceaccount:ironlb-system:controller patch services/status'))).toBe(true);
    expect(body.forbidden).toEqual([]);
  });

  it('down after a crash (kill -9 of the supervisor) removes every namespace, Pod process and link it made', async () => {
    const record = JSON.parse(await readFile(join(sandbox.stateDir, 'sandbox.json'), 'utf8')) as { pid: number };
    const podNetns = (await sh('ip', ['netns', 'list'])).stdout.split('\n').map((l) => l.split(' ')[0] ?? '').filter((n) => n.startsWith(`${prefix}-node-`) && n.includes('-p-'));
    expect(podNetns.length).toBeGreaterThan(0);
    const podPids = (await Promise.all(podNetns.map(async (n) => (await sh('ip', ['netns', 'pids', n])).stdout.trim().split('\n')))).flat().filter((p) => p !== '');
    expect(podPids.length).toBeGreaterThan(0);
    process.kill(record.pid, 'SIGKILL');
    expect((await runCli(['sandbox', 'down', '--state-dir', sandbox.stateDir], { timeoutMs: 60_000 })).stdout).toMatch(/^sandbox removed/);
    const left = (await sh('ip', ['netns', 'list'])).stdout.split('\n').filter((l) => l.startsWith(`${prefix}-`));
    expect(left).toEqual([]);
    await eventually('Pod processes to be gone', () => Promise.resolve(podPids.every((p) => !existsSync(`/proc/${p}`)) ? true : undefined), 5000);
    expect(existsSync(sandbox.stateDir)).toBe(false);
    expect((await sh('ip', ['link', 'show', `${prefix}-host`])).code).not.toBe(0);
  });

  it('up that times out before ironlb\'s Pods are Ready fails naming each Pod, its node, state and probe, and leaves nothing behind', async () => {
    // The sandbox above is gone (the previous test took it down); 5 s is too short for any Pod to pass its readiness probe.
    const up = await runCli(['sandbox', 'up', '--nodes', '2', '--ready-timeout', '5', '--state-dir', sandbox.stateDir, '--lan-prefix', prefix, '--lan-v4', v4, '--lan-v6', v6], { timeoutMs: 120_000 });
    expect(up.code).not.toBe(0);
    expect(up.stderr).toContain('not ready after 5 s');
    expect(up.stderr).toMatch(/Pod ironlb-system\/speaker-\w+ on node-\d: container speaker: /);
    expect(up.stderr).toMatch(/Pod ironlb-system\/controller-[\w-]+ (on node-\d|\(not scheduled\))/);
    expect(up.stderr).toContain('readiness probe GET /readyz on port monitoring not passing');
    expect(up.stderr).toContain('see kubectl get pods -n ironlb-system');
    expect((await runCli(['sandbox', 'down', '--state-dir', sandbox.stateDir], { timeoutMs: 60_000 })).code).toBe(0);
    expect((await sh('ip', ['netns', 'list'])).stdout.split('\n').filter((l) => l.startsWith(`${prefix}-`))).toEqual([]);
  }, 150_000);
});
