import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPcap } from '../../bench/layer2.js';
import { ipv4Key, ipv6Key } from '../../src/layer2/packet/address.js';
import { icmpv6Checksum } from '../../src/layer2/packet/ndp.js';
import { respondArp, respondNdp, type ResponderView } from '../../src/layer2/responder.js';
import { cliPath, repoRoot } from '../helpers/cli.js';
import { createTestbed, exited, nsExec, nsSpawn, pause, sh, waitFor, type Testbed } from '../helpers/netns.js';
import { sendFromPeer } from '../helpers/raw-frames.js';
import { canRunRootTests } from '../helpers/root.js';

// The XDP responder (--layer2-mode xdp) against the real kernel as peer. On veth, frames an XDP
// program sends back with XDP_TX reach the peer only when the peer's receive side runs NAPI: an
// XDP program there too (or GRO). The peer gets our own object, loaded unconfigured, which
// passes every frame (its config map says "not enabled"). A physical NIC needs nothing of this.
const objectPath = join(repoRoot, 'native', 'xdp', 'build', 'responder.bpf.o');

// Holds one XdpResponder on an interface; SIGUSR1 empties its owned set and prints "changed".
const holderSource = `
import { createRequire } from 'node:module';
const p = JSON.parse(process.env.HOLD);
const { XdpResponder } = createRequire(p.root + '/')('./native/xdp/build/Release/xdp.node');
const x = new XdpResponder(p.ifindex, p.object);
const mac = Buffer.from(p.mac.replace(/:/g, ''), 'hex');
x.set(mac, Buffer.from(p.ip.split('.').map(Number)), Buffer.alloc(0));
process.on('SIGUSR1', () => { x.set(mac, Buffer.alloc(0), Buffer.alloc(0)); console.log('changed'); });
console.log('ready');
setInterval(() => {}, 1000);
`;

const macBytes = (mac: string): number[] => mac.split(':').map((h) => parseInt(h, 16));
const ipBytes = (ip: string): number[] => ip.split('.').map(Number);

function ipv6Bytes(text: string): number[] {
  const [head = '', tail = ''] = text.split('::');
  const groups = (s: string): number[] => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const h = groups(head);
  const t = groups(tail);
  const all = [...h, ...Array<number>(8 - h.length - t.length).fill(0), ...t];
  return all.flatMap((g) => [g >> 8, g & 0xff]);
}

/** An ARP request (or, with `op: 2`, a reply) broadcast from `ethSrc`. */
function arpRequest(f: { ethSrc: number[]; senderMac: number[]; senderIp: number[]; targetIp: number[]; op?: number }): string {
  const bytes = [...Array<number>(6).fill(0xff), ...f.ethSrc, 0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, f.op ?? 1, ...f.senderMac, ...f.senderIp, 0, 0, 0, 0, 0, 0, ...f.targetIp];
  return Buffer.from(bytes).toString('hex');
}

/**
 * A Neighbor Solicitation: to the target's solicited-node group (or unicast `to`), with a source
 * link-layer option unless told otherwise, then `padOptions` 8-byte options of an unknown type
 * (RFC 4861 4.6: ignored); `spoilChecksum` breaks the checksum; hop limit 255 unless given.
 */
function solicitation(f: { mac: number[]; src: number[]; target: number[]; to?: { mac: number[]; ip: number[] }; noSourceLinkAddress?: boolean; spoilChecksum?: boolean; hopLimit?: number; padOptions?: number }): string {
  const dst = f.to?.ip ?? [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, ...f.target.slice(13)];
  const ethDst = f.to?.mac ?? [0x33, 0x33, ...dst.slice(12)];
  const pad = Array.from({ length: f.padOptions ?? 0 }, () => [200, 1, 0, 0, 0, 0, 0, 0]).flat();
  const icmp = new Uint8Array([135, 0, 0, 0, 0, 0, 0, 0, ...f.target, ...(f.noSourceLinkAddress === true ? [] : [1, 1, ...f.mac]), ...pad]);
  const sum = icmpv6Checksum(new Uint8Array(f.src), new Uint8Array(dst), icmp) ^ (f.spoilChecksum === true ? 0x0101 : 0);
  icmp[2] = sum >> 8;
  icmp[3] = sum & 0xff;
  const ip = [0x60, 0, 0, 0, icmp.length >> 8, icmp.length & 0xff, 58, f.hopLimit ?? 255, ...f.src, ...dst];
  return Buffer.from([...ethDst, ...f.mac, 0x86, 0xdd, ...ip, ...icmp]).toString('hex');
}

