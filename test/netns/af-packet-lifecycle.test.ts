import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/cli.js';
import { createTestbed, exited, nsSpawn, pause, sh, waitFor, type Testbed } from '../helpers/netns.js';
import { canRunRootTests } from '../helpers/root.js';

// A closed socket's libuv handle must be released at close(), not at GC: otherwise the GC of a
// closed socket deregisters whichever new socket reused its fd number, and frames silently stop
// reaching JS (found by the benchmark: the JS responder went deaf after the first GC).
const script = `
import { createRequire } from 'node:module';
const { PacketSocket } = createRequire(process.env.ROOT + '/')('./native/build/Release/afpacket.node');
const ifindex = Number(process.env.IFINDEX);
(() => { new PacketSocket(0, 'arp', () => {}).close(); })();
let seen = 0;
const live = new PacketSocket(ifindex, 'arp', (frames) => { seen += frames.length; });
for (let i = 0; i < 5; i++) globalThis.gc();
console.log('ready');
setInterval(() => { globalThis.gc(); console.log('seen ' + seen); }, 200);
process.on('SIGTERM', () => { live.close(); process.exit(0); });
`;

// Requests are answered by the socket's receiver thread while the event loop is blocked; frames
// for JS queue up to MAX_QUEUED and the rest are counted as dropped, then delivered when the
// loop is free again.
const blocked = `
import { createRequire } from 'node:module';
const { PacketSocket } = createRequire(process.env.ROOT + '/')('./native/build/Release/afpacket.node');
let seen = 0;
const sock = new PacketSocket(Number(process.env.IFINDEX), 'arp', (frames) => { seen += frames.length; });
sock.setArpTable(Buffer.from(process.env.MAC.split(':').map((h) => parseInt(h, 16))), Buffer.from(process.env.IP.split('.').map(Number)), false);
process.on('SIGUSR2', () => {
  console.log('blocking');
  const until = Date.now() + 6000;
  while (Date.now() < until);
  console.log('unblocked drops ' + sock.takeCounters().queueDrops);
  setInterval(() => console.log('seen ' + seen), 200);
});
console.log('ready');
`;

// Sends N ARP requests from a multicast sender IP (224.0.0.1): the fast path leaves those to JS.
const flood = `
import { createRequire } from 'node:module';
const { PacketSocket } = createRequire(process.env.ROOT + '/')('./native/build/Release/afpacket.node');
const mac = Buffer.from(process.env.MAC.split(':').map((h) => parseInt(h, 16)));
const f = Buffer.alloc(42);
f.fill(0xff, 0, 6); mac.copy(f, 6); f.writeUInt16BE(0x0806, 12);
f.writeUInt16BE(1, 14); f.writeUInt16BE(0x0800, 16); f[18] = 6; f[19] = 4; f.writeUInt16BE(1, 20);
mac.copy(f, 22); Buffer.from([224, 0, 0, 1]).copy(f, 28); Buffer.from(process.env.IP.split('.').map(Number)).copy(f, 38);
const sock = new PacketSocket(Number(process.env.IFINDEX), 'arp', () => {});
let sent = 0;
const pump = () => {
  while (sent < Number(process.env.N) && sock.send(f)) sent++;
  if (sent < Number(process.env.N)) setImmediate(pump); else { console.log('sent ' + sent); sock.close(); }
};
pump();
`;

// close() does not wait for the socket's thread (it may sit up to 200 ms in recv): the thread
// closes the socket and is joined from the loop soon after. Nothing may be left behind: every
// thread and fd is gone within a second, and the process then exits on its own.
const teardown = `
import { createRequire } from 'node:module';
import { readdirSync } from 'node:fs';
const { PacketSocket } = createRequire(process.env.ROOT + '/')('./native/build/Release/afpacket.node');
const count = () => readdirSync('/proc/self/task').length + '/' + readdirSync('/proc/self/fd').length;
const before = count();
const socks = Array.from({ length: 20 }, (_, i) => new PacketSocket(0, i % 2 ? 'ndp' : 'arp', () => {}));
const open = count();
for (const s of socks) s.close();
const started = Date.now();
const check = () => {
  if (count() === before || Date.now() - started > 1000) console.log('before ' + before + ' open ' + open + ' after ' + count());
  else setTimeout(check, 20);
};
check();
`;

// The receiver thread asks for a short EEVDF slice (native/afpacket.c, prefer_short_slice): read
// back from /proc (se.slice, ns; the nice value is field 19 of stat) for every thread.
const slices = `
import { createRequire } from 'node:module';
import { readdirSync, readFileSync } from 'node:fs';
const { PacketSocket } = createRequire(process.env.ROOT + '/')('./native/build/Release/afpacket.node');
const sock = new PacketSocket(0, 'arp', () => {});
setTimeout(() => {
  for (const tid of readdirSync('/proc/self/task')) {
    const comm = readFileSync('/proc/self/task/' + tid + '/comm', 'utf8').trim();
    const slice = /se\\.slice\\s*:\\s*(\\d+)/.exec(readFileSync('/proc/self/task/' + tid + '/sched', 'utf8'))?.[1];
    const nice = readFileSync('/proc/self/task/' + tid + '/stat', 'utf8').split(') ')[1].split(' ')[16];
    console.log('thread ' + (tid === String(process.pid) ? 'main' : comm) + ' slice ' + slice + ' nice ' + nice);
  }
  sock.close();
}, 100);
`;

