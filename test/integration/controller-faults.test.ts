import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { authorizerFromManifests } from '../../src/sandbox/apiserver/rbac.js';
import { writeKubeconfig } from '../../src/sandbox/apiserver/kubeconfig.js';
import { startTestApiServer, type TestApiServer, type TestApiServerOptions } from '../helpers/apiserver.js';
import { repoRoot } from '../helpers/cli.js';
import { startControllerProcess, type ControllerProcess } from '../helpers/controller-process.js';

const ns = 'ironlb-system';
const pools = 'address-pools:\n- {name: default, protocol: layer2, addresses: [10.50.0.0/22]}\n';
const merge = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

interface Env {
  api: TestApiServer;
  core: k8s.CoreV1Api;
  controllers: ControllerProcess[];
  dir: string;
}
let env: Env | undefined;

async function setup(options: TestApiServerOptions = {}): Promise<Env> {
  const dir = await mkdtemp(join(tmpdir(), 'ironlb-faults-'));
  const api = await startTestApiServer({ statePath: join(dir, 'state.json'), ...options });
  const core = api.kubeConfig().makeApiClient(k8s.CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: ns } } });
  await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'config' }, data: { config: pools } } });
  env = { api, core, controllers: [], dir };
  return env;
}

afterEach(async () => {
  if (env === undefined) return;
  for (const c of env.controllers) await c.stop('SIGKILL');
  await env.api.close();
  await rm(env.dir, { recursive: true, force: true });
  env = undefined;
});

function startController(e: Env, kubeconfig = e.api.kubeconfigPath): ControllerProcess {
  const c = startControllerProcess(kubeconfig, ['--log-level', 'info']);
  e.controllers.push(c);
  return c;
}

const lb = (name: string, annotations: Record<string, string> = {}): k8s.V1Service => ({
  metadata: { name, annotations },
  spec: { type: 'LoadBalancer', ports: [{ port: 80, protocol: 'TCP' }], selector: { app: name } },
});

/** Every Service's ingress IPs, from the store (no API request, so faults do not get in the way). */
function ipsByService(e: Env): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const obj of e.api.server.store.list('/services', 'default')) {
    const name = (obj.metadata as { name: string }).name;
    const ingress = ((obj.status as { loadBalancer?: { ingress?: { ip: string }[] } } | undefined)?.loadBalancer?.ingress ?? []).map((i) => i.ip);
    out.set(name, ingress);
  }
  return out;
}

