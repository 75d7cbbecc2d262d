import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliPath, repoRoot } from '../test/helpers/cli.js';
import { createTestbed, exited, nsExec, nsSpawn, pause, sh, waitFor, type Testbed } from '../test/helpers/netns.js';
import { buildMetallbStyle } from './metallb-style.js';
import type { BenchContext, BenchResult, BenchSuite } from './types.js';

// Every mode on one veth testbed in one run, interleaved round by round: the peer's kernel,
// ironlb's XDP responder, its AF_PACKET native fast path, its JavaScript responder and a
// MetalLB-style responder (bench/metallb-style: Go, mdlayher/arp, as MetalLB answers ARP). The
// prober in the peer namespace only *sends* requests (through our AF_PACKET addon), each from
// its own sender address; tcpdump in the peer (--immediate-mode, -U, nanosecond stamps) writes
// request-out and reply-in, and the pcap is read back once tcpdump has exited (flushed), so
// neither arping's ~500 us offset nor the prober's wake-ups enter the figures and every probe
// sent is counted as answered or missed (LAYER2.md "Measuring").
//
// On veth, an XDP_TX frame reaches the peer only when the peer's receive side runs NAPI (an XDP
// program or GRO there): the peer gets our object loaded unconfigured, which passes every
// frame, for every mode alike.
const proberSource = `
import { createRequire } from 'node:module';
const p = JSON.parse(process.env.PROBE);
const { PacketSocket } = createRequire(p.root + '/')('./native/build/Release/afpacket.node');
const sock = new PacketSocket(p.ifindex, 'arp', () => {});
const mac = Buffer.from(p.mac.replace(/:/g, ''), 'hex');
const v4 = (s) => Buffer.from(s.split('.').map(Number));
const v6 = (s) => {
  const [h, t] = s.split('::');
  const g = (x) => (x ? x.split(':').map((y) => parseInt(y, 16)) : []);
  const a = g(h), b = g(t);
  const all = [...a, ...new Array(8 - a.length - b.length).fill(0), ...b];
  return Buffer.from(all.flatMap((x) => [x >> 8, x & 255]));
};
const csum = (parts) => {
  let s = 0;
  for (const b of parts) for (let i = 0; i < b.length; i += 2) s += (b[i] << 8) | (b[i + 1] ?? 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
};
const arp = (target, sender) => Buffer.concat([Buffer.alloc(6, 0xff), mac, Buffer.from([8, 6, 0, 1, 8, 0, 6, 4, 0, 1]), mac, v4(sender), Buffer.alloc(6), v4(target)]);
const ns = (target, sender) => {
  const t = v6(target), s = v6(sender);
  const group = Buffer.from([0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, t[13], t[14], t[15]]);
  const icmp = Buffer.concat([Buffer.from([135, 0, 0, 0, 0, 0, 0, 0]), t, Buffer.from([1, 1]), mac]);
  const len = Buffer.from([0, 0, 0, icmp.length, 0, 0, 0, 58]);
  const sum = csum([s, group, len, icmp]);
  icmp[2] = sum >> 8; icmp[3] = sum & 255;
  return Buffer.concat([Buffer.from([0x33, 0x33, 0xff, t[13], t[14], t[15]]), mac, Buffer.from([0x86, 0xdd, 0x60, 0, 0, 0, 0, icmp.length, 58, 255]), s, group, icmp]);
};
const build = p.kind === 'ndp' ? ns : arp;
let sent = 0, refused = 0;
const tick = () => {
  for (let i = 0; i < p.batch && sent + refused < p.count; i++) {
    const k = sent + refused;
    const frame = build(p.targets[k % p.targets.length], p.senders[k % p.senders.length]);
    if (sock.send(frame)) sent++; else refused++;
  }
  if (sent + refused < p.count) setTimeout(tick, p.gapMs);
  else setTimeout(() => { sock.close(); console.log(JSON.stringify({ sent, refused })); }, 50);
};
tick();
`;

type Kind = 'arp' | 'ndp';

