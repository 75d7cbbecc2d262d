import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliPath, repoRoot } from '../test/helpers/cli.js';
import { createTestbed, exited, nsExec, nsSpawn, pause, sh, waitFor, type Testbed } from '../test/helpers/netns.js';
import type { BenchContext, BenchResult, BenchSuite } from './types.js';

// The prober runs in the peer namespace and only *sends* ARP requests through our own addon;
// tcpdump in the peer timestamps request-out and reply-in, so neither arping's fixed ~500 us
// offset nor the prober's wake-up latency enters the figures (LAYER2.md "Measuring").
const proberSource = `
import { createRequire } from 'node:module';
const p = JSON.parse(process.env.PROBE);
const { PacketSocket } = createRequire(p.root + '/')('./native/build/Release/afpacket.node');
const sock = new PacketSocket(p.ifindex, 'arp', () => {});
const mac = Buffer.from(p.mac.replace(/:/g, ''), 'hex');
const ip = (s) => Buffer.from(s.split('.').map(Number));
const frame = (target) => Buffer.concat([Buffer.alloc(6, 0xff), mac, Buffer.from([8, 6, 0, 1, 8, 0, 6, 4, 0, 1]), mac, ip(p.src), Buffer.alloc(6), ip(target)]);
const frames = p.targets.map(frame);
let sent = 0;
const tick = () => {
  for (let i = 0; i < p.batch && sent < p.count; i++, sent++) sock.send(frames[sent % frames.length]);
  if (sent < p.count) setTimeout(tick, p.gapMs); else setTimeout(() => { sock.close(); }, 200);
};
tick();
`;

interface Probe {
  readonly targets: readonly string[];
  readonly count: number;
  readonly batch: number;
  readonly gapMs: number;
}

async function probe(bed: Testbed, p: Probe): Promise<void> {
  const ifindex = Number((await nsExec(bed.b, ['cat', `/sys/class/net/${bed.ifB}/ifindex`])).trim());
  const env = JSON.stringify({ root: repoRoot, ifindex, mac: bed.macB, src: `${bed.v4}2`, ...p });
  const r = await sh('ip', ['netns', 'exec', bed.b, 'env', `PROBE=${env}`, process.execPath, '--input-type=module', '-e', proberSource], 120_000);
  if (r.code !== 0) throw new Error(`prober failed: ${r.stderr}`);
}

/** Median request-out -> reply-in time (us) for `ip`, from a tcpdump capture in the peer. */
async function replyTimes(ctx: BenchContext, bed: Testbed, ip: string, count: number): Promise<number> {
  const pcap = join('/tmp', `${bed.b}-${ip}.pcap`);
  const cap = nsSpawn(bed, bed.b, ['tcpdump', '-i', bed.ifB, '-U', '-n', '-B', '16384', '-w', pcap, 'arp']);
  await waitFor('tcpdump', () => cap.output().includes('listening'));
  await probe(bed, { targets: [ip], count, batch: 1, gapMs: 4 });
  await pause(300);
  cap.child.kill('SIGINT');
  await exited(cap.child);
  const lines = (await sh('tcpdump', ['-tt', '-n', '-r', pcap])).stdout.split('\n');
  ctx.log(`layer2: capture ${pcap}: ${lines.filter((l) => l.includes("Request")).length} requests, ${lines.filter((l) => l.includes("Reply")).length} replies`);
  await sh("rm", ["-f", pcap]);
  const samples: number[] = [];
  let pending: number | undefined;
  for (const line of lines) {
    const t = Number(line.split(' ')[0]);
    if (line.includes(`Request who-has ${ip} tell`)) pending = t;
    else if (line.includes(`Reply ${ip} is-at`) && pending !== undefined) {
      samples.push((t - pending) * 1e6);
      pending = undefined;
    }
  }
  ctx.log(`layer2: ${ip}: ${samples.length} of ${count} probes answered`);
  if (samples.length < count / 2) throw new Error(`${ip}: only ${samples.length} of ${count} probes answered`);
  samples.sort((a, b) => a - b);
  return Math.round(samples[Math.floor(samples.length / 2)] ?? 0);
}

