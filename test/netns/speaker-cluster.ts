import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as k8s from '@kubernetes/client-node';
import { writeKubeconfig } from '../../src/sandbox/apiserver/kubeconfig.js';
import { createLan, destroyLan, lanLayout, type LanLayout, type LanPlan } from '../../src/sandbox/lan.js';
import { startTestApiServer, type TestApiServer } from '../helpers/apiserver.js';
import { inNetns, macOf } from '../helpers/lan-netns.js';
import { monitorNeighbours, type NeighbourMonitor } from '../helpers/neighbour-monitor.js';
import { speakerNodeFlags } from '../../src/speaker/runtime.js';
import { waitFor } from '../helpers/wait.js';

/**
 * A LAN of node namespaces with one `ironlb speaker` process per node, against a sandbox API
 * server on the host end of the LAN. Shared by test/netns/speaker.test.ts and bench/speaker.ts.
 */
export interface SpeakerCluster {
  readonly lan: LanLayout;
  /** The API server now (a restart replaces it). */
  readonly api: TestApiServer;
  readonly kc: k8s.KubeConfig;
  /** node name -> MAC of its LAN interface */
  readonly macs: ReadonlyMap<string, string>;
  /** node name -> running speaker */
  readonly speakers: Map<string, SpeakerProcess>;
  startSpeaker(node: string, extra?: readonly string[]): Promise<SpeakerProcess>;
  createService(name: string, ips: string | readonly string[], endpointNodes: readonly string[], policy?: 'Local' | 'Cluster'): Promise<void>;
  /** Replaces the config in the ConfigMap. */
  setConfig(yaml: string): Promise<void>;
  setEndpoints(name: string, endpointNodes: readonly string[]): Promise<void>;
  labelNode(node: string, labels: Record<string, string | null>): Promise<void>;
  /** node name -> IPs recorded on its Lease, alive Leases only. */
  records(): Promise<Map<string, string[]>>;
  /** MACs answering ARP for `ip` from the client namespace (arping, `count` probes). */
  arpMacs(ip: string, count?: number): Promise<string[]>;
  /** MACs answering a Neighbor Solicitation for `ip` from the client namespace (ndisc6 -m: every answer, not the first). */
  ndpMacs(ip: string): Promise<string[]>;
  /** The node whose MAC is in the client's neighbour entry for `ip`, or undefined. */
  neighbourOwner(ip: string): Promise<string | undefined>;
  /** Cuts `node`'s speaker off the API (every new request it makes gets 503; open watches stay), or heals it. */
  partition(node: string | undefined): void;
  /** The API user a node's speaker runs as. */
  userOf(node: string): string;
  /** Sets the client's neighbour entry for `ip` to `node`'s MAC, STALE (as a client that talked to it has). */
  pinNeighbour(ip: string, node: string): Promise<void>;
  /**
   * Every change of the client's neighbour entry for `ip` since the cluster started, as the
   * client's kernel announced it (test/helpers/neighbour-monitor.ts), with the node whose MAC it
   * then held (undefined: no MAC, or a MAC of no node).
   */
  neighbourChanges(ip: string): readonly { readonly at: number; readonly node: string | undefined }[];
  /**
   * Stops the API server (every connection cut), waits `downMs`, and starts it again where the
   * speakers expect it: same address and port, same tokens, the state it had persisted.
   */
  restartApi(downMs: number): Promise<void>;
  close(): Promise<void>;
}

export interface SpeakerProcess {
  readonly node: string;
  readonly child: ChildProcess;
  output(): string;
}

export const ns = 'ironlb-system';
const bin = fileURLToPath(new URL('../../bin/ironlb.js', import.meta.url));

/** A unique plan: prefix and subnet from the pid and a random byte, so parallel suites never meet. */
export function uniquePlan(tag: string, nodes: number): LanPlan {
  const r = Math.floor(Math.random() * 200) + 20;
  const id = (process.pid % 1296).toString(36);
  return { prefix: `${tag}${id}${r.toString(36)}`, nodes, v4Net: `10.${100 + (process.pid % 100)}.${r}`, v6Net: `fd00:${(process.pid % 65535).toString(16)}:${r.toString(16)}::`, hostLink: true };
}

export interface SpeakerClusterOptions {
  /**
   * Each speaker logs into a file of the cluster's directory instead of a pipe to this process.
   * A speaker logs synchronously (src/obs/logger.ts): through a pipe, a burst of lines (an owner
   * taking over hundreds of IPs) waits for this process to read them, and a bench whose process
   * also serves the API on a loaded machine held its speakers up. `output()` reads the file.
   */
  readonly logToFiles?: boolean;
  /**
   * Serve HTTPS (the speakers' kubeconfigs carry its CA), so that the real kubectl, which sends
   * a token only over TLS, can act on the cluster as `api.kubeconfigPath`'s admin. Default HTTP.
   */
  readonly tls?: boolean;
  /** The Node.js flags each speaker starts with; default {@link speakerNodeFlags}, as the DaemonSet gives them. */
  readonly nodeFlags?: readonly string[];
}