interface Probe {
  readonly kind: Kind;
  readonly targets: readonly string[];
  readonly senders: readonly string[];
  readonly count: number;
  readonly batch: number;
  readonly gapMs: number;
}

function proberEnv(bed: Testbed, ifindex: number, p: Probe): string {
  return `PROBE=${JSON.stringify({ root: repoRoot, ifindex, mac: bed.macB, ...p })}`;
}

async function peerIfindex(bed: Testbed): Promise<number> {
  return Number((await nsExec(bed.b, ['cat', `/sys/class/net/${bed.ifB}/ifindex`])).trim());
}

/** Sends `p` from the peer; returns how many frames the kernel took. */
async function probe(bed: Testbed, p: Probe): Promise<number> {
  const r = await sh('ip', ['netns', 'exec', bed.b, 'env', proberEnv(bed, await peerIfindex(bed), p), process.execPath, '--input-type=module', '-e', proberSource], 120_000);
  if (r.code !== 0) throw new Error(`prober failed: ${r.stderr}`);
  const counts = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { sent?: number; refused?: number };
  if ((counts.refused ?? 0) > 0) throw new Error(`prober: the kernel refused ${String(counts.refused)} frames`);
  return counts.sent ?? 0;
}

/** Frames of a pcap file (microsecond or nanosecond stamps), with their time in seconds. */
export function readPcap(file: Buffer): { t: number; data: Buffer }[] {
  const magic = file.readUInt32LE(0);
  const nano = magic === 0xa1b23c4d;
  if (!nano && magic !== 0xa1b2c3d4) throw new Error('not a little-endian pcap file');
  const out: { t: number; data: Buffer }[] = [];
  for (let at = 24; at + 16 <= file.length; ) {
    const t = file.readUInt32LE(at) + file.readUInt32LE(at + 4) / (nano ? 1e9 : 1e6);
    const len = file.readUInt32LE(at + 8);
    out.push({ t, data: file.subarray(at + 16, at + 16 + len) });
    at += 16 + len;
  }
  return out;
}

const hexOf = (b: Buffer, from: number, to: number): string => b.subarray(from, to).toString('hex');

/** A request's or an answer's (target, requester) key, or undefined for other frames. */
function keyOf(f: Buffer): { request: boolean; key: string } | undefined {
  if (f.length >= 42 && f.readUInt16BE(12) === 0x0806) {
    const op = f.readUInt16BE(20);
    // Request: target at 38, requester at 28. Reply: the owned address at 28, the requester at 38.
    if (op === 1) return { request: true, key: `${hexOf(f, 38, 42)}|${hexOf(f, 28, 32)}` };
    if (op === 2) return { request: false, key: `${hexOf(f, 28, 32)}|${hexOf(f, 38, 42)}` };
  }
  if (f.length >= 78 && f.readUInt16BE(12) === 0x86dd && f[20] === 58) {
    // NS: target at 62, source at 22. NA: target at 62, destination (the soliciter) at 38.
    if (f[54] === 135) return { request: true, key: `${hexOf(f, 62, 78)}|${hexOf(f, 22, 38)}` };
    if (f[54] === 136) return { request: false, key: `${hexOf(f, 62, 78)}|${hexOf(f, 38, 54)}` };
  }
  return undefined;
}

interface Replies {
  /** request-out -> answer-in, us, one per answered probe */
  readonly samples: readonly number[];
  readonly sent: number;
  readonly seen: number;
}

/** Pairs each request in the capture with the first answer to it (same target, same requester). */
export function pairReplies(frames: readonly { t: number; data: Buffer }[], target: (key: string) => boolean): { samples: number[]; seen: number } {
  // key -> times of requests not answered yet, oldest first
  const pending = new Map<string, number[]>();
  const samples: number[] = [];
  let seen = 0;
  for (const { t, data } of frames) {
    const k = keyOf(data);
    if (k === undefined || !target(k.key)) continue;
    if (k.request) {
      seen += 1;
      pending.set(k.key, [...(pending.get(k.key) ?? []), t]);
      continue;
    }
    const waiting = pending.get(k.key);
    const asked = waiting?.shift();
    if (asked !== undefined) samples.push((t - asked) * 1e6);
  }
  return { samples, seen };
}

