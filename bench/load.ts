import { spawn, type ChildProcess } from 'node:child_process';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { pino } from 'pino';
import { leaseWriter } from '../src/k8s/lease-api.js';
import { NodeLease } from '../src/k8s/node-lease.js';
import { writeKubeconfig } from '../src/sandbox/apiserver/kubeconfig.js';
import type { JsonObject } from '../src/sandbox/apiserver/object.js';
import { speakerNodeFlags } from '../src/speaker/runtime.js';
import { systemClock } from '../src/sys/clock.js';
import { startTestApiServer } from '../test/helpers/apiserver.js';
import { cliPath } from '../test/helpers/cli.js';
import { startControllerProcess } from '../test/helpers/controller-process.js';
import type { BenchContext, BenchResult, BenchSuite } from './types.js';

const ns = 'ironlb-system';
const services = 10_000;
const nodes = 100;
/** Real `ironlb speaker --no-announce` processes; the other Leases are renewed by the speaker's own NodeLease code in this process. */
const realSpeakers = 3;
const windowMs = 20_000;

async function until(cond: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('load bench: timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
}

function served(obj: JsonObject): boolean {
  return ((obj.status as { loadBalancer?: { ingress?: unknown[] } } | undefined)?.loadBalancer?.ingress?.length ?? 0) > 0;
}

const round2 = (n: number): number => Math.round(n * 100) / 100;

/**
 * API requests per second at steady state (issue 8): 10,000 Services with IPs, one controller
 * process, 100 node Leases (3 real speakers in --no-announce mode, 97 renewed by NodeLease, the
 * speaker's own renewal code, in this process), all against the sandbox API server over HTTPS.
 * After everything settled, the request log is reset and counted over 20 s, per user.
 */
async function measure(ctx: BenchContext): Promise<BenchResult[]> {
  const users = new Map<string, string>([['ctl', 'controller']]);
  for (let i = 1; i <= nodes; i += 1) users.set(`spk-${String(i)}`, `speaker-${String(i)}`);
  const api = await startTestApiServer({ users, eventLogSize: 20_000 });
  const children: ChildProcess[] = [];
  const stop = new AbortController();
  const leases: Promise<void>[] = [];
  try {
    const core = api.kubeConfig().makeApiClient(k8s.CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: ns } } });
    await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'config' }, data: { config: 'address-pools:\n- {name: load, protocol: layer2, addresses: [10.128.0.0/16]}\n' } } });
    for (let i = 1; i <= nodes; i += 1) api.server.store.create('/nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: `node-${String(i)}` }, status: { conditions: [{ type: 'Ready', status: 'True' }] } });
    for (let i = 0; i < services; i += 1) {
      api.server.store.create('/services', { apiVersion: 'v1', kind: 'Service', metadata: { name: `s${String(i)}`, namespace: 'default' }, spec: { type: 'LoadBalancer', ports: [{ port: 80, protocol: 'TCP' }] } });
    }
    const dir = api.kubeconfigPath.replace(/kubeconfig$/, '');
    const kubeconfig = async (token: string): Promise<string> => {
      const path = join(dir, `${token}.kubeconfig`);
      await writeKubeconfig(path, api.url, token, api.cert?.cert);
      return path;
    };
    // client-go's leader-election timings (the test helper's fast ones would dominate the count).
    const controller = startControllerProcess(await kubeconfig('ctl'), ['--log-level', 'warn', '--lease-duration', '15', '--renew-deadline', '10', '--retry-period', '2']);
    children.push(controller.child);
    await until(() => api.server.store.list('/services', 'default').every(served), 180_000);
    ctx.log(`load: ${String(services)} Services served`);
    for (let i = 1; i <= realSpeakers; i += 1) {
      const args = [...speakerNodeFlags, cliPath, 'speaker', '--node-name', `node-${String(i)}`, '--kubeconfig', await kubeconfig(`spk-${String(i)}`), '--no-announce', '--metrics-port', '0', '--log-level', 'warn'];
      children.push(spawn(process.execPath, args, { stdio: 'ignore' }));
    }
    for (let i = realSpeakers + 1; i <= nodes; i += 1) {
      const kc = api.kubeConfig(`spk-${String(i)}`);
      const lease = new NodeLease({
        writer: leaseWriter(kc.makeApiClient(k8s.CoordinationV1Api), ns),
        name: `ironlb-speaker-node-${String(i)}`,
        identity: `node-${String(i)}`,
        durationMs: 3000,
        renewMs: 1000,
        recordAnnotation: 'ironlb.io/announcing',
        clock: systemClock,
        logger: pino({ level: 'silent' }),
      });
      leases.push(lease.run(stop.signal));
    }
    await until(() => api.server.store.list('coordination.k8s.io/leases', ns).length >= nodes + 1, 60_000);
    await new Promise((r) => setTimeout(r, 10_000)); // informers synced, first elections done
    // The controller's 10,000 IPAllocated Events drain in the background: steady state starts
    // when a 3 s window holds no Event write.
    for (let waited = 0; waited < 300_000; waited += 3000) {
      api.server.requests.reset();
      await new Promise((r) => setTimeout(r, 3000));
      if (!api.server.requests.entries().some((r) => r.resource === 'events')) break;
    }
    api.server.requests.reset();
    await new Promise((r) => setTimeout(r, windowMs));
    const seconds = windowMs / 1000;
    const log = api.server.requests.entries();
    const rate = (f: (r: (typeof log)[number]) => boolean): number => log.filter(f).length / seconds;
    const controllerOther = rate((r) => r.user === 'controller' && r.resource !== 'leases');
    const controllerLease = rate((r) => r.user === 'controller' && r.resource === 'leases');
    const real = Array.from({ length: realSpeakers }, (_, i) => `speaker-${String(i + 1)}`);
    const speakerOther = rate((r) => real.includes(r.user) && r.resource !== 'leases') / realSpeakers;
    const speakerLease = rate((r) => real.includes(r.user) && r.resource === 'leases') / realSpeakers;
    const total = log.length / seconds;
    const byKey = new Map<string, number>();
    for (const r of log) if (!r.user.startsWith('speaker-') || real.includes(r.user)) byKey.set(`${r.user} ${r.verb} ${r.resource}`, (byKey.get(`${r.user} ${r.verb} ${r.resource}`) ?? 0) + 1);
    ctx.log(`load: requests in the window: ${JSON.stringify(Object.fromEntries(byKey))}`);
    ctx.log(`load: over ${String(seconds)} s: controller ${String(controllerOther)} rps besides ${String(controllerLease)} Lease rps; per real speaker ${String(speakerOther)} rps besides ${String(round2(speakerLease))} Lease rps; total ${String(round2(total))} rps`);
    return [
      { name: 'load.api_rps_steady.controller', value: round2(controllerOther), unit: 'rps', target: '<= 0' },
      { name: 'load.api_rps_steady.controller_lease', value: round2(controllerLease), unit: 'rps' },
      { name: 'load.api_rps_steady.per_speaker', value: round2(speakerOther), unit: 'rps', target: '<= 0 (besides its Lease)' },
      { name: 'load.api_rps_steady.per_speaker_lease', value: round2(speakerLease), unit: 'rps', target: '<= 1.1' },
      { name: 'load.api_rps_steady.total', value: round2(total), unit: 'rps' },
      // How busy the machine was: renewal rates below 1/s are CPU starvation, not fewer requests by design.
      { name: 'load.machine_loadavg_1m', value: round2(loadavg()[0] ?? 0), unit: 'processes' },
    ];
  } finally {
    stop.abort();
    await Promise.allSettled(leases);
    for (const c of children) c.kill('SIGKILL');
    await api.close();
  }
}

const notes = `
10,000 Services holding IPs, one \`ironlb controller\` process, 100 node Leases: 3 real
\`ironlb speaker --no-announce\` processes (each watching all 10,000 Services and electing) and
97 Leases renewed in the bench process by \`NodeLease\`, the speaker's own renewal code (100
real speaker processes do not fit on 2 cores). Counted per API user over 20 s after 10 s of
settling and once the controller's backlog of IPAllocated Events has drained (no Event write
for 3 s). The controller's leader Lease renewals (client-go's 2 s retry period: a GET and a PUT)
are reported apart from its other requests; a speaker renews with one PUT per second, and fewer
when the machine is saturated (the speakers' renewals are the first thing a 2-core machine
running all of this at once delays).
`;

/** `npm run bench -- --only load`. */
export const loadSuite: BenchSuite & { readonly notes: string } = {
  name: 'load',
  notes,
  needsRoot: false,
  run: measure,
};