function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  // utime and stime are fields 14 and 15 of /proc/PID/stat (proc(5)); clock ticks of 10 ms.
  return Number(fields[11]) + Number(fields[12]);
}

function rssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:')) ?? '';
  return Math.round((Number(line.replace(/\D+/g, ' ').trim()) / 1024) * 10) / 10;
}

async function startAnnouncer(bed: Testbed, ips: readonly string[], extra: readonly string[] = []): Promise<ReturnType<typeof nsSpawn>> {
  const args = ['announce', '--interface', bed.ifA, ...ips.flatMap((ip) => ['--ip', ip]), '--reannounce-interval', '0', ...extra];
  const a = nsSpawn(bed, bed.a, [process.execPath, cliPath, ...args]);
  await waitFor('announcer', () => a.output().includes('"interfaceAnnouncing"'));
  await pause(2500); // let the gratuitous bursts finish
  return a;
}

async function stop(a: ReturnType<typeof nsSpawn>): Promise<void> {
  a.child.kill('SIGTERM');
  await exited(a.child);
}

async function measure(ctx: BenchContext, bed: Testbed): Promise<BenchResult[]> {
  const ip = `${bed.v4}100`;
  const probes = 500;
  ctx.log('layer2: kernel ARP reply time');
  const kernel = await replyTimes(ctx, bed, `${bed.v4}1`, probes);
  const results: BenchResult[] = [{ name: 'layer2.arp_reply_us.kernel', value: kernel, unit: 'us' }];

  ctx.log('layer2: ironlb ARP reply time (native fast path)');
  let a = await startAnnouncer(bed, [ip]);
  const native = await replyTimes(ctx, bed, ip, probes);
  await stop(a);
  results.push({ name: 'layer2.arp_reply_us.ironlb', value: native, unit: 'us', target: `< ${3 * kernel} (3x kernel)` });

  ctx.log('layer2: ironlb ARP reply time (--js-arp)');
  a = await startAnnouncer(bed, [ip], ['--js-arp']);
  results.push({ name: 'layer2.arp_reply_us.ironlb_js', value: await replyTimes(ctx, bed, ip, probes), unit: 'us' });
  await stop(a);

  ctx.log('layer2: 1,000 IPs, RSS and a 20,000 req/s flood for unowned IPs');
  const many = Array.from({ length: 1000 }, (_, i) => `10.${bed.v4.split('.')[1] ?? '0'}.${200 + Math.floor(i / 250)}.${1 + (i % 250)}`);
  a = await startAnnouncer(bed, many);
  const pid = a.child.pid ?? 0;
  results.push({ name: 'layer2.responder_rss_mb', value: rssMb(pid), unit: 'MB' });
  const unowned = Array.from({ length: 100 }, (_, i) => `${bed.v4}${150 + i}`);
  const before = cpuTicks(pid);
  const started = performance.now();
  // 200 requests every 10 ms = 20,000/s, for 2 s.
  await probe(bed, { targets: unowned, count: 40_000, batch: 200, gapMs: 10 });
  const seconds = (performance.now() - started) / 1000;
  results.push({ name: 'layer2.flood_cpu_pct', value: Math.round(((cpuTicks(pid) - before) / 100 / seconds) * 1000) / 10, unit: '%' });
  await stop(a);
  return results;
}

/** ARP reply latency (kernel vs ironlb), memory with 1,000 IPs, CPU under an ARP flood. */
export const layer2Suite: BenchSuite = {
  name: 'layer2',
  needsRoot: true,
  async run(ctx) {
    if (!ctx.isRoot) {
      ctx.log('layer2: skipped (needs root for network namespaces)');
      return [];
    }
    const bed = await createTestbed('bench');
    try {
      return await measure(ctx, bed);
    } finally {
      await bed.cleanup();
    }
  },
};