async function until(what: string, cond: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const allServed = (e: Env): boolean => [...ipsByService(e).values()].every((ips) => ips.length === 1);

function noDuplicates(e: Env): void {
  const seen = new Map<string, string>();
  for (const [name, ips] of ipsByService(e)) {
    for (const ip of ips) {
      expect(seen.get(ip), `${ip} held by ${name} and ${seen.get(ip) ?? ''}`).toBeUndefined();
      seen.set(ip, name);
    }
  }
}

async function retrying<T>(f: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i += 1) {
    try {
      return await f();
    } catch (err: unknown) {
      if (i > 50) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

describe('controller under API faults', () => {
  it('keeps every IP through cut watches, 410, 500 and 429 storms, 2 s latency and an API server restart', async () => {
    const e = await setup();
    startController(e);
    for (let i = 0; i < 20; i += 1) await e.core.createNamespacedService({ namespace: 'default', body: lb(`base${String(i)}`) });
    await until('20 Services served', () => allServed(e));
    const before = ipsByService(e);

    e.api.server.faults.closeWatches();
    e.api.server.faults.compact();
    await e.core.createNamespacedService({ namespace: 'default', body: lb('after-410') });
    await until('served after a 410', () => allServed(e));

    e.api.server.faults.fail = { code: 500, rate: 0.5 };
    await retrying(() => e.core.createNamespacedService({ namespace: 'default', body: lb('during-500') }));
    await new Promise((r) => setTimeout(r, 1500));
    e.api.server.faults.fail = { code: 429, rate: 1, verbs: ['patch', 'update'] };
    await e.core.createNamespacedService({ namespace: 'default', body: lb('during-429') });
    await new Promise((r) => setTimeout(r, 1000));
    e.api.server.faults.fail = undefined;
    await until('served after 500/429', () => allServed(e));

    e.api.server.faults.latencyMs = 2000;
    await e.core.createNamespacedService({ namespace: 'default', body: lb('slow') });
    await until('served with 2 s latency', () => allServed(e), 30_000);
    e.api.server.faults.latencyMs = 0;

    const { port, token, cert } = { port: e.api.server.port, token: e.api.token, cert: e.api.cert };
    await e.api.close();
    e.api = await startTestApiServer({ statePath: join(e.dir, 'state.json'), port, token, ...(cert === undefined ? {} : { cert }) });
    e.core = e.api.kubeConfig().makeApiClient(k8s.CoreV1Api);
    await retrying(() => e.core.createNamespacedService({ namespace: 'default', body: lb('after-restart') }));
    await until('served after the API server restart', () => allServed(e), 30_000);

    const after = ipsByService(e);
    for (const [name, ips] of before) expect(after.get(name), name).toEqual(ips);
    noDuplicates(e);
  }, 120_000);

  it('survives SIGKILLs at random moments during 10 rounds of churn over 500 Services, with no duplicate and no moved IP', async () => {
    const e = await setup();
    let controller = startController(e);
    const firstIp = new Map<string, string>(); // IP a Service first got; it must keep it unless its spec asked otherwise
    let next = 0;
    const live: string[] = [];
    const observe = (): void => {
      for (const [name, ips] of ipsByService(e)) if (ips[0] !== undefined && !firstIp.has(name)) firstIp.set(name, ips[0]);
    };
    for (let round = 0; round < 10; round += 1) {
      const killAt = 50 + Math.floor(Math.random() * 600);
      const killer = setTimeout(() => void controller.stop('SIGKILL'), killAt);
      const ops: Promise<unknown>[] = [];
      for (let i = 0; i < 50; i += 1) {
        const name = `churn${String(next++)}`;
        live.push(name);
        ops.push(e.core.createNamespacedService({ namespace: 'default', body: lb(name) }));
      }
      for (let i = 0; i < 15 && live.length > 60; i += 1) {
        const [gone] = live.splice(Math.floor(Math.random() * live.length), 1);
        if (gone !== undefined) ops.push(e.core.deleteNamespacedService({ name: gone, namespace: 'default' }));
      }
      for (let i = 0; i < 10; i += 1) {
        const name = live[Math.floor(Math.random() * (live.length - 50))];
        if (name === undefined) continue;
        // A sharing key of its own: the Service keeps its IP (no one else shares it).
        ops.push(e.core.patchNamespacedService({ name, namespace: 'default', body: { metadata: { annotations: { 'ironlb.io/allow-shared-ip': `k-${name}` } } } }, merge));
      }
      await Promise.all(ops);
      await new Promise((r) => setTimeout(r, killAt + 100));
      clearTimeout(killer);
      observe();
      await controller.stop('SIGKILL');
      controller = startController(e);
    }
    await until('every live Service served', () => allServed(e), 60_000);
    observe();
    expect(ipsByService(e).size).toBe(live.length);
    noDuplicates(e);
    // The only spec changes were sharing keys of their own, which keep an IP: no IP may move.
    for (const [name, ips] of ipsByService(e)) expect(ips[0], `${name} moved`).toBe(firstIp.get(name));
  }, 180_000);

  it('keeps the IPs and the last good config through 100 flaps between valid and invalid configs, and says so in metrics', async () => {
    const e = await setup();
    const c = startController(e);
    for (let i = 0; i < 10; i += 1) await e.core.createNamespacedService({ namespace: 'default', body: lb(`f${String(i)}`) });
    await until('10 Services served', () => allServed(e));
    const before = ipsByService(e);
    const bigger = 'address-pools:\n- {name: default, protocol: layer2, addresses: [10.50.0.0/21]}\n';
    for (let i = 0; i < 100; i += 1) {
      const config = i % 2 === 0 ? 'address-pools:\n- {name: default, protocol: bgp, addresses: [10.50.0.0/22]}\n' : i % 4 === 1 ? bigger : pools;
      await e.core.patchNamespacedConfigMap({ name: 'config', namespace: ns, body: { data: { config } } }, merge);
    }
    // The last write was valid; end on an invalid one to see the stale flag.
    await e.core.patchNamespacedConfigMap({ name: 'config', namespace: ns, body: { data: { config: 'address-pools: [' } } }, merge);
    const listening = await c.waitForEvent('obsListening');
    const metrics = async (): Promise<string> => (await fetch(`http://127.0.0.1:${String(listening.port)}/metrics`)).text();
    let text = await metrics();
    const deadline = Date.now() + 10_000;
    while (!/^ironlb_config_stale 1$/m.test(text) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      text = await metrics();
    }
    expect(text).toMatch(/^ironlb_config_stale 1$/m);
    expect(text).toMatch(/^ironlb_config_loaded 1$/m);
    await e.core.createNamespacedService({ namespace: 'default', body: lb('new-one') });
    await until('the new Service served from the last good config', () => allServed(e));
    const after = ipsByService(e);
    for (const [name, ips] of before) expect(after.get(name), name).toEqual(ips);
  }, 120_000);

  it('runs with exactly the RBAC of manifests/ironlb.yaml: no request of the controller is forbidden', async () => {
    const manifests = await readFile(join(repoRoot, 'manifests', 'ironlb.yaml'), 'utf8');
    const e = await setup({ authorizer: authorizerFromManifests(manifests), users: new Map([['ctl-token', 'system:serviceaccount:ironlb-system:controller']]) });
    const kubeconfig = join(e.dir, 'controller.kubeconfig');
    await writeKubeconfig(kubeconfig, e.api.url, 'ctl-token', e.api.cert?.cert);
    startController(e, kubeconfig);
    await e.core.createNamespacedService({ namespace: 'default', body: lb('rbac') });
    await until('served under RBAC', () => allServed(e));
    await e.core.deleteNamespacedService({ name: 'rbac', namespace: 'default' });
    await new Promise((r) => setTimeout(r, 500));
    const mine = e.api.server.requests.entries().filter((r) => r.user.endsWith(':controller'));
    expect(mine.length).toBeGreaterThan(0);
    expect(mine.filter((r) => r.code === 403).map((r) => `${r.verb} ${r.resource}/${r.subresource}`)).toEqual([]);
  });
});
