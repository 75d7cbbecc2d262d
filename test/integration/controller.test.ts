import * as k8s from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { writeKubeconfig } from '../../src/sandbox/apiserver/kubeconfig.js';
import { startTestApiServer, type TestApiServer } from '../helpers/apiserver.js';
import { runCli } from '../helpers/cli.js';
import { startControllerProcess, type ControllerProcess } from '../helpers/controller-process.js';
import { waitFor } from '../helpers/wait.js';

const ns = 'ironlb-system';
const twoPools = `address-pools:
- name: default
  protocol: layer2
  addresses: [10.20.0.10-10.20.0.19, "fd00:20::10-fd00:20::19"]
- name: reserved
  protocol: layer2
  auto-assign: false
  addresses: [10.20.1.0/30]
`;

interface Env {
  api: TestApiServer;
  core: k8s.CoreV1Api;
  controllers: ControllerProcess[];
}

let env: Env | undefined;

async function setup(config: string, users?: ReadonlyMap<string, string>): Promise<Env> {
  const api = await startTestApiServer(users === undefined ? {} : { users });
  const core = api.kubeConfig().makeApiClient(k8s.CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: ns } } });
  await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'config' }, data: { config } } });
  env = { api, core, controllers: [] };
  return env;
}

async function startController(e: Env, kubeconfig = e.api.kubeconfigPath, extra: readonly string[] = []): Promise<ControllerProcess> {
  const c = startControllerProcess(kubeconfig, extra);
  e.controllers.push(c);
  await c.waitForEvent('configLoaded');
  return c;
}

afterEach(async () => {
  if (env === undefined) return;
  for (const c of env.controllers) await c.stop('SIGKILL');
  await env.api.close();
  env = undefined;
});

function lb(name: string, opts: { annotations?: Record<string, string>; spec?: Partial<k8s.V1ServiceSpec> } = {}): k8s.V1Service {
  return { metadata: { name, ...(opts.annotations === undefined ? {} : { annotations: opts.annotations }) }, spec: { type: 'LoadBalancer', ports: [{ port: 80, protocol: 'TCP' }], selector: { app: name }, ...opts.spec } };
}

async function ipsOf(e: Env, name: string): Promise<string[]> {
  const svc = await e.core.readNamespacedService({ name, namespace: 'default' });
  return (svc.status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? '');
}

async function waitDefined<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  return waitFor(what, probe, (v): v is T => v !== undefined, { timeoutMs });
}

async function waitIps(e: Env, name: string, count = 1): Promise<string[]> {
  return waitDefined(`${String(count)} IP(s) on ${name}`, async () => {
    const ips = await ipsOf(e, name);
    return ips.length === count ? ips : undefined;
  });
}