describe.skipIf(!canRunRootTests('AF_PACKET addon lifecycle (netns)'))('AF_PACKET addon lifecycle', () => {
  let bed: Testbed;
  beforeAll(async () => {
    bed = await createTestbed('afp');
  });
  afterAll(async () => {
    await bed.cleanup();
  });

  it('keeps receiving after a closed socket with the same fd number is garbage-collected', async () => {
    const ifindex = (await sh('ip', ['netns', 'exec', bed.a, 'cat', `/sys/class/net/${bed.ifA}/ifindex`])).stdout.trim();
    const child = nsSpawn(bed, bed.a, ['env', `ROOT=${repoRoot}`, `IFINDEX=${ifindex}`, process.execPath, '--expose-gc', '--input-type=module', '-e', script]);
    await waitFor('socket ready', () => child.output().includes('ready'));
    await sh('ip', ['netns', 'exec', bed.b, 'arping', '-c', '3', '-w', '4', '-I', bed.ifB, `${bed.v4}100`]);
    await waitFor('frames to reach JS', () => /seen [3-9]/.test(child.output()), 3000);
    child.child.kill('SIGTERM');
    expect(child.output()).toMatch(/seen [3-9]/);
  });

  it('gives the receiver thread and the event loop a 0.1 ms scheduler slice and keeps their nice value', async () => {
    const child = nsSpawn(bed, bed.a, ['env', `ROOT=${repoRoot}`, 'nice', '-n', '5', process.execPath, '--input-type=module', '-e', slices]);
    expect(await exited(child.child)).toBe(0);
    const threads = [...child.output().matchAll(/thread (\S+) slice (\d+) nice (-?\d+)/g)].map((m) => ({ comm: m[1], slice: Number(m[2]), nice: Number(m[3]) }));
    const receiver = threads.find((t) => t.comm === 'ironlb-arp');
    expect(receiver, child.output()).toEqual({ comm: 'ironlb-arp', slice: 100_000, nice: 5 });
    expect(threads.find((t) => t.comm === 'main')).toEqual({ comm: 'main', slice: 100_000, nice: 5 });
    // Only those two: V8's and libuv's worker threads keep the default slice.
    expect(threads.filter((t) => t.slice === 100_000)).toHaveLength(2);
  });

  it('close() ends the socket thread and closes its fds within a second', async () => {
    const child = nsSpawn(bed, bed.a, ['env', `ROOT=${repoRoot}`, process.execPath, '--input-type=module', '-e', teardown]);
    expect(await exited(child.child)).toBe(0);
    const m = /before (\d+)\/(\d+) open (\d+)\/(\d+) after (\d+)\/(\d+)/.exec(child.output());
    expect(m, child.output()).not.toBeNull();
    const [threads0, fds0, threadsOpen, fdsOpen, threads1, fds1] = m!.slice(1).map(Number);
    expect(threadsOpen).toBe(threads0! + 20);
    expect(fdsOpen).toBeGreaterThanOrEqual(fds0! + 20);
    expect([threads1, fds1]).toEqual([threads0, fds0]);
  });

  it('answers owned IPs while the event loop is blocked, and bounds the frames waiting for JS', async () => {
    const ifindex = async (ns: string, ifname: string) => (await sh('ip', ['netns', 'exec', ns, 'cat', `/sys/class/net/${ifname}/ifindex`])).stdout.trim();
    const ip = `${bed.v4}100`;
    const child = nsSpawn(bed, bed.a, ['env', `ROOT=${repoRoot}`, `IFINDEX=${await ifindex(bed.a, bed.ifA)}`, `MAC=${bed.macA}`, `IP=${ip}`, process.execPath, '--input-type=module', '-e', blocked]);
    await waitFor('socket ready', () => child.output().includes('ready'));
    child.child.kill('SIGUSR2');
    await waitFor('event loop blocked', () => child.output().includes('blocking'));
    const sent = 8000;
    const flooder = nsSpawn(bed, bed.b, ['env', `ROOT=${repoRoot}`, `IFINDEX=${await ifindex(bed.b, bed.ifB)}`, `MAC=${bed.macB}`, `IP=${ip}`, `N=${String(sent)}`, process.execPath, '--input-type=module', '-e', flood]);
    const arping = await sh('ip', ['netns', 'exec', bed.b, 'arping', '-c', '3', '-w', '3', '-I', bed.ifB, ip]);
    expect(child.output()).not.toContain('unblocked');
    expect(arping.stdout).toContain(bed.macA.toUpperCase());
    expect(arping.stdout).toMatch(/Received 3 response/);
    await waitFor('flood sent', () => flooder.output().includes(`sent ${String(sent)}`));
    await waitFor('event loop free again', () => /seen \d+/.test(child.output()), 8000);
    const drops = Number(/unblocked drops (\d+)/.exec(child.output())?.[1]);
    await pause(400);
    const seen = Math.max(...[...child.output().matchAll(/seen (\d+)/g)].map((m) => Number(m[1])));
    expect(drops).toBeGreaterThan(0);
    expect(seen).toBe(4096);
    child.child.kill('SIGKILL');
  });
});
