import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sh } from '../helpers/netns.js';
import { canRunRootTests } from '../helpers/root.js';
import { sandboxLan, useSandbox } from '../helpers/sandbox.js';

/**
 * Graceful Pod deletion end to end on real kernels: `kubectl delete pod` marks the Pod, its
 * kubelet sends SIGTERM (the stand-in keeps serving for IRONLB_DRAIN_SECONDS, as an application
 * that drains does), the EndpointSlice shows it terminating, the kube-proxy stand-in and the
 * speakers send new connections from the LoadBalancer IP to the ready replacement only, and the
 * kubelet removes the Pod once its container is gone.
 */
describe.skipIf(!canRunRootTests('sandbox termination (netns)'))('graceful Pod deletion in the sandbox', () => {
  const { prefix, v4, v6 } = sandboxLan('tm', 215);
  const client = `${prefix}-client`;
  const sandbox = useSandbox({ name: 'term', prefix, v4, v6, nodes: 3 });
  const { kubectl, eventually } = sandbox;
  const ipOf = async (svc: string): Promise<string> => (await kubectl('get', 'svc', svc, '-o', 'jsonpath={.status.loadBalancer.ingress[0].ip}')).stdout.trim();
  const curl = async (ip: string): Promise<{ code: number; stdout: string }> => sh('ip', ['netns', 'exec', client, 'curl', '-s', '-m', '2', `http://${ip}:8090/`], 5000);
  const owner = async (svc: string): Promise<string | undefined> => {
    const ip = await ipOf(svc);
    return ip === '' ? undefined : sandbox.announcer(svc, ip);
  };
  interface PodRow { name: string; node: string; ip: string; ready: boolean; terminating: boolean }
  const pods = async (app: string): Promise<PodRow[]> => {
    const out = JSON.parse((await kubectl('get', 'pods', '-l', `app=${app}`, '-o', 'json')).stdout) as { items: { metadata: { name: string; deletionTimestamp?: string }; spec: { nodeName?: string }; status: { podIP?: string; conditions?: { type: string; status: string }[] } }[] };
    return out.items.map((p) => ({ name: p.metadata.name, node: p.spec.nodeName ?? '', ip: p.status.podIP ?? '', ready: (p.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'), terminating: p.metadata.deletionTimestamp !== undefined }));
  };
  /** The conditions of each endpoint of a Service, by Pod name. */
  const endpoints = async (svc: string): Promise<Record<string, { ready: boolean; serving: boolean; terminating: boolean }>> => {
    const out = JSON.parse((await kubectl('get', 'endpointslices', '-l', `kubernetes.io/service-name=${svc}`, '-o', 'json')).stdout) as { items: { endpoints?: { targetRef?: { name: string }; conditions: { ready: boolean; serving: boolean; terminating: boolean } }[] }[] };
    return Object.fromEntries(out.items.flatMap((s) => s.endpoints ?? []).map((e) => [e.targetRef?.name ?? '', e.conditions]));
  };
  /** An HTTP GET to a Pod from its node's namespace, as the kubelet's probes reach it. */
  const podGet = async (p: PodRow) => sh('ip', ['netns', 'exec', `${prefix}-${p.node}`, 'curl', '-s', '-m', '2', `http://${p.ip}:8080/`], 5000);

  /** A Deployment of stand-ins that drain 30 s after SIGTERM, and its LoadBalancer Service. */
  const manifest = (name: string, replicas: number, policy: 'Cluster' | 'Local'): string => `apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}, namespace: default}
spec:
  replicas: ${String(replicas)}
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}}
    spec:
      terminationGracePeriodSeconds: 60
      containers:
      - name: web
        image: registry.example/drain:1.0
        env: [{name: IRONLB_DRAIN_SECONDS, value: "30"}]
        ports: [{name: http, containerPort: 8080}]
        readinessProbe: {httpGet: {path: /healthz, port: http}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: default}
spec:
  type: LoadBalancer
  externalTrafficPolicy: ${policy}
  selector: {app: ${name}}
  ports: [{name: http, port: 8090, targetPort: http, protocol: TCP}]
`;
  const apply = async (name: string, yaml: string): Promise<void> => {
    const file = join(sandbox.dir, `${name}.yaml`);
    await writeFile(file, yaml);
    expect((await kubectl('apply', '-f', file)).code).toBe(0);
    expect((await kubectl('rollout', 'status', `deployment/${name}`, '--timeout=90s')).code).toBe(0);
  };
  /** `n` answers from the LoadBalancer IP, each a new connection. */
  const answers = async (svc: string, n: number): Promise<string[]> => {
    const ip = await ipOf(svc);
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push((await curl(ip)).stdout.trim());
    return out;
  };

  it('Cluster: a Pod being deleted keeps draining but gets no new connections; the ready replacement takes them; then the kubelet removes it', async () => {
    await apply('drain', manifest('drain', 1, 'Cluster'));
    const [old] = await pods('drain');
    if (old === undefined) throw new Error('no drain Pod');
    await eventually('an answer from the Pod', async () => ((await answers('drain', 1))[0] === `${old.name} on ${old.node}` ? true : undefined));
    const deleted = await kubectl('delete', 'pod', old.name, '--wait=false');
    expect(deleted.code).toBe(0);
    const row = (await kubectl('get', 'pod', old.name)).stdout.split('\n')[1]?.split(/\s+/) ?? [];
    expect(row[2]).toBe('Terminating');
    const replacement = await eventually('a ready replacement', async () => (await pods('drain')).find((p) => !p.terminating && p.ready));
    const conditions = await eventually('the terminating endpoint beside the ready one', async () => {
      const e = await endpoints('drain');
      return e[old.name]?.terminating === true && e[replacement.name]?.ready === true ? e : undefined;
    });
    expect(conditions[old.name]).toEqual({ ready: false, serving: true, terminating: true });
    expect(conditions[replacement.name]).toEqual({ ready: true, serving: true, terminating: false });
    // the old Pod still serves (it drains for 30 s), yet every new connection goes to the replacement
    expect((await podGet(old)).stdout).toBe(`${old.name} on ${old.node}\n`);
    await eventually('new connections on the replacement only', async () => {
      const got = await answers('drain', 6);
      return got.every((a) => a === `${replacement.name} on ${replacement.node}`) ? got : undefined;
    });
    expect((await podGet(old)).stdout).toBe(`${old.name} on ${old.node}\n`);
    // the kubelet removes the Pod once its container has exited (after the 30 s drain)
    await eventually('the old Pod gone', async () => ((await kubectl('get', 'pod', old.name)).code !== 0 ? true : undefined), 45_000);
    expect((await pods('drain')).map((p) => p.name)).toEqual([replacement.name]);
    expect(Object.keys(await endpoints('drain'))).toEqual([replacement.name]);
  }, 150_000);

  it('probes: exec runs in the container (its network namespace and env), a startup probe gates readiness and restarts on failure, grpc is reported', async () => {
    const probePod = (name: string, probes: string): string => `apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: default, labels: {app: probes}}
spec:
  containers:
  - name: web
    image: registry.example/probes:1.0
    env: [{name: MARK, value: "from-the-pod"}]
    ports: [{name: http, containerPort: 8080}]
${probes}
`;
    // 127.0.0.1:8080 is the stand-in only inside the Pod's network namespace; MARK only in its env
    const healthy = 'test "$MARK" = from-the-pod && curl -sf -m 1 http://127.0.0.1:8080/healthz';
    const execOk = probePod('exec-ok', `    startupProbe: {exec: {command: [sh, -c, '${healthy}']}, periodSeconds: 1, timeoutSeconds: 5, failureThreshold: 30}
    readinessProbe: {exec: {command: [sh, -c, '${healthy}']}, periodSeconds: 1, timeoutSeconds: 5, failureThreshold: 1}`);
    const neverStarts = probePod('never-starts', `    startupProbe: {exec: {command: [sh, -c, 'exit 3']}, periodSeconds: 1, failureThreshold: 2}
    readinessProbe: {tcpSocket: {port: http}, periodSeconds: 1}`);
    const grpc = probePod('grpc', `    readinessProbe: {grpc: {port: 8080}, periodSeconds: 1}`);
    for (const [name, yaml] of [['exec-ok', execOk], ['never-starts', neverStarts], ['grpc', grpc]] as const) {
      const file = join(sandbox.dir, `${name}.yaml`);
      await writeFile(file, yaml);
      expect((await kubectl('apply', '-f', file)).code).toBe(0);
    }
    const ok = await eventually('exec-ok Ready', async () => (await pods('probes')).find((p) => p.name === 'exec-ok' && p.ready), 60_000);
    // the exec readiness probe follows the container's own /healthz
    await sh('ip', ['netns', 'exec', `${prefix}-${ok.node}`, 'curl', '-s', '-m', '2', `http://${ok.ip}:8080/standin/fail`], 5000);
    await eventually('exec-ok unready', async () => ((await pods('probes')).find((p) => p.name === 'exec-ok')?.ready === false ? true : undefined));
    const restarts = async (name: string): Promise<{ restarts: number; started: boolean; ready: boolean }> => {
      const pod = JSON.parse((await kubectl('get', 'pod', name, '-o', 'json')).stdout) as { status: { containerStatuses?: { restartCount: number; started?: boolean; ready: boolean }[] } };
      const c = pod.status.containerStatuses?.[0];
      return { restarts: c?.restartCount ?? 0, started: c?.started ?? false, ready: c?.ready ?? false };
    };
    const failing = await eventually('never-starts restarted by its startup probe', async () => {
      const r = await restarts('never-starts');
      return r.restarts >= 1 ? r : undefined;
    }, 60_000);
    expect(failing.ready).toBe(false);
    const events = (await kubectl('get', 'events', '--field-selector', 'involvedObject.name=never-starts', '-o', 'jsonpath={.items[*].message}')).stdout;
    expect(events).toContain('Container web failed startup probe, will be restarted');
    const grpcEvents = await eventually('the grpc Event', async () => {
      const out = (await kubectl('get', 'events', '--field-selector', 'involvedObject.name=grpc', '-o', 'jsonpath={.items[*].reason}: {.items[*].message}')).stdout;
      return out.includes('ProbeNotSupported') ? out : undefined;
    });
    expect(grpcEvents).toContain('gRPC probes are not supported by the ironlb sandbox kubelet; the container never becomes ready');
    expect((await restarts('grpc')).ready).toBe(false);
    expect((await kubectl('delete', 'pod', 'exec-ok', 'never-starts', 'grpc', '--wait=false')).code).toBe(0);
  }, 150_000);

  it('Local: a node whose only Pod is terminating stops announcing; the IP goes to a node with a ready Pod', async () => {
    await apply('local', manifest('local', 2, 'Local'));
    const before = await eventually('an announcing node', () => owner('local'));
    const victim = (await pods('local')).find((p) => p.node === before);
    if (victim === undefined) throw new Error(`no Pod on ${before}`);
    // cordoned, so that the replacement lands elsewhere and the victim's node keeps nothing but the terminating Pod
    expect((await kubectl('cordon', before)).code).toBe(0);
    expect((await kubectl('delete', 'pod', victim.name, '--wait=false')).code).toBe(0);
    // While the victim drains, every new connection reaches a ready Pod on the announcing node:
    // the IP left the node with nothing but the terminating Pod (its kube-proxy would fall back to it).
    const settled = await eventually('answers from ready Pods on the announcing node', async () => {
      const o = await owner('local');
      const ready = (await pods('local')).filter((p) => p.ready && !p.terminating && p.node === o);
      if (o === undefined || ready.length === 0) return undefined;
      const a = await answers('local', 4);
      return a.every((line) => ready.some((p) => line === `${p.name} on ${p.node}`)) ? { owner: o, answers: a } : undefined;
    });
    expect(settled.owner).not.toBe(before);
    expect(settled.answers.some((line) => line.startsWith(victim.name))).toBe(false);
    expect((await podGet(victim)).stdout).toBe(`${victim.name} on ${victim.node}\n`);
    expect((await pods('local')).find((p) => p.name === victim.name)?.terminating).toBe(true);
    expect((await kubectl('uncordon', before)).code).toBe(0);
  }, 120_000);
});
