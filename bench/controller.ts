import { readFileSync } from 'node:fs';
import * as k8s from '@kubernetes/client-node';
import type { JsonObject } from '../src/sandbox/apiserver/object.js';
import { startTestApiServer, type TestApiServer } from '../test/helpers/apiserver.js';
import { startControllerProcess, type ControllerProcess } from '../test/helpers/controller-process.js';
import type { BenchContext, BenchResult, BenchSuite } from './types.js';

const ns = 'ironlb-system';

interface Rig {
  readonly api: TestApiServer;
  readonly controller: ControllerProcess;
  /** Service name -> performance.now() when its status first showed an IP. */
  readonly served: Map<string, number>;
  close(): Promise<void>;
}

function hasIngress(obj: JsonObject): boolean {
  const status = obj.status as { loadBalancer?: { ingress?: unknown[] } } | undefined;
  return (status?.loadBalancer?.ingress?.length ?? 0) > 0;
}

/** An API server with a /16 pool, a controller process, and an in-process watch on Service status. */
async function rig(): Promise<Rig> {
  const api = await startTestApiServer({ eventLogSize: 50_000 });
  const core = api.kubeConfig().makeApiClient(k8s.CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: ns } } });
  const config = 'address-pools:\n- {name: bench, protocol: layer2, addresses: [10.128.0.0/16]}\n';
  await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'config' }, data: { config } } });
  const served = new Map<string, number>();
  const watch = api.server.store.watch('/services', api.server.store.currentRv(), (e) => {
    const name = (e.object.metadata as { name?: string }).name ?? '';
    if (!served.has(name) && hasIngress(e.object)) served.set(name, performance.now());
  });
  if (watch.kind !== 'ok') throw new Error('bench: cannot watch the store');
  const controller = startControllerProcess(api.kubeconfigPath, ['--log-level', 'warn']);
  // With --log-level warn there is no configLoaded line: wait for the leader Lease instead.
  await waitUntil(() => api.server.store.get('coordination.k8s.io/leases', ns, 'ironlb-controller') !== undefined, 30_000);
  await new Promise((r) => setTimeout(r, 500));
  return {
    api,
    controller,
    served,
    async close() {
      watch.unsubscribe();
      await controller.stop('SIGKILL');
      await api.close();
    },
  };
}

async function waitUntil(cond: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error('bench: timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

function lbService(name: string): k8s.V1Service {
  return { metadata: { name }, spec: { type: 'LoadBalancer', ports: [{ port: 80, protocol: 'TCP' }], selector: { app: 'bench' } } };
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

function rssMb(pid: number | undefined): number {
  const status = readFileSync(`/proc/${String(pid)}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
  return Math.round(kb / 102.4) / 10;
}

/** 1,000 Services created one after another over HTTPS; per Service, create -> status with an IP. */
async function timeToIp(ctx: BenchContext): Promise<BenchResult[]> {
  const r = await rig();
  try {
    const core = r.api.kubeConfig().makeApiClient(k8s.CoreV1Api);
    const started = new Map<string, number>();
    for (let i = 0; i < 1000; i += 1) {
      const name = `t${String(i)}`;
      started.set(name, performance.now());
      await core.createNamespacedService({ namespace: 'default', body: lbService(name) });
    }
    await waitUntil(() => r.served.size >= 1000, 60_000);
    const byName = [...started].map(([name, t0]) => ({ name, ms: (r.served.get(name) ?? Number.NaN) - t0 }));
    const latencies = byName.map((x) => x.ms).sort((a, b) => a - b);
    // Where the tail is: a run of neighbours means a stall (GC, CPU taken by other processes), not per-Service work.
    const slowest = [...byName].sort((a, b) => b.ms - a.ms).slice(0, 12).map((x) => `${x.name} ${x.ms.toFixed(0)}`);
    ctx.log(`controller time_to_ip: slowest ${slowest.join(', ')} ms`);
    const p50 = percentile(latencies, 50);
    const p99 = percentile(latencies, 99);
    ctx.log(`controller time_to_ip: p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms over 1000 Services`);
    return [
      { name: 'controller.time_to_ip_ms.p50', value: Math.round(p50 * 10) / 10, unit: 'ms' },
      { name: 'controller.time_to_ip_ms.p99', value: Math.round(p99 * 10) / 10, unit: 'ms', target: '< 200' },
    ];
  } finally {
    await r.close();
  }
}

/** 10,000 Services appear at once (written straight into the store); time until all have IPs, and the controller's RSS then. */
async function converge(ctx: BenchContext): Promise<BenchResult[]> {
  const r = await rig();
  try {
    const t0 = performance.now();
    for (let i = 0; i < 10_000; i += 1) {
      const svc = lbService(`c${String(i)}`) as unknown as JsonObject;
      (svc.metadata as JsonObject).namespace = 'default';
      svc.apiVersion = 'v1';
      svc.kind = 'Service';
      r.api.server.store.create('/services', svc);
    }
    await waitUntil(() => r.served.size >= 10_000, 120_000);
    const seconds = (performance.now() - t0) / 1000;
    const rss = rssMb(r.controller.child.pid);
    ctx.log(`controller converge: 10000 Services in ${seconds.toFixed(2)} s, controller RSS ${rss.toFixed(1)} MB`);
    return [
      { name: 'controller.converge_10k_s', value: Math.round(seconds * 100) / 100, unit: 's', target: '< 60' },
      { name: 'controller.rss_mb', value: rss, unit: 'MB', target: '< 250' },
      await restart(r, ctx),
    ];
  } finally {
    await r.close();
  }
}

/**
 * A rolling restart with 10,000 Services assigned: SIGTERM (the Lease is released), a new
 * process, and one Service created at that moment. Measures the time until that Service has an
 * IP: caches synced, every assignment restored from status, then the new allocation. Fails if
 * the restart wrote any other status (a restart never changes an IP).
 */
async function restart(r: Rig, ctx: BenchContext): Promise<BenchResult> {
  await r.controller.stop('SIGTERM');
  r.api.server.requests.reset();
  const t0 = performance.now();
  const next = startControllerProcess(r.api.kubeconfigPath, ['--log-level', 'warn']);
  try {
    const svc = lbService('after-restart') as unknown as JsonObject;
    (svc.metadata as JsonObject).namespace = 'default';
    svc.apiVersion = 'v1';
    svc.kind = 'Service';
    r.api.server.store.create('/services', svc);
    await waitUntil(() => r.served.has('after-restart'), 120_000);
    const seconds = (performance.now() - t0) / 1000;
    const writes = r.api.server.requests.entries().filter((e) => e.subresource === 'status').map((e) => e.name);
    if (writes.length !== 1 || writes[0] !== 'after-restart') throw new Error(`bench: the restart wrote status ${String(writes.length)} times (${writes.slice(0, 5).join(', ')})`);
    ctx.log(`controller restart: a new Service served ${seconds.toFixed(2)} s after a restart with 10000 assigned Services, no other status written`);
    return { name: 'controller.restart_10k_s', value: Math.round(seconds * 100) / 100, unit: 's' };
  } finally {
    await next.stop('SIGKILL');
  }
}

/** Controller speed and memory against the sandbox API server (docs/controller.md). */
export const controllerSuite: BenchSuite = {
  name: 'controller',
  needsRoot: false,
  async run(ctx) {
    return [...(await timeToIp(ctx)), ...(await converge(ctx))];
  },
};