async function ifindexOf(ns: string, ifname: string): Promise<number> {
  return Number((await nsExec(ns, ['cat', `/sys/class/net/${ifname}/ifindex`])).trim());
}

async function send(bed: Testbed, frames: readonly string[]): Promise<void> {
  await sendFromPeer(bed, frames);
}

async function metrics(bed: Testbed, port: number): Promise<string> {
  const script = `fetch('http://127.0.0.1:${String(port)}/metrics').then((r) => r.text()).then((t) => { process.stdout.write(t); })`;
  return nsExec(bed.a, [process.execPath, '-e', script]);
}

function sumOf(text: string, pattern: RegExp): number {
  return [...text.matchAll(pattern)].reduce((n, m) => n + Number(m[1]), 0);
}

async function xdpProgram(ns: string, ifname: string): Promise<string | undefined> {
  const out = await nsExec(ns, ['ip', 'link', 'show', ifname]);
  return /prog\/xdp id \d+/.exec(out)?.[0];
}

async function arping(bed: Testbed, ip: string, count = 3): Promise<number> {
  const r = await sh('ip', ['netns', 'exec', bed.b, 'arping', '-c', String(count), '-w', String(count + 1), '-I', bed.ifB, ip], 20_000);
  return Number(/Received (\d+) response/.exec(r.stdout)?.[1] ?? 0);
}

async function ndisc(bed: Testbed, ip: string): Promise<string> {
  return (await sh('ip', ['netns', 'exec', bed.b, 'ndisc6', '-1', '-r', '2', '-w', '500', ip, bed.ifB], 20_000)).stdout;
}

async function peerPassProgram(bed: Testbed): Promise<void> {
  await nsExec(bed.b, ['ip', 'link', 'set', bed.ifB, 'xdp', 'obj', objectPath, 'sec', 'xdp']);
}