const v4Hex = (ip: string): string => Buffer.from(ip.split('.').map(Number)).toString('hex');
function v6Hex(ip: string): string {
  const [head = '', tail = ''] = ip.split('::');
  const groups = (s: string): number[] => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const h = groups(head);
  const t = groups(tail);
  return [...h, ...Array<number>(8 - h.length - t.length).fill(0), ...t].map((g) => g.toString(16).padStart(4, '0')).join('');
}

/** The peer's source addresses for Neighbor Solicitations, one per probe in turn. */
const ndpSenders = (bed: Testbed): string[] => Array.from({ length: 250 }, (_, i) => `${bed.v6}a:${(i + 1).toString(16)}`);

/** Probes `ip` `count` times, one probe every 4 ms, and pairs requests and answers in a capture. */
async function replyTimes(ctx: BenchContext, bed: Testbed, kind: Kind, ip: string, count: number, label: string): Promise<Replies> {
  const pcap = join('/tmp', `${bed.b}-${label}.pcap`);
  // Only the probes and their answers (for ARP, `host` matches the ARP body's addresses): a
  // flood for other addresses must not fill the capture's buffer.
  const filter = kind === 'arp' ? `arp host ${ip}` : 'icmp6';
  const cap = nsSpawn(bed, bed.b, ['tcpdump', '-i', bed.ifB, '--immediate-mode', '-U', '--time-stamp-precision', 'nano', '-n', '-B', '16384', '-w', pcap, filter]);
  try {
    await waitFor('tcpdump', () => cap.output().includes('listening'));
    const senders = kind === 'arp' ? Array.from({ length: 250 }, (_, i) => `${bed.v4}${String(3 + i)}`).filter((s) => s !== `${bed.v4}100`) : ndpSenders(bed);
    const sent = await probe(bed, { kind, targets: [ip], senders, count, batch: 1, gapMs: 4 });
    await pause(500); // answers still in flight
    cap.child.kill('SIGINT');
    await exited(cap.child); // tcpdump has written and closed the file
    const dropped = Number(/(\d+) packets? dropped by kernel/.exec(cap.output())?.[1] ?? 0);
    if (dropped > 0) throw new Error(`${label}: tcpdump dropped ${String(dropped)} packets: the figures would not account for every probe`);
    const wanted = kind === 'arp' ? v4Hex(ip) : v6Hex(ip);
    const { samples, seen } = pairReplies(readPcap(readFileSync(pcap)), (key) => key.startsWith(`${wanted}|`));
    ctx.log(`layer2: ${label}: ${String(sent)} probes sent, ${String(seen)} seen leaving, ${String(samples.length)} answered, median ${String(median(samples))} us`);
    return { samples, sent, seen };
  } finally {
    cap.child.kill('SIGKILL');
    await sh('rm', ['-f', pcap]);
  }
}

function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${String(pid)}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  // utime and stime are fields 14 and 15 of /proc/PID/stat (proc(5)); clock ticks of 10 ms.
  return Number(fields[11]) + Number(fields[12]);
}