async function eventsOf(e: Env, name: string, namespace = 'default'): Promise<string[]> {
  const list = await e.core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${name}` });
  return list.items.map((ev) => `${ev.type ?? ''} ${ev.reason ?? ''}: ${ev.message ?? ''}`);
}

async function waitEvent(e: Env, name: string, pattern: RegExp, namespace = 'default'): Promise<string> {
  return waitDefined(`an Event ${String(pattern)} on ${name}`, async () => (await eventsOf(e, name, namespace)).find((m) => pattern.test(m)));
}

async function setConfig(e: Env, config: string): Promise<void> {
  await e.core.patchNamespacedConfigMap({ name: 'config', namespace: ns, body: { data: { config } } }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch));
}

/** Waits a little and checks that nothing changed: the controller had every chance to act. */
async function settle(): Promise<void> {
  await new Promise((r) => setTimeout(r, 700));
}

describe('ironlb controller against the sandbox API server', () => {
  it('allocates IPv4, IPv6 and dual-stack addresses and says so in an Event', async () => {
    const e = await setup(twoPools);
    await startController(e);
    await e.core.createNamespacedService({ namespace: 'default', body: lb('v4') });
    await e.core.createNamespacedService({ namespace: 'default', body: lb('v6', { spec: { ipFamilies: ['IPv6'], ipFamilyPolicy: 'SingleStack' } }) });
    await e.core.createNamespacedService({ namespace: 'default', body: lb('dual', { spec: { ipFamilies: ['IPv4', 'IPv6'], ipFamilyPolicy: 'RequireDualStack' } }) });
    expect(await waitIps(e, 'v4')).toEqual(['10.20.0.10']);
    expect(await waitIps(e, 'v6')).toEqual(['fd00:20::10']);
    expect(await waitIps(e, 'dual', 2)).toEqual(['10.20.0.11', 'fd00:20::11']);
    expect(await waitEvent(e, 'dual', /IPAllocated/)).toBe('Normal IPAllocated: Assigned IP [10.20.0.11 fd00:20::11] from pool default');
  });

  it('honours requested IPs and the pool annotation; refuses an IP outside every pool with a Warning and no status', async () => {
    const e = await setup(twoPools);
    await startController(e);
    await e.core.createNamespacedService({ namespace: 'default', body: lb('asked', { annotations: { 'ironlb.io/loadBalancerIPs': '10.20.0.13' } }) });
    await e.core.createNamespacedService({ namespace: 'default', body: lb('legacy', { spec: { loadBalancerIP: '10.20.0.12' } }) });
    await e.core.createNamespacedService({ namespace: 'default', body: lb('pooled', { annotations: { 'metallb.universe.tf/address-pool': 'reserved' } }) });
    await e.core.createNamespacedService({ namespace: 'default', body: lb('outside', { annotations: { 'ironlb.io/loadBalancerIPs': '192.0.2.1' } }) });
    expect(await waitIps(e, 'asked')).toEqual(['10.20.0.13']);
    expect(await waitIps(e, 'legacy')).toEqual(['10.20.0.12']);
    expect(await waitIps(e, 'pooled')).toEqual(['10.20.1.0']);
    expect(await waitEvent(e, 'outside', /AllocationFailed/)).toContain('192.0.2.1 is not in any pool');
    expect(await ipsOf(e, 'outside')).toEqual([]);
  });

  it('shares an IP under one allow-shared-ip key when ports differ, and refuses a port clash', async () => {
    const e = await setup(twoPools);
    await startController(e);
    const shared = { 'ironlb.io/allow-shared-ip': 'dns' };
    await e.core.createNamespacedService({ namespace: 'default', body: lb('dns-tcp', { annotations: shared, spec: { ports: [{ port: 53, protocol: 'TCP' }] } }) });
    const [ip] = await waitIps(e, 'dns-tcp');
    await e.core.createNamespacedService({ namespace: 'default', body: lb('dns-udp', { annotations: { ...shared, 'ironlb.io/loadBalancerIPs': ip ?? '' }, spec: { ports: [{ port: 53, protocol: 'UDP' }] } }) });
    expect(await waitIps(e, 'dns-udp')).toEqual([ip]);
    await e.core.createNamespacedService({ namespace: 'default', body: lb('clash', { annotations: { ...shared, 'ironlb.io/loadBalancerIPs': ip ?? '' }, spec: { ports: [{ port: 53, protocol: 'TCP' }] } }) });
    expect(await waitEvent(e, 'clash', /AllocationFailed/)).toContain('port 53/TCP already in use');
  });

  it('reports an exhausted pool once, and serves the waiting Service when the pool grows or an IP is freed', async () => {
    const e = await setup('address-pools:\n- {name: small, protocol: layer2, addresses: [10.30.0.1-10.30.0.2]}\n');
    await startController(e);
    for (const name of ['a', 'b', 'c']) await e.core.createNamespacedService({ namespace: 'default', body: lb(name) });
    await waitIps(e, 'a');
    await waitIps(e, 'b');
    expect(await waitEvent(e, 'c', /AllocationFailed/)).toContain('no available IPs');
    await settle();
    expect((await eventsOf(e, 'c')).filter((m) => m.includes('AllocationFailed'))).toHaveLength(1);
    await setConfig(e, 'address-pools:\n- {name: small, protocol: layer2, addresses: [10.30.0.1-10.30.0.3]}\n');
    expect(await waitIps(e, 'c')).toEqual(['10.30.0.3']);
    await e.core.createNamespacedService({ namespace: 'default', body: lb('d') });
    await waitEvent(e, 'd', /AllocationFailed/);
    await e.core.deleteNamespacedService({ name: 'a', namespace: 'default' });
    expect(await waitIps(e, 'd')).toEqual(['10.30.0.1']);
  });

  it('releases and clears the IP when a Service stops being a LoadBalancer, and leaves foreign classes alone', async () => {
    const e = await setup(twoPools);
    await startController(e);
    await e.core.createNamespacedService({ namespace: 'default', body: lb('changing') });
    const [ip] = await waitIps(e, 'changing');
    const merge = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
    await e.core.patchNamespacedService({ name: 'changing', namespace: 'default', body: { spec: { type: 'ClusterIP' } } }, merge);
    await waitDefined('ingress cleared', async () => ((await ipsOf(e, 'changing')).length === 0 ? true : undefined));
    expect(await waitEvent(e, 'changing', /IPReleased/)).toBe(`Normal IPReleased: Released IP [${ip ?? ''}]: the Service is no longer of type LoadBalancer`);
    await e.core.createNamespacedService({ namespace: 'default', body: lb('foreign', { spec: { loadBalancerClass: 'example.com/other' } }) });
    await e.core.createNamespacedService({ namespace: 'default', body: lb('classed', { spec: { loadBalancerClass: 'ironlb.io/layer2' } }) });
    expect(await waitIps(e, 'classed')).toEqual([ip]);
    await settle();
    expect(await ipsOf(e, 'foreign')).toEqual([]);
    expect(await eventsOf(e, 'foreign')).toEqual([]);
  });

  it('keeps the last good config when a new one is invalid or would orphan an IP, and says why on the ConfigMap', async () => {
    const e = await setup(twoPools);
    await startController(e);
    await e.core.createNamespacedService({ namespace: 'default', body: lb('holder') });
    const [ip] = await waitIps(e, 'holder');
    await setConfig(e, 'address-pools:\n- {name: x, protocol: bgp, addresses: [10.9.0.0/24]}\n');
    expect(await waitEvent(e, 'config', /ConfigInvalid/, ns)).toMatch(/Warning ConfigInvalid: invalid config: .*layer2/);
    await setConfig(e, 'address-pools:\n- {name: moved, protocol: layer2, addresses: [10.40.0.0/24]}\n');
    expect(await waitEvent(e, 'config', /ConfigRefused/, ns)).toContain('would orphan assigned IPs: default/holder');
    await e.core.createNamespacedService({ namespace: 'default', body: lb('later') });
    expect(await waitIps(e, 'later')).toEqual(['10.20.0.11']);
    expect(await ipsOf(e, 'holder')).toEqual([ip]);
  });

  it('keeps every IP across a SIGKILL and restart, and settles a duplicate claim in favour of the older Service', async () => {
    const e = await setup(twoPools);
    const first = await startController(e);
    for (let i = 0; i < 6; i += 1) await e.core.createNamespacedService({ namespace: 'default', body: lb(`s${String(i)}`) });
    const before = new Map<string, string[]>();
    for (let i = 0; i < 6; i += 1) before.set(`s${String(i)}`, await waitIps(e, `s${String(i)}`));
    await first.stop('SIGKILL');
    // While no controller runs: free s1's IP and give a new Service, by hand, the IP s0 holds.
    await e.core.deleteNamespacedService({ name: 's1', namespace: 'default' });
    before.delete('s1');
    await new Promise((r) => setTimeout(r, 1100)); // a later creationTimestamp than s0 (second resolution)
    const dup = await e.core.createNamespacedService({ namespace: 'default', body: lb('dup') });
    await e.core.replaceNamespacedServiceStatus({ name: 'dup', namespace: 'default', body: { ...dup, status: { loadBalancer: { ingress: [{ ip: before.get('s0')?.[0] ?? '' }] } } } });
    await startController(e);
    const [dupIp] = await waitDefined('dup moved off s0\'s IP', async () => {
      const ips = await ipsOf(e, 'dup');
      return ips.length === 1 && ips[0] !== before.get('s0')?.[0] ? ips : undefined;
    });
    for (const [name, ips] of before) expect(await ipsOf(e, name)).toEqual(ips);
    expect(dupIp).toBe('10.20.0.11'); // s1's freed address, the lowest free one
    expect(await waitEvent(e, 'dup', /AllocationFailed/)).toContain(`${before.get('s0')?.[0] ?? ''} is already in use by default/s0`);
  });

  it('keeps every IP when it restarts while the ConfigMap is missing, and assigns again once it is back', async () => {
    const e = await setup(twoPools);
    const first = await startController(e);
    for (const name of ['m0', 'm1', 'm2']) await e.core.createNamespacedService({ namespace: 'default', body: lb(name) });
    for (const name of ['m0', 'm1', 'm2']) await waitIps(e, name);
    await e.core.deleteNamespacedService({ name: 'm0', namespace: 'default' }); // frees the lowest address
    await first.stop('SIGKILL');
    const m1 = await ipsOf(e, 'm1');
    const m2 = await ipsOf(e, 'm2');
    await e.core.deleteNamespacedConfigMap({ name: 'config', namespace: ns });
    const second = startControllerProcess(e.api.kubeconfigPath);
    e.controllers.push(second);
    await second.waitForEvent('configMissing');
    await e.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'config' }, data: { config: twoPools } } });
    await second.waitForEvent('configLoaded');
    await e.core.createNamespacedService({ namespace: 'default', body: lb('m3') });
    expect(await waitIps(e, 'm3')).toEqual(['10.20.0.10']);
    expect(await ipsOf(e, 'm1')).toEqual(m1);
    expect(await ipsOf(e, 'm2')).toEqual(m2);
  });

  it('is not ready without a config, then serves /readyz, /healthz and the per-pool, failure and latency metrics', async () => {
    const e = await setup(twoPools);
    await e.core.deleteNamespacedConfigMap({ name: 'config', namespace: ns });
    const c = startControllerProcess(e.api.kubeconfigPath);
    e.controllers.push(c);
    const { port } = await c.waitForEvent('obsListening');
    const get = async (path: string): Promise<{ status: number; text: string }> => {
      const res = await fetch(`http://127.0.0.1:${String(port)}${path}`);
      return { status: res.status, text: await res.text() };
    };
    await c.waitForEvent('configMissing');
    const notReady = await get('/readyz');
    expect(notReady.status).toBe(503);
    expect(notReady.text).toContain('ironlb-system/config');
    expect((await get('/healthz')).status).toBe(200);
    await e.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'config' }, data: { config: twoPools } } });
    await c.waitForEvent('configLoaded');
    expect((await get('/readyz')).status).toBe(200);
    await e.core.createNamespacedService({ namespace: 'default', body: lb('dual', { spec: { ipFamilies: ['IPv4', 'IPv6'], ipFamilyPolicy: 'RequireDualStack' } }) });
    await e.core.createNamespacedService({ namespace: 'default', body: lb('outside', { annotations: { 'ironlb.io/loadBalancerIPs': '192.0.2.1' } }) });
    await waitIps(e, 'dual', 2);
    await waitEvent(e, 'outside', /AllocationFailed/);
    const metrics = (await get('/metrics')).text;
    expect(metrics).toMatch(/^ironlb_addresses_in_use\{pool="default"\} 2$/m);
    expect(metrics).toMatch(/^ironlb_addresses_total\{pool="default"\} 20$/m);
    expect(metrics).toMatch(/^ironlb_addresses_total\{pool="reserved"\} 4$/m);
    expect(metrics).toMatch(/^ironlb_allocation_failures_total\{reason="notInPool"\} [1-9]/m);
    expect(metrics).toMatch(/^ironlb_controller_reconcile_duration_seconds_count\{result="ok"\} [1-9]/m);
    expect(metrics).toMatch(/^ironlb_config_loaded 1$/m);
    expect(metrics).toMatch(/^ironlb_config_stale 0$/m);
    expect(metrics).toMatch(/^ironlb_controller_leader 1$/m);
  });

  it('lets only the leader write; the standby takes over when the leader is killed', async () => {
    const e = await setup(twoPools, new Map([['token-a', 'ctl-a'], ['token-b', 'ctl-b']]));
    const dir = e.api.kubeconfigPath.replace(/kubeconfig$/, '');
    await writeKubeconfig(`${dir}a.kubeconfig`, e.api.url, 'token-a', e.api.cert?.cert);
    await writeKubeconfig(`${dir}b.kubeconfig`, e.api.url, 'token-b', e.api.cert?.cert);
    const a = await startController(e, `${dir}a.kubeconfig`, ['--pod-name', 'ctl-a']);
    const b = startControllerProcess(`${dir}b.kubeconfig`, ['--pod-name', 'ctl-b']);
    e.controllers.push(b);
    await b.waitForEvent('cachesSynced');
    for (let i = 0; i < 5; i += 1) await e.core.createNamespacedService({ namespace: 'default', body: lb(`x${String(i)}`) });
    for (let i = 0; i < 5; i += 1) await waitIps(e, `x${String(i)}`);
    const writers = (): Set<string> => new Set(e.api.server.requests.entries().filter((r) => r.subresource === 'status' && r.verb === 'patch').map((r) => r.user));
    expect(writers()).toEqual(new Set(['ctl-a']));
    await a.stop('SIGKILL');
    await b.waitForEvent('configLoaded');
    await e.core.createNamespacedService({ namespace: 'default', body: lb('after') });
    expect(await waitIps(e, 'after')).toEqual(['10.20.0.15']);
    expect(writers()).toEqual(new Set(['ctl-a', 'ctl-b']));
    for (let i = 0; i < 5; i += 1) expect(await ipsOf(e, `x${String(i)}`)).toHaveLength(1);
  });

  it('retries a status write that hits a 409 on a fresh version', async () => {
    const e = await setup(twoPools);
    await startController(e);
    e.api.server.faults.latencyMs = 150;
    const created = await e.core.createNamespacedService({ namespace: 'default', body: lb('busy') });
    // Keep changing the Service behind the controller's back (in-process, no latency) for a while.
    const store = e.api.server.store;
    for (let i = 0; i < 20; i += 1) {
      const cur = store.get('/services', 'default', 'busy');
      if (cur === undefined) break;
      const meta = cur.metadata as Record<string, unknown>;
      meta.labels = { bump: String(i) };
      store.update('/services', cur);
      await new Promise((r) => setTimeout(r, 40));
    }
    e.api.server.faults.latencyMs = 0;
    expect(await waitIps(e, 'busy')).toEqual(['10.20.0.10']);
    const conflicts = e.api.server.requests.entries().filter((r) => r.subresource === 'status' && r.code === 409);
    expect(conflicts.length).toBeGreaterThan(0);
    expect(created.metadata?.name).toBe('busy');
  });

  it('makes no API requests but its Lease renewals while nothing changes, and releases the Lease on SIGTERM', async () => {
    const e = await setup(twoPools);
    const c = await startController(e);
    for (let i = 0; i < 3; i += 1) await e.core.createNamespacedService({ namespace: 'default', body: lb(`q${String(i)}`) });
    for (let i = 0; i < 3; i += 1) await waitIps(e, `q${String(i)}`);
    await settle();
    e.api.server.requests.reset();
    await new Promise((r) => setTimeout(r, 2000));
    const calls = e.api.server.requests.entries().filter((r) => r.resource !== 'leases').map((r) => `${r.verb} ${r.resource}`);
    expect(calls).toEqual([]);
    expect(await c.stop('SIGTERM')).toBe(0);
    const coord = e.api.kubeConfig().makeApiClient(k8s.CoordinationV1Api);
    const lease = await coord.readNamespacedLease({ name: 'ironlb-controller', namespace: ns });
    expect(lease.spec?.holderIdentity ?? '').toBe('');
  });

  it('turns every malformed annotation into a Warning Event on that Service only', async () => {
    const e = await setup(twoPools);
    await startController(e);
    await e.core.createNamespacedService({ namespace: 'default', body: lb('good') });
    const [goodIp] = await waitIps(e, 'good');
    const bad: Record<string, Record<string, string>> = {
      'bad-ip': { 'ironlb.io/loadBalancerIPs': '10.20.0.300' },
      'three-ips': { 'ironlb.io/loadBalancerIPs': '10.20.0.15,10.20.0.16,fd00:20::15' },
      'wrong-family': { 'ironlb.io/loadBalancerIPs': 'fd00:20::15' },
      'unknown-pool': { 'ironlb.io/address-pool': 'nope' },
      'empty-key': { 'ironlb.io/allow-shared-ip': ' ' },
      'huge': { 'ironlb.io/allow-shared-ip': 'k'.repeat(5000) },
      'aliases-differ': { 'ironlb.io/address-pool': 'default', 'metallb.universe.tf/address-pool': 'reserved' },
    };
    for (const [name, annotations] of Object.entries(bad)) {
      const spec: Partial<k8s.V1ServiceSpec> = name === 'wrong-family' ? { ipFamilies: ['IPv4'], ipFamilyPolicy: 'SingleStack' } : {};
      await e.core.createNamespacedService({ namespace: 'default', body: lb(name, { annotations, spec }) });
    }
    const wants: Record<string, RegExp> = {
      'bad-ip': /ironlb\.io\/loadBalancerIPs/,
      'three-ips': /ironlb\.io\/loadBalancerIPs/,
      'wrong-family': /IPv6|family|fd00:20::15/,
      'unknown-pool': /pool "nope" does not exist/,
      'empty-key': /ironlb\.io\/allow-shared-ip/,
      'huge': /ironlb\.io\/allow-shared-ip/,
      'aliases-differ': /address-pool/,
    };
    for (const [name, pattern] of Object.entries(wants)) {
      const event = await waitEvent(e, name, /AllocationFailed/);
      expect(event, name).toMatch(pattern);
      expect(event.length).toBeLessThan(1100);
      expect(await ipsOf(e, name)).toEqual([]);
    }
    await settle();
    expect(await ipsOf(e, 'good')).toEqual([goodIp]);
    expect((await eventsOf(e, 'good')).filter((m) => !m.includes('IPAllocated'))).toEqual([]);
    const writes = e.api.server.requests.entries().filter((r) => r.subresource === 'status').map((r) => r.name);
    expect(new Set(writes)).toEqual(new Set(['good']));
  });
});

describe('ironlb controller usage', () => {
  it.each([
    { name: 'a renew deadline not shorter than the Lease', args: ['--lease-duration', '10', '--renew-deadline', '10'], want: /^ironlb controller: --renew-deadline \(10 s\) must be shorter than --lease-duration \(10 s\)/ },
    { name: 'a retry period not shorter than the renew deadline', args: ['--renew-deadline', '2', '--retry-period', '3'], want: /--retry-period \(3 s\) must be shorter than --renew-deadline \(2 s\)/ },
    { name: 'a metrics port out of range', args: ['--metrics-port', '70000'], want: /--metrics-port: 70000 is above the maximum 65535/ },
  ])('refuses $name with exit 2 and one line', async ({ args, want }) => {
    const r = await runCli(['controller', '--kubeconfig', '/nonexistent', ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(want);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('names the kubeconfig it cannot load, exit 1, no stack trace', async () => {
    const r = await runCli(['controller', '--kubeconfig', '/nonexistent/kubeconfig']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('/nonexistent/kubeconfig');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