export async function startSpeakerCluster(plan: LanPlan, speakerArgs: readonly string[] = [], options: SpeakerClusterOptions = {}): Promise<SpeakerCluster> {
  await destroyLan(plan);
  const lan = await createLan(plan);
  // The cluster's own files: the API server's persisted state and the speakers' kubeconfigs,
  // which outlive an API server restart.
  const dir = await mkdtemp(join(tmpdir(), 'ironlb-speakers-'));
  let api: TestApiServer | undefined;
  const speakers = new Map<string, SpeakerProcess>();
  const monitor: NeighbourMonitor = monitorNeighbours(lan.client.netns, lan.lanInterface);
  try {
    // One user per node, so a fault can hit one speaker only (a partition of that node).
    const tokens = new Map(lan.nodes.map((n) => [`token-${n.name}-${process.pid}`, `speaker-${n.name}`]));
    const statePath = join(dir, 'state.json');
    api = await startTestApiServer({ host: lan.host.v4, tls: options.tls === true, users: tokens, statePath });
    const cert = api.cert;
    const kubeconfigs = new Map<string, string>();
    for (const [token, user] of tokens) {
      const path = join(dir, `${user}.kubeconfig`);
      await writeKubeconfig(path, api.url, token, cert?.cert);
      kubeconfigs.set(user.slice('speaker-'.length), path);
    }
    const kc = api.kubeConfig();
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const discovery = kc.makeApiClient(k8s.DiscoveryV1Api);
    await core.createNamespace({ body: { metadata: { name: ns } } });
    await core.createNamespace({ body: { metadata: { name: 'demo' } } }).catch(() => undefined);
    const pool = `address-pools:\n- name: default\n  protocol: layer2\n  addresses:\n  - ${plan.v4Net}.200-${plan.v4Net}.250\n`;
    await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'config' }, data: { config: pool } } });
    for (const n of lan.nodes) {
      await core.createNode({ body: { metadata: { name: n.name, labels: {} }, status: { conditions: [{ type: 'Ready', status: 'True' }], addresses: [{ type: 'InternalIP', address: n.v4 }] } } });
    }
    const macs = new Map<string, string>();
    for (const n of lan.nodes) macs.set(n.name, await macOf(n.netns, lan.lanInterface));
    let running = api;
    // speaker processes started so far (their log files are numbered by it)
    let started = 0;

    const startSpeaker = async (node: string, extra: readonly string[] = []): Promise<SpeakerProcess> => {
      const host = lan.nodes.find((n) => n.name === node);
      if (host === undefined) throw new Error(`no node ${node}`);
      const args = ['netns', 'exec', host.netns, process.execPath, ...(options.nodeFlags ?? speakerNodeFlags), bin, 'speaker', '--node-name', node, '--kubeconfig', kubeconfigs.get(node) ?? '', '--metrics-port', '0', ...speakerArgs, ...extra];
      if (options.logToFiles === true) {
        const path = join(dir, `${node}-${String((started += 1))}.log`);
        const fd = openSync(path, 'a');
        let child: ChildProcess;
        try {
          child = spawn('ip', args, { stdio: ['ignore', fd, fd] });
        } finally {
          // The child has its own copy of the descriptor.
          closeSync(fd);
        }
        const proc = { node, child, output: () => readFileSync(path, 'utf8') };
        speakers.set(node, proc);
        return Promise.resolve(proc);
      }
      const child = spawn('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
      const proc = { node, child, output: () => out };
      speakers.set(node, proc);
      return Promise.resolve(proc);
    };

    const slice = (name: string, endpointNodes: readonly string[]): k8s.V1EndpointSlice => ({
      metadata: { name: `${name}-1`, namespace: 'demo', labels: { 'kubernetes.io/service-name': name } },
      addressType: 'IPv4',
      endpoints: endpointNodes.map((node, i) => ({ addresses: [`10.244.${i}.10`], nodeName: node, conditions: { ready: true } })),
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    });

    const cluster: SpeakerCluster = {
      lan,
      get api() {
        return running;
      },
      kc,
      macs,
      speakers,
      startSpeaker,
      async setConfig(yaml) {
        const cm = await core.readNamespacedConfigMap({ name: 'config', namespace: ns });
        await core.replaceNamespacedConfigMap({ name: 'config', namespace: ns, body: { ...cm, data: { config: yaml } } });
      },
      async createService(name, ips, endpointNodes, policy = 'Cluster') {
        const list = typeof ips === 'string' ? [ips] : ips;
        await core.createNamespacedService({
          namespace: 'demo',
          body: { metadata: { name }, spec: { type: 'LoadBalancer', externalTrafficPolicy: policy, ports: [{ name: 'http', port: 80, protocol: 'TCP' }], selector: { app: name } } },
        });
        const svc = await core.readNamespacedService({ name, namespace: 'demo' });
        await core.replaceNamespacedServiceStatus({ name, namespace: 'demo', body: { ...svc, status: { loadBalancer: { ingress: list.map((ip) => ({ ip, ipMode: 'VIP' })) } } } });
        await discovery.createNamespacedEndpointSlice({ namespace: 'demo', body: slice(name, endpointNodes) });
      },
      async setEndpoints(name, endpointNodes) {
        const current = await discovery.readNamespacedEndpointSlice({ name: `${name}-1`, namespace: 'demo' });
        await discovery.replaceNamespacedEndpointSlice({ name: `${name}-1`, namespace: 'demo', body: { ...slice(name, endpointNodes), metadata: { ...current.metadata } } });
      },
      async labelNode(node, labels) {
        const current = await core.readNode({ name: node });
        const merged = Object.entries({ ...current.metadata?.labels, ...labels });
        const next = Object.fromEntries(merged.filter((e): e is [string, string] => e[1] !== null));
        await core.replaceNode({ name: node, body: { ...current, metadata: { ...current.metadata, labels: next } } });
      },
      async records() {
        const coord = kc.makeApiClient(k8s.CoordinationV1Api);
        // Heartbeats (split liveness) hold no record: left out, which halves the list at 1,000 members.
        const leases = await coord.listNamespacedLease({ namespace: ns, labelSelector: 'ironlb.io/lease!=heartbeat' });
        const out = new Map<string, string[]>();
        for (const l of leases.items) {
          const name = l.metadata?.name ?? '';
          if (!name.startsWith('ironlb-speaker-')) continue;
          // Alive only: held, and renewed within its duration (one machine, one clock: fair here).
          // client-node 1.4 hands MicroTime back as a string, whatever its types say
          const renewed = Date.parse(String(l.spec?.renewTime ?? ''));
          // A split-liveness membership Lease (docs/speaker.md) is written on change only: held is alive.
          const membership = l.metadata?.labels?.['ironlb.io/lease'] === 'membership';
          if ((l.spec?.holderIdentity ?? '') === '' || !(membership || renewed + (l.spec?.leaseDurationSeconds ?? 0) * 1000 >= Date.now())) continue;
          const raw = l.metadata?.annotations?.['ironlb.io/announcing'] ?? '';
          out.set(name.slice('ironlb-speaker-'.length), raw.split(',').filter((s) => s !== ''));
        }
        return out;
      },
      async arpMacs(ip, count = 2) {
        const r = await inNetns(lan.client.netns, 'arping', ['-c', String(count), '-w', String(count + 1), '-I', lan.lanInterface, ip]);
        const macsSeen = [...r.stdout.matchAll(/\[([0-9A-Fa-f:]{17})\]/g)].map((m) => (m[1] ?? '').toLowerCase());
        return [...new Set(macsSeen)].sort();
      },
      async ndpMacs(ip) {
        const r = await inNetns(lan.client.netns, 'ndisc6', ['-m', '-r', '3', '-w', '1000', ip, lan.lanInterface]);
        const macsSeen = [...r.stdout.matchAll(/Target link-layer address: ([0-9A-Fa-f:]{17})/g)].map((m) => (m[1] ?? '').toLowerCase());
        return [...new Set(macsSeen)].sort();
      },
      async neighbourOwner(ip) {
        const r = await inNetns(lan.client.netns, 'ip', ['neigh', 'show', ip, 'dev', lan.lanInterface]);
        const mac = /lladdr ([0-9a-f:]{17})/.exec(r.stdout)?.[1];
        return [...macs].find(([, m]) => m === mac)?.[0];
      },
      partition(node) {
        running.server.faults.fail = node === undefined ? undefined : { code: 503, rate: 1, user: `speaker-${node}` };
      },
      userOf: (node) => `speaker-${node}`,
      async pinNeighbour(ip, node) {
        const r = await inNetns(lan.client.netns, 'ip', ['neigh', 'replace', ip, 'lladdr', macs.get(node) ?? '', 'dev', lan.lanInterface, 'nud', 'stale']);
        if (r.code !== 0) throw new Error(`ip neigh replace ${ip} failed`);
      },
      neighbourChanges(ip) {
        return monitor.changes(ip).map((c) => ({ at: c.at, node: [...macs].find(([, m]) => m === c.mac)?.[0] }));
      },
      async restartApi(downMs) {
        const { port, token } = { port: running.server.port, token: running.token };
        await running.close();
        await new Promise((r) => setTimeout(r, downMs));
        running = await startTestApiServer({ host: lan.host.v4, port, token, tls: cert !== undefined, ...(cert === undefined ? {} : { cert }), users: tokens, statePath });
        api = running;
      },
      async close() {
        await stopAll(speakers);
        await monitor.close();
        await running.close();
        await destroyLan(plan);
        await rm(dir, { recursive: true, force: true });
      },
    };
    return cluster;
  } catch (e: unknown) {
    await stopAll(speakers);
    await monitor.close();
    await api?.close();
    await destroyLan(plan);
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}

async function stopAll(speakers: Map<string, SpeakerProcess>): Promise<void> {
  await Promise.all(
    [...speakers.values()].map(async ({ child }) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    }),
  );
}

/** Polls `probe` until it returns a value `accept` likes, or throws after `timeoutMs`. */
export async function waitUntil<T>(what: string, probe: () => Promise<T>, accept: (v: T) => boolean, timeoutMs = 20_000): Promise<T> {
  return waitFor(what, probe, accept, { timeoutMs, intervalMs: 100 });
}

export { lanLayout };