function rssMb(pid: number): number {
  const line = readFileSync(`/proc/${String(pid)}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:')) ?? '';
  return Math.round((Number(line.replace(/\D+/g, ' ').trim()) / 1024) * 10) / 10;
}

type Announcer = ReturnType<typeof nsSpawn>;

async function startAnnouncer(bed: Testbed, ips: readonly string[], extra: readonly string[] = [], cli = cliPath): Promise<Announcer> {
  const args = ['announce', '--interface', bed.ifA, ...ips.flatMap((ip) => ['--ip', ip]), '--reannounce-interval', '0', ...extra];
  const a = nsSpawn(bed, bed.a, [process.execPath, cli, ...args]);
  await waitFor('announcer', () => a.output().includes('"interfaceAnnouncing"'));
  if (extra.includes('xdp')) await waitFor('the XDP responder', () => a.output().includes('"xdpAttached"') || a.output().includes('"xdpFallback"'));
  if (a.output().includes('"xdpFallback"')) throw new Error(`the XDP responder did not load: ${a.output()}`);
  await pause(2500); // let the gratuitous bursts finish
  return a;
}

/** The MetalLB-style responder (bench/metallb-style/main.go) answering ARP and NDP for `ips`. */
async function startMetallbStyle(bed: Testbed, binary: string, ips: readonly string[]): Promise<Announcer> {
  const a = nsSpawn(bed, bed.a, [binary, '-interface', bed.ifA, ...ips.flatMap((ip) => ['-ip', ip])]);
  await waitFor('the MetalLB-style responder', () => a.output().includes('ready') || a.child.exitCode !== null);
  if (!a.output().includes('ready')) throw new Error(`the MetalLB-style responder did not start: ${a.output()}`);
  await pause(500);
  return a;
}

async function stop(a: Announcer): Promise<void> {
  a.child.kill('SIGTERM');
  await exited(a.child);
}

/**
 * A CPU cgroup (v1 `cpu` controller: cfs_quota_us/cfs_period_us, the v2 `cpu.max`) holding
 * `pid` to `percent` of one CPU; removed by the returned function.
 */
function throttle(pid: number, percent: number): () => void {
  const dir = `/sys/fs/cgroup/cpu/ironlb-bench-${String(process.pid)}`;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'cpu.cfs_period_us'), '100000');
  writeFileSync(join(dir, 'cpu.cfs_quota_us'), String(percent * 1000));
  writeFileSync(join(dir, 'cgroup.procs'), String(pid));
  return () => {
    try {
      writeFileSync('/sys/fs/cgroup/cpu/cgroup.procs', String(pid));
    } catch {
      // the process has exited
    }
    rmdirSync(dir);
  };
}

const median = (xs: readonly number[]): number => percentile(xs, 0.5);
function percentile(xs: readonly number[], q: number): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0);
}

/**
 * Who answers: the responder namespace's kernel for its own address, `ironlb announce` with flags
 * (`cli`: this checkout's, or another build's for a side-by-side comparison), or a binary.
 */
type Responder =
  | { readonly kind: 'kernel' }
  | { readonly kind: 'ironlb'; readonly flags: readonly string[]; readonly cli: string }
  | { readonly kind: 'metallbStyle'; readonly binary: string };

interface ModeRun {
  readonly name: string;
  readonly responder: Responder;
  readonly ndp: boolean;
}

const ironlbModes: readonly ModeRun[] = [
  { name: 'kernel', responder: { kind: 'kernel' }, ndp: true },
  { name: 'xdp', responder: { kind: 'ironlb', flags: ['--layer2-mode', 'xdp'], cli: cliPath }, ndp: true },
  { name: 'ironlb', responder: { kind: 'ironlb', flags: [], cli: cliPath }, ndp: true },
  { name: 'ironlb_js', responder: { kind: 'ironlb', flags: ['--js-arp'], cli: cliPath }, ndp: false },
];

/**
 * Other builds of ironlb measured beside this one, from `IRONLB_BENCH_LAYER2_COMPARE=NAME=DIR,...`
 * (DIR holds bin/, dist/ and native/build of that build): mode `ironlb_NAME`, AF_PACKET default
 * flags, and a row `layer2.arp_reply_ratio.ironlb_vs_NAME`. How a change to the answering path
 * is judged: both builds in one run, interleaved, on the same machine load.
 */
function comparedBuilds(spec: string): ModeRun[] {
  return spec
    .split(',')
    .filter((entry) => entry.trim() !== '')
    .map((entry) => {
      const [name = '', dir = ''] = entry.split('=');
      if (!/^[a-z0-9_]+$/.test(name) || dir === '') throw new Error(`IRONLB_BENCH_LAYER2_COMPARE: "${entry}" is not NAME=DIR (NAME: a-z, 0-9, _)`);
      return { name: `ironlb_${name}`, responder: { kind: 'ironlb', flags: [], cli: join(dir, 'bin', 'ironlb.js') }, ndp: true };
    });
}

/**
 * The modes of this run: ironlb's, other builds to compare, and the MetalLB-style one when it
 * could be built. `IRONLB_BENCH_LAYER2_MODES=a,b,...` keeps only those (quicker runs while
 * working on one path; the full set is what docs/benchmarks.md records).
 */
async function modesOf(ctx: BenchContext): Promise<readonly ModeRun[]> {
  const modes = [...ironlbModes, ...comparedBuilds(process.env.IRONLB_BENCH_LAYER2_COMPARE ?? '')];
  const built = await buildMetallbStyle();
  if (built.ok) modes.push({ name: 'metallb_style', responder: { kind: 'metallbStyle', binary: built.binary }, ndp: true });
  else ctx.log(`layer2: SKIPPING the metallb_style rows (MetalLB-style responder not available): ${built.why}`);
  const keep = (process.env.IRONLB_BENCH_LAYER2_MODES ?? '').split(',').filter((m) => m !== '');
  const unknown = keep.filter((m) => !modes.some((mode) => mode.name === m));
  if (unknown.length > 0) throw new Error(`IRONLB_BENCH_LAYER2_MODES: no mode ${unknown.join(', ')} (modes: ${modes.map((m) => m.name).join(', ')})`);
  return keep.length === 0 ? modes : modes.filter((m) => keep.includes(m.name));
}

async function startResponder(bed: Testbed, responder: Responder, ips: readonly string[]): Promise<Announcer | undefined> {
  switch (responder.kind) {
    case 'kernel':
      return undefined;
    case 'ironlb':
      return startAnnouncer(bed, ips, responder.flags, responder.cli);
    case 'metallbStyle':
      return startMetallbStyle(bed, responder.binary, ips);
  }
}

// Many short rounds, the order of the modes rotated each round, so that a change in the machine's
// load (other work on a shared host) falls on every mode alike; ratios are taken within a round.
const rounds = 6;
const probesPerRound = 100;

/** key (`arp.ironlb`) -> every sample, the median of each round, probes sent and seen */
type Totals = Map<string, { samples: number[]; roundMedians: number[]; sent: number; seen: number }>;

function add(totals: Totals, key: string, r: Replies): void {
  const t = totals.get(key) ?? { samples: [], roundMedians: [], sent: 0, seen: 0 };
  t.samples.push(...r.samples);
  if (r.samples.length > 0) t.roundMedians.push(median(r.samples));
  t.sent += r.sent;
  t.seen += r.seen;
  totals.set(key, t);
}

/** What a run measures, from `--only` (ctx.wants): replies per family, the throttled rows, memory and CPU. */
interface Wanted {
  readonly arp: boolean;
  readonly ndp: boolean;
  throttled(mode: string): boolean;
  readonly flood: boolean;
}

function wantedOf(ctx: BenchContext): Wanted {
  const wants = (prefix: string): boolean => ctx.wants?.(prefix) ?? true;
  return {
    arp: wants('layer2.arp_reply_us.') || wants('layer2.arp_reply_ratio.') || wants('layer2.arp_missed.'),
    ndp: wants('layer2.ndp_reply_us.') || wants('layer2.ndp_reply_ratio.') || wants('layer2.ndp_missed.'),
    throttled: (mode) => wants(`layer2.arp_reply_us.${mode}_throttled`) || wants(`layer2.arp_reply_p99_us.${mode}_throttled`),
    flood: wants('layer2.responder_rss_mb') || wants('layer2.flood_cpu_pct'),
  };
}

async function oneMode(ctx: BenchContext, bed: Testbed, mode: ModeRun, round: number, totals: Totals, wanted: Wanted): Promise<void> {
  const kernel = mode.responder.kind === 'kernel';
  const ip4 = kernel ? `${bed.v4}1` : `${bed.v4}100`;
  const ip6 = kernel ? `${bed.v6}1` : `${bed.v6}100`;
  const a = await startResponder(bed, mode.responder, [ip4, ip6]);
  try {
    if (wanted.arp) add(totals, `arp.${mode.name}`, await replyTimes(ctx, bed, 'arp', ip4, probesPerRound, `arp-${mode.name}-${String(round)}`));
    if (mode.ndp && wanted.ndp) add(totals, `ndp.${mode.name}`, await replyTimes(ctx, bed, 'ndp', ip6, probesPerRound, `ndp-${mode.name}-${String(round)}`));
  } finally {
    if (a !== undefined) await stop(a);
  }
}

/** The modes in round `round` (1-based): the list rotated by one more place each round. */
export function roundOrder<T>(modes: readonly T[], round: number): T[] {
  const k = modes.length === 0 ? 0 : (round - 1) % modes.length;
  return [...modes.slice(k), ...modes.slice(0, k)];
}

/**
 * `a` over `b` as the median of the per-round ratios of their medians (both measured in the same
 * round, minutes apart at most), rounded to 0.01; undefined unless both have rounds.
 */
export function roundRatio(a: readonly number[], b: readonly number[]): { value: number; perRound: number[] } | undefined {
  const perRound = a.slice(0, Math.min(a.length, b.length)).flatMap((x, i) => {
    const y = b[i] ?? 0;
    return y > 0 ? [x / y] : [];
  });
  if (perRound.length === 0) return undefined;
  const sorted = [...perRound].sort((x, y) => x - y);
  const mid = sorted.length / 2;
  const m = sorted.length % 2 === 1 ? (sorted[Math.floor(mid)] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
  return { value: Math.round(m * 100) / 100, perRound: perRound.map((r) => Math.round(r * 100) / 100) };
}

/** A steady ARP flood for unowned addresses from the peer, keeping the responder's socket busy. */
function flood(bed: Testbed, ifindex: number): Announcer {
  const targets = Array.from({ length: 50 }, (_, i) => `${bed.v4}${String(200 + i)}`);
  // 50 requests every 10 ms = 5,000/s for 20 s (stopped earlier by the caller).
  const p: Probe = { kind: 'arp', targets, senders: [`${bed.v4}2`], count: 100_000, batch: 50, gapMs: 10 };
  return nsSpawn(bed, bed.b, ['env', proberEnv(bed, ifindex, p), process.execPath, '--input-type=module', '-e', proberSource]);
}

/** Reply p99 and misses with the responder's process throttled to 5% of a CPU under a 5,000/s flood. */
async function throttled(ctx: BenchContext, bed: Testbed, mode: ModeRun, totals: Totals): Promise<void> {
  const ip = `${bed.v4}100`;
  const a = await startResponder(bed, mode.responder, [ip]);
  if (a === undefined) throw new Error(`${mode.name}: only a responder process can be throttled`);
  const release = throttle(a.child.pid ?? 0, 5);
  const load = flood(bed, await peerIfindex(bed));
  try {
    await pause(500);
    add(totals, `arp.${mode.name}_throttled`, await replyTimes(ctx, bed, 'arp', ip, probesPerRound, `arp-${mode.name}-throttled`));
  } finally {
    load.child.kill('SIGKILL');
    await exited(load.child);
    await stop(a);
    release();
  }
}

/** The ratio rows: ironlb's AF_PACKET path over the MetalLB-style responder, and over other builds. */
function ratioRows(ctx: BenchContext, totals: Totals): BenchResult[] {
  const out: BenchResult[] = [];
  const others = [...new Set([...totals.keys()].map((k) => k.split('.')[1] ?? ''))].filter((m) => m === 'metallb_style' || (m.startsWith('ironlb_') && m !== 'ironlb_js' && !m.endsWith('_throttled')));
  for (const kind of ['arp', 'ndp']) {
    for (const other of others) {
      const r = roundRatio(totals.get(`${kind}.ironlb`)?.roundMedians ?? [], totals.get(`${kind}.${other}`)?.roundMedians ?? []);
      if (r === undefined) continue;
      const name = `layer2.${kind}_reply_ratio.ironlb_vs_${other.replace(/^ironlb_/, '')}`;
      ctx.log(`${name}: ${String(r.value)} (per round: ${r.perRound.join(', ')})`);
      // The target: ironlb's AF_PACKET ARP path at most 0.6x the MetalLB-style responder.
      const target = kind === 'arp' && other === 'metallb_style' ? { target: '<= 0.6' } : {};
      out.push({ name, value: r.value, unit: 'x', ...target });
    }
  }
  return out;
}

function rowsFor(ctx: BenchContext, totals: Totals): BenchResult[] {
  const out: BenchResult[] = [];
  const kernel = { arp: median(totals.get('arp.kernel')?.samples ?? []), ndp: median(totals.get('ndp.kernel')?.samples ?? []) };
  const xdpP99 = percentile(totals.get('arp.xdp')?.samples ?? [], 0.99);
  for (const [key, t] of totals) {
    const [kind = 'arp', mode = ''] = key.split('.');
    const base = kind === 'arp' ? kernel.arp : kernel.ndp;
    const target = mode === 'xdp' ? `<= ${String(Math.round(1.5 * base * 10) / 10)} (1.5x kernel)` : undefined;
    const p99Target = mode === 'xdp_throttled' ? `<= ${String(2 * xdpP99)} (2x unthrottled p99)` : undefined;
    out.push({ name: `layer2.${kind}_reply_us.${mode}`, value: median(t.samples), unit: 'us', ...(target === undefined ? {} : { target }) });
    out.push({ name: `layer2.${kind}_reply_p99_us.${mode}`, value: percentile(t.samples, 0.99), unit: 'us', ...(p99Target === undefined ? {} : { target: p99Target }) });
    // The "0 missed" is a target for ironlb's modes and the kernel; the MetalLB-style
    // responder is a reference, measured and shown without one.
    const missedTarget = mode.startsWith('metallb_style') ? {} : { target: '<= 0' };
    out.push({ name: `layer2.${kind}_missed.${mode}`, value: t.sent - t.samples.length, unit: `of ${String(t.sent)}`, ...missedTarget });
    if (t.seen !== t.sent) out.push({ name: `layer2.${kind}_capture_lost.${mode}`, value: t.sent - t.seen, unit: 'probes' });
  }
  return [...out, ...ratioRows(ctx, totals)];
}

/** The 1-minute load average (/proc/loadavg): how busy the machine was around the figures. */
function loadAverage(): number {
  return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
}

/**
 * Gives the peer the sender addresses the NDP probes use, and fills the responder namespace's
 * neighbour cache with them (one solicitation each for its own address, which its kernel answers
 * and learns the sender from): the MetalLB-style responder writes its advertisement through the
 * IPv6 stack, which must know the soliciter's MAC first; a node talking to its clients already
 * does. ironlb and XDP answer to the frame's link-layer address and need neither.
 */
async function prepareNdpPeer(bed: Testbed): Promise<void> {
  const batch = ndpSenders(bed).map((ip) => `address add ${ip}/64 dev ${bed.ifB} nodad`).join('\n');
  const file = join('/tmp', `${bed.b}-senders`);
  writeFileSync(file, `${batch}\n`);
  try {
    await nsExec(bed.b, ['ip', '-6', '-batch', file]);
  } finally {
    await sh('rm', ['-f', file]);
  }
  await probe(bed, { kind: 'ndp', targets: [`${bed.v6}1`], senders: ndpSenders(bed), count: ndpSenders(bed).length, batch: 1, gapMs: 2 });
}

async function measure(ctx: BenchContext, bed: Testbed): Promise<BenchResult[]> {
  await nsExec(bed.b, ['ip', 'link', 'set', bed.ifB, 'xdp', 'obj', join(repoRoot, 'native', 'xdp', 'build', 'responder.bpf.o'), 'sec', 'xdp']);
  const modes = await modesOf(ctx);
  const wanted = wantedOf(ctx);
  const loadBefore = loadAverage();
  if (wanted.ndp) await prepareNdpPeer(bed);
  const totals: Totals = new Map();
  for (let round = 1; round <= rounds; round++) {
    for (const mode of roundOrder(modes, round)) {
      ctx.log(`layer2: round ${String(round)}/${String(rounds)}: ${mode.name}`);
      await oneMode(ctx, bed, mode, round, totals, wanted);
    }
  }
  for (const mode of modes.filter((m) => (m.name === 'xdp' || m.name === 'ironlb' || m.name === 'metallb_style') && wanted.throttled(m.name))) {
    ctx.log(`layer2: ${mode.name} throttled to 5% CPU under a 5,000/s ARP flood`);
    await throttled(ctx, bed, mode, totals);
  }
  const results = [
    ...rowsFor(ctx, totals),
    // How busy the shared machine was: figures from a loaded run are not comparable across runs.
    { name: 'layer2.load_average_1m.start', value: loadBefore, unit: 'load' },
    { name: 'layer2.load_average_1m.end', value: loadAverage(), unit: 'load' },
  ];
  if (!wanted.flood) return results;

  ctx.log('layer2: 1,000 IPs, RSS and a 20,000 req/s flood for unowned IPs');
  const many = Array.from({ length: 1000 }, (_, i) => `10.${bed.v4.split('.')[1] ?? '0'}.${String(200 + Math.floor(i / 250))}.${String(1 + (i % 250))}`);
  const a = await startAnnouncer(bed, many);
  try {
    const pid = a.child.pid ?? 0;
    results.push({ name: 'layer2.responder_rss_mb', value: rssMb(pid), unit: 'MB' });
    const unowned = Array.from({ length: 100 }, (_, i) => `${bed.v4}${String(150 + i)}`);
    const before = cpuTicks(pid);
    const started = performance.now();
    // 200 requests every 10 ms = 20,000/s, for 2 s.
    await probe(bed, { kind: 'arp', targets: unowned, senders: [`${bed.v4}2`], count: 40_000, batch: 200, gapMs: 10 });
    const seconds = (performance.now() - started) / 1000;
    results.push({ name: 'layer2.flood_cpu_pct', value: Math.round(((cpuTicks(pid) - before) / 100 / seconds) * 1000) / 10, unit: '%' });
  } finally {
    await stop(a);
  }
  return results;
}

/** ARP and NDP reply latency and misses, kernel vs XDP vs AF_PACKET vs JS; memory with 1,000 IPs; CPU under a flood. */
export const layer2Suite: BenchSuite & { readonly notes: string } = {
  name: 'layer2',
  needsRoot: true,
  notes: `Modes: \`kernel\` is the responder namespace's own kernel answering for its address; \`xdp\` is \`--layer2-mode xdp\`; \`ironlb\` is the AF_PACKET sockets with the native ARP and NDP fast paths; \`ironlb_js\` answers both in JavaScript (\`--js-arp\`, ARP rows only); \`metallb_style\` is bench/metallb-style/main.go, a responder written the way MetalLB's speaker answers: ARP on github.com/mdlayher/arp (one goroutine blocked in \`Client.Read\`, the owned set behind a \`sync.RWMutex\`, \`Client.Reply\`), NDP on github.com/mdlayher/ndp (an ICMPv6 socket on the link-local address, \`Conn.ReadFrom\`, the advertisement written to the soliciter through the IPv6 stack, whose neighbour cache the bench fills first), built with Debian's Go 1.19, \`golang-github-mdlayher-arp-dev\` and \`golang-github-mdlayher-ndp-dev\` (scripts/ensure-bench-tools.sh installs them; when they cannot be had the run says so and has no \`metallb_style\` rows). ${String(rounds)} rounds of ${String(probesPerRound)} probes per mode, the order of the modes rotated each round, one probe every 4 ms, each from its own sender address; times are request-out to answer-in in a tcpdump capture in the peer. \`missed\` counts probes sent (as the prober's socket took them) without an answer in the capture. \`*_throttled\`: each responder's process in a CPU cgroup with 5 ms per 100 ms (cpu.max 5%) while the peer sends 5,000 ARP requests/s for unowned addresses. The peer's veth carries a pass-everything XDP program in every mode (XDP_TX on veth needs NAPI on the receiving side). \`*_reply_ratio.ironlb_vs_metallb_style\` is the median over the rounds of the AF_PACKET path's median over the MetalLB-style median in the same round. \`load_average_1m\`: /proc/loadavg at the start and the end of the run (this machine is shared: compare modes within a run, not across runs).`,
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