describe.skipIf(!canRunRootTests('layer2 XDP responder (netns)'))('ironlb announce --layer2-mode xdp against the kernel as peer', () => {
  let bed: Testbed;
  let announcer: ReturnType<typeof nsSpawn>;
  const port = 17500 + (process.pid % 400);
  let v4: string;
  let v6: string;

  beforeAll(async () => {
    bed = await createTestbed('xdp');
    v4 = `${bed.v4}100`;
    v6 = `${bed.v6}100`;
    await peerPassProgram(bed);
    announcer = nsSpawn(bed, bed.a, [process.execPath, cliPath, 'announce', '--layer2-mode', 'xdp', '--log-level', 'debug', '--interface', bed.ifA, '--ip', v4, '--ip', v6, '--metrics-port', String(port), '--metrics-host', '127.0.0.1', '--reannounce-interval', '0']);
    await waitFor('the XDP responder to attach', () => announcer.output().includes('"xdpAttached"'));
    await waitFor('announce to listen', () => announcer.output().includes('obsListening'));
    await pause(2500); // the start-up gratuitous bursts (0, 1, 2 s) are over
  }, 30_000);

  afterAll(async () => {
    await bed.cleanup();
  });

  it('attaches to the interface', async () => {
    expect(await xdpProgram(bed.a, bed.ifA)).toBeDefined();
  });

  it('answers ARP and NDP in XDP: the peer gets the answers, userspace never sees the requests', async () => {
    const before = announcer.output().length;
    expect(await arping(bed, v4)).toBe(3);
    const na = await ndisc(bed, v6);
    expect(na).toContain(`Target link-layer address: ${bed.macA.toUpperCase()}`);
    expect(na).toContain(`from ${v6}`);
    // The JS and native responders log every answer at debug; XDP answers are only counted.
    expect(announcer.output().slice(before)).not.toContain('requestAnswered');
    await pause(2500); // counters are folded into the metrics on the announcer's poll (every 2 s)
    const text = await metrics(bed, port);
    expect(sumOf(text, new RegExp(`^ironlb_layer2_responses_sent_total\\{ip="${v4}",[^}]*\\} (\\d+)`, 'gm'))).toBeGreaterThanOrEqual(3);
    expect(sumOf(text, new RegExp(`^ironlb_layer2_responses_sent_total\\{ip="${v6}",[^}]*\\} (\\d+)`, 'gm'))).toBeGreaterThanOrEqual(1);
  }, 30_000);

  it('answers a unicast NS without a source link-layer option, a DAD probe and ARP with the same bytes as respondNdp/respondArp', async () => {
    const pcap = join('/tmp', `${bed.b}-xdp-bytes.pcap`);
    const capture = nsSpawn(bed, bed.b, ['tcpdump', '-i', bed.ifB, '--immediate-mode', '-U', '-n', '-w', pcap, 'arp or icmp6']);
    try {
      await waitFor('tcpdump', () => capture.output().includes('listening'));
      const peer = macBytes(bed.macB);
      const target = ipv6Bytes(v6);
      const unicast = solicitation({ mac: peer, src: ipv6Bytes(`${bed.v6}2`), target, to: { mac: macBytes(bed.macA), ip: target }, noSourceLinkAddress: true });
      const dad = solicitation({ mac: peer, src: Array<number>(16).fill(0), target, noSourceLinkAddress: true });
      const arp = arpRequest({ ethSrc: peer, senderMac: peer, senderIp: [0, 0, 0, 0], targetIp: ipBytes(v4) }); // an RFC 5227 probe
      const before = announcer.output().length;
      await send(bed, [unicast, dad, arp]);
      await pause(1000);
      capture.child.kill('SIGINT');
      await exited(capture.child);
      expect(announcer.output().slice(before)).not.toContain('requestAnswered');
      const sentByA = readPcap(readFileSync(pcap)).map((f) => f.data.toString('hex'))
        // A's answers (ARP replies, Neighbor Advertisements), not its kernel's own router solicitations.
        .filter((h) => h.slice(12, 24) === bed.macA.replace(/:/g, '') && (h.slice(24, 28) === '0806' || h.slice(108, 110) === '88'));
      const mac = new Uint8Array(macBytes(bed.macA));
      const view: ResponderView = { mac, ownsIpv4: (k) => k === ipv4Key(new Uint8Array(ipBytes(v4))), ownsIpv6: (k) => k === ipv6Key(new Uint8Array(target)) };
      const expected = [respondNdp(Buffer.from(unicast, 'hex'), view), respondNdp(Buffer.from(dad, 'hex'), view), respondArp(Buffer.from(arp, 'hex'), view)].map((d) => (d.kind === 'reply' ? Buffer.from(d.frame).toString('hex') : d.reason));
      expect(sentByA).toEqual(expected);
    } finally {
      capture.child.kill('SIGKILL');
      await sh('rm', ['-f', pcap]);
    }
  }, 30_000);

  it('passes unowned and bad frames up unanswered, where the AF_PACKET responder counts them by reason', async () => {
    const pcap = join('/tmp', `${bed.b}-xdp.pcap`);
    const capture = nsSpawn(bed, bed.b, ['tcpdump', '-i', bed.ifB, '--immediate-mode', '-U', '-n', '-e', '-w', pcap, 'arp or icmp6']);
    try {
      await waitFor('tcpdump', () => capture.output().includes('listening'));
      const before = await metrics(bed, port);
      const peer = macBytes(bed.macB);
      const self = ipBytes(`${bed.v4}2`);
      const target = ipBytes(v4);
      const src6 = ipv6Bytes(`${bed.v6}2`);
      await send(bed, [
        arpRequest({ ethSrc: peer, senderMac: [0xff, 0xff, 0xff, 0xff, 0xff, 0xff], senderIp: self, targetIp: target }),
        arpRequest({ ethSrc: peer, senderMac: peer, senderIp: [224, 0, 0, 1], targetIp: target }),
        arpRequest({ ethSrc: peer, senderMac: peer, senderIp: target, targetIp: target }), // another MAC's gratuitous ARP for our IP
        arpRequest({ ethSrc: peer, senderMac: peer, senderIp: self, targetIp: ipBytes(`${bed.v4}77`) }), // not owned
        solicitation({ mac: peer, src: src6, target: ipv6Bytes(v6), spoilChecksum: true }),
        solicitation({ mac: peer, src: src6, target: ipv6Bytes(`${bed.v6}77`) }), // not owned
      ]);
      await pause(2500); // XDP's counters reach the metrics on the announcer's poll (every 2 s)
      capture.child.kill('SIGINT');
      await exited(capture.child);
      const decoded = (await sh('tcpdump', ['-r', pcap, '-n', '-e'])).stdout;
      // No ARP reply or Neighbor Advertisement from A (its kernel's router solicitations aside).
      const answers = decoded.split('\n').filter((l) => l.includes(` ${bed.macA} >`) && (l.includes('Reply') || l.includes('neighbor advertisement')));
      expect(answers).toEqual([]);
      const after = await metrics(bed, port);
      const drops = (text: string, reason: string): number => sumOf(text, new RegExp(`^ironlb_layer2_drops_total\\{reason="${reason}",[^}]*\\} (\\d+)`, 'gm'));
      expect({
        badSender: drops(after, 'badSender') - drops(before, 'badSender'),
        conflict: drops(after, 'conflict') - drops(before, 'conflict'),
        badChecksum: drops(after, 'badChecksum') - drops(before, 'badChecksum'),
        notOwned: drops(after, 'notOwned') - drops(before, 'notOwned'),
      }).toEqual({ badSender: 2, conflict: 1, badChecksum: 1, notOwned: 2 });
    } finally {
      capture.child.kill('SIGKILL');
      await sh('rm', ['-f', pcap]);
    }
  }, 30_000);

  it('counts what XDP judged in ironlb_layer2_drops_total, each frame once, with what only it sees', async () => {
    const before = await metrics(bed, port);
    const peer = macBytes(bed.macB);
    const self = ipBytes(`${bed.v4}2`);
    const src6 = ipv6Bytes(`${bed.v6}2`);
    await send(bed, [
      // Judged notOwned in XDP, then seen again by the native fast path: counted once each.
      ...[77, 78, 79].map((n) => arpRequest({ ethSrc: peer, senderMac: peer, senderIp: self, targetIp: ipBytes(`${bed.v4}${String(n)}`) })),
      // Longer than the program parses (136 bytes): left to userspace, which counts it notOwned.
      solicitation({ mac: peer, src: src6, target: ipv6Bytes(`${bed.v6}77`), padOptions: 13 }),
      // Seen only by XDP: the NDP socket's filter drops other hop limits, the ARP socket's replies.
      solicitation({ mac: peer, src: src6, target: ipv6Bytes(v6), hopLimit: 64 }),
      arpRequest({ ethSrc: peer, senderMac: peer, senderIp: ipBytes(v4), targetIp: ipBytes(v4), op: 2 }), // another MAC's gratuitous reply for our IP
    ]);
    await pause(2500); // the announcer folds counters into the metrics every 2 s
    const after = await metrics(bed, port);
    const drops = (text: string, reason: string): number => sumOf(text, new RegExp(`^ironlb_layer2_drops_total\\{reason="${reason}",[^}]*\\} (\\d+)`, 'gm'));
    expect({
      notOwned: drops(after, 'notOwned') - drops(before, 'notOwned'),
      badHopLimit: drops(after, 'badHopLimit') - drops(before, 'badHopLimit'),
      conflict: drops(after, 'conflict') - drops(before, 'conflict'),
    }).toEqual({ notOwned: 4, badHopLimit: 1, conflict: 1 });
  }, 30_000);

  it('detaches on exit', async () => {
    announcer.child.kill('SIGTERM');
    await exited(announcer.child);
    expect(await xdpProgram(bed.a, bed.ifA)).toBeUndefined();
  }, 15_000);
});

