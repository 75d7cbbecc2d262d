import { spawn } from 'node:child_process';
import { startSpeakerCluster, uniquePlan, type SpeakerCluster } from '../test/netns/speaker-cluster.js';
import type { BenchContext, BenchResult, BenchSuite } from './types.js';

const rounds = 5;

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round(sorted[Math.floor(sorted.length / 2)] ?? 0);
}

/**
 * Milliseconds from the Service's status and EndpointSlice being written (what the speaker
 * needs to elect) to the first gratuitous ARP for its IP on the wire, as tcpdump in the client
 * namespace sees it.
 */
async function firstAnnounce(c: SpeakerCluster, name: string, ip: string): Promise<number> {
  const dump = spawn('ip', ['netns', 'exec', c.lan.client.netns, 'tcpdump', '-i', c.lan.lanInterface, '-n', '-l', '--immediate-mode', '-U', `arp and host ${ip}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    await new Promise<void>((resolve, reject) => {
      dump.stderr.setEncoding('utf8').on('data', (d: string) => { if (d.includes('listening on')) resolve(); });
      dump.on('exit', () => { reject(new Error('tcpdump exited')); });
    });
    let seen: (() => void) | undefined;
    const announced = new Promise<void>((resolve) => { seen = resolve; });
    dump.stdout.setEncoding('utf8').on('data', (d: string) => { if (d.includes(`tell ${ip}`) || d.includes(`${ip} is-at`)) seen?.(); });
    await c.createService(name, ip, c.lan.nodes.map((n) => n.name));
    const start = performance.now();
    await Promise.race([announced, new Promise((_, reject) => setTimeout(() => { reject(new Error(`no gratuitous ARP for ${ip} within 15 s`)); }, 15_000))]);
    return performance.now() - start;
  } finally {
    dump.kill('SIGKILL');
  }
}

async function measure(ctx: BenchContext, mode: 'probe' | 'no_probe'): Promise<BenchResult> {
  const plan = uniquePlan(mode === 'probe' ? 'ipb' : 'ipn', 3);
  const c = await startSpeakerCluster(plan, mode === 'probe' ? [] : ['--no-probe']);
  try {
    for (const n of c.lan.nodes) await c.startSpeaker(n.name);
    const samples: number[] = [];
    for (let i = 0; i < rounds; i++) samples.push(await firstAnnounce(c, `svc-${i}`, `${plan.v4Net}.${200 + i}`));
    ctx.log(`probe: first announcement (${mode}): ${samples.map((s) => Math.round(s)).join(', ')} ms`);
    return { name: `speaker.first_announce_ms.${mode}`, value: median(samples), unit: 'ms', ...(mode === 'probe' ? { target: '<= no_probe + 1000' } : {}) };
  } finally {
    await c.close();
  }
}

const notes = `
\`speaker.first_announce_ms\`: from the moment a new Service's status IP and EndpointSlice are
written to the first gratuitous ARP for that IP on the wire (tcpdump in the client namespace),
median of ${rounds} fresh IPs, three speakers. \`probe\` is the default (three ARP probes 200 ms
apart and a 600 ms window before announcing, docs/speaker.md "Address conflicts"); \`no_probe\`
runs the speakers with \`--no-probe\`, as ironlb announced before probing existed. Takeovers of
an IP already announced do not probe, so failover figures are unchanged.
`;

/** `npm run bench -- --only probe` (root: namespaces and packet sockets). */
export const probeSuite: BenchSuite & { readonly notes: string } = {
  name: 'probe',
  notes,
  needsRoot: true,
  async run(ctx) {
    return [await measure(ctx, 'no_probe'), await measure(ctx, 'probe')];
  },
};