describe.skipIf(!canRunRootTests('layer2 XDP ownership and crash (netns)'))('the XDP responder, held by a process', () => {
  let bed: Testbed;

  beforeAll(async () => {
    bed = await createTestbed('xdpk');
    await peerPassProgram(bed);
  }, 30_000);

  afterAll(async () => {
    await bed.cleanup();
  });

  it('applies an ownership change at once, and is detached after SIGKILL', async () => {
    const ip = `${bed.v4}100`;
    const hold = JSON.stringify({ root: repoRoot, object: objectPath, ifindex: await ifindexOf(bed.a, bed.ifA), mac: bed.macA, ip });
    const holder = nsSpawn(bed, bed.a, ['env', `HOLD=${hold}`, process.execPath, '--input-type=module', '-e', holderSource]);
    await waitFor('the holder', () => holder.output().includes('ready'));
    expect(await arping(bed, ip, 1)).toBe(1);
    holder.child.kill('SIGUSR1');
    await waitFor('the change', () => holder.output().includes('changed'));
    expect(await arping(bed, ip, 2)).toBe(0);
    expect(await xdpProgram(bed.a, bed.ifA)).toBeDefined();
    holder.child.kill('SIGKILL');
    await exited(holder.child);
    await pause(200);
    expect(await xdpProgram(bed.a, bed.ifA)).toBeUndefined();
  }, 30_000);
});

describe.skipIf(!canRunRootTests('layer2 XDP fallback (netns)'))('--layer2-mode xdp without CAP_BPF and CAP_NET_ADMIN', () => {
  let bed: Testbed;

  beforeAll(async () => {
    bed = await createTestbed('xdpf');
  }, 30_000);

  afterAll(async () => {
    await bed.cleanup();
  });

  it('falls back to AF_PACKET, says so in one log line and in the metrics, and still answers', async () => {
    const port = 17900 + (process.pid % 90);
    const ip = `${bed.v4}100`;
    // Root without these capabilities in its bounding set execs node without them.
    const a = nsSpawn(bed, bed.a, ['setpriv', '--bounding-set', '-bpf,-net_admin,-sys_admin', '--', 'env', 'IRONLB_LAYER2_MODE=xdp', process.execPath, cliPath, 'announce', '--interface', bed.ifA, '--ip', ip, '--metrics-port', String(port), '--metrics-host', '127.0.0.1', '--reannounce-interval', '0']);
    await waitFor('announce to listen', () => a.output().includes('obsListening'));
    const fallbacks = a.output().split('\n').filter((l) => l.includes('"xdpFallback"'));
    expect(fallbacks).toHaveLength(1);
    expect(fallbacks[0]).toContain('"reason":"noCapability"');
    expect(fallbacks[0]).toContain('needs CAP_BPF and CAP_NET_ADMIN');
    expect(await metrics(bed, port)).toMatch(/^ironlb_layer2_xdp_fallbacks_total\{reason="noCapability"\} 1$/m);
    expect(await arping(bed, ip, 2)).toBe(2);
    expect(await xdpProgram(bed.a, bed.ifA)).toBeUndefined();
    a.child.kill('SIGTERM');
    await exited(a.child);
  }, 30_000);
});

describe.skipIf(!canRunRootTests('layer2 XDP with the speaker stopped (netns)'))('the XDP responder while its process gets no CPU', () => {
  let bed: Testbed;

  beforeAll(async () => {
    bed = await createTestbed('xdps');
    await peerPassProgram(bed);
  }, 30_000);

  afterAll(async () => {
    await bed.cleanup(); // SIGKILL ends stopped processes too
  });

  // The limit of a throttled or starved speaker (docs/layer2.md, "Modes"): SIGSTOP freezes every
  // thread of the process, the AF_PACKET receiver thread included.
  it.each([
    { name: 'XDP answers every request while the process is stopped', mode: 'xdp', host: 100, want: 3 },
    { name: 'AF_PACKET (the contrast) answers none', mode: 'af-packet', host: 101, want: 0 },
  ])('$name', async ({ mode, host, want }) => {
    const ip = `${bed.v4}${String(host)}`;
    const a = nsSpawn(bed, bed.a, [process.execPath, cliPath, 'announce', '--layer2-mode', mode, '--interface', bed.ifA, '--ip', ip, '--reannounce-interval', '0']);
    await waitFor('announce', () => a.output().includes('"interfaceAnnouncing"'));
    if (mode === 'xdp') await waitFor('the XDP responder to attach', () => a.output().includes('"xdpAttached"'));
    await pause(2500); // the start-up gratuitous bursts are over
    expect(await arping(bed, ip, 1)).toBe(1);
    a.child.kill('SIGSTOP');
    try {
      expect(await arping(bed, ip, 3)).toBe(want);
    } finally {
      a.child.kill('SIGCONT');
      a.child.kill('SIGTERM');
      await exited(a.child);
    }
  }, 30_000);
});
