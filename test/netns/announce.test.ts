import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliPath } from '../helpers/cli.js';
import { createTestbed, exited, nsExec, nsSpawn, pause, sh, waitFor, type Testbed } from '../helpers/netns.js';
import { canRunRootTests } from '../helpers/root.js';

const staleMac = '02:00:5e:10:00:99';

async function neighbour(bed: Testbed, ip: string): Promise<string> {
  return (await sh('ip', ['-n', bed.b, 'neigh', 'show', ip, 'dev', bed.ifB])).stdout.trim().toLowerCase();
}

async function arping(bed: Testbed, ip: string, count: number): Promise<string> {
  return (await sh('ip', ['netns', 'exec', bed.b, 'arping', '-c', String(count), '-w', String(count + 1), '-I', bed.ifB, ip], 10_000)).stdout.toLowerCase();
}

describe.skipIf(!canRunRootTests('layer2 announce (netns)'))('ironlb announce on real kernels', () => {
  let bed: Testbed;
  let announcer: ReturnType<typeof nsSpawn>;
  let capture: ReturnType<typeof nsSpawn>;
  let pcap: string;
  let ip4: string;
  let ip6: string;

  beforeAll(async () => {
    bed = await createTestbed('l2');
    ip4 = `${bed.v4}100`;
    ip6 = `${bed.v6}100`;
    pcap = join('/tmp', `${bed.b}.pcap`);
    // The kube-proxy stand-in: the service IPs are local on lo (so ping gets an echo reply),
    // and arp_ignore=1 / arp_announce=2 (kube-proxy's strictARP) keep the kernel from
    // answering ARP for them; the kernel answers NS only for addresses on the receiving link.
    await nsExec(bed.a, ['ip', 'addr', 'add', `${ip4}/32`, 'dev', 'lo']);
    await nsExec(bed.a, ['ip', 'addr', 'add', `${ip6}/128`, 'dev', 'lo']);
    for (const dev of ['all', bed.ifA]) {
      await nsExec(bed.a, ['sysctl', '-qw', `net.ipv4.conf.${dev}.arp_ignore=1`, `net.ipv4.conf.${dev}.arp_announce=2`]);
    }
    // Peer: stale entries pointing at another MAC (failover), and a fast NUD probe.
    await nsExec(bed.b, ['ip', 'neigh', 'replace', ip4, 'lladdr', staleMac, 'dev', bed.ifB, 'nud', 'stale']);
    await nsExec(bed.b, ['ip', 'neigh', 'replace', ip6, 'lladdr', staleMac, 'dev', bed.ifB, 'nud', 'stale']);
    await nsExec(bed.b, ['sysctl', '-qw', `net.ipv6.neigh.${bed.ifB}.delay_first_probe_time=1`]);
    capture = nsSpawn(bed, bed.b, ['tcpdump', '-i', bed.ifB, '-U', '-n', '-w', pcap, 'arp or icmp6']);
    await waitFor('tcpdump', () => capture.output().includes('listening'));
  });

  afterAll(async () => {
    await bed.cleanup();
    await sh('rm', ['-f', pcap]);
  });

  it('the kernel alone does not answer for the service IPs (control)', async () => {
    expect(await arping(bed, ip4, 1)).toContain('received 0 response');
  });

  it('announces, answers ARP and NDP with its MAC, and updates stale peers', async () => {
    announcer = nsSpawn(bed, bed.a, [process.execPath, cliPath, 'announce', '--interface', bed.ifA, '--ip', ip4, '--ip', ip6, '--log-level', 'debug']);
    await waitFor('announcer start', () => announcer.output().includes('"interfaceAnnouncing"'));
    // The gratuitous bursts go out at 0, 1 and 2 s.
    await pause(2500);
    expect(await neighbour(bed, ip4)).toContain(bed.macA);
    expect(await neighbour(bed, ip6)).toContain(bed.macA);

    const reply = await arping(bed, ip4, 3);
    expect(reply).toContain(`[${bed.macA}]`);
    expect(reply).toContain('received 3 response');
    const ndisc = await sh('ip', ['netns', 'exec', bed.b, 'ndisc6', '-r', '2', '-w', '500', ip6, bed.ifB]);
    expect(ndisc.stdout.toLowerCase()).toContain(`target link-layer address: ${bed.macA}`);
    expect(ndisc.stdout).toContain(`from ${ip6}`);
  });

  it('carries traffic: ping and ping -6 get replies and the peer resolves to its MAC', async () => {
    await nsExec(bed.b, ['ip', 'neigh', 'flush', 'dev', bed.ifB]);
    expect((await sh('ip', ['netns', 'exec', bed.b, 'ping', '-c', '1', '-W', '2', ip4])).code).toBe(0);
    expect((await sh('ip', ['netns', 'exec', bed.b, 'ping', '-6', '-c', '1', '-W', '2', ip6])).code).toBe(0);
    expect(await neighbour(bed, ip4)).toContain(bed.macA);
    expect(await neighbour(bed, ip6)).toContain(bed.macA);
  });

  it('answers a unicast Neighbor Solicitation (NUD re-probe, MetalLB #2920)', async () => {
    await nsExec(bed.b, ['ip', 'neigh', 'replace', ip6, 'lladdr', bed.macA, 'dev', bed.ifB, 'nud', 'stale']);
    expect((await sh('ip', ['netns', 'exec', bed.b, 'ping', '-6', '-c', '1', '-W', '2', ip6])).code).toBe(0);
    // STALE -> DELAY (1 s) -> PROBE: a unicast NS; only a solicited NA makes it REACHABLE.
    let state = '';
    for (let i = 0; i < 50 && !/reachable|failed/.test(state); i++) {
      state = await neighbour(bed, ip6);
      await pause(100);
    }
    expect(state).toContain('reachable');
    expect(state).toContain(bed.macA);
  });

  it('does not answer for an address it does not own', async () => {
    expect(await arping(bed, `${bed.v4}101`, 1)).toContain('received 0 response');
    const ndisc = await sh('ip', ['netns', 'exec', bed.b, 'ndisc6', '-r', '1', '-w', '500', `${bed.v6}101`, bed.ifB]);
    expect(ndisc.stdout.toLowerCase()).not.toContain('target link-layer address');
  });

  it('logged its answers at debug level', () => {
    expect(announcer.output()).toContain('"requestAnswered"');
    expect(announcer.output()).toContain('"gratuitousSent"');
  });

  it('exits 0 within 2 s of SIGTERM and answers nothing afterwards', async () => {
    const started = Date.now();
    announcer.child.kill('SIGTERM');
    const code = await exited(announcer.child);
    expect(code).toBe(0);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(await arping(bed, ip4, 1)).toContain('received 0 response');
  });

  it('the JavaScript responder (--js-arp) answers ARP the same way', async () => {
    const js = nsSpawn(bed, bed.a, [process.execPath, cliPath, 'announce', '--interface', bed.ifA, '--ip', ip4, '--js-arp', '--log-level', 'debug']);
    await waitFor('announcer start', () => js.output().includes('"interfaceAnnouncing"'));
    const reply = await arping(bed, ip4, 2);
    expect(reply).toContain(`[${bed.macA}]`);
    expect(reply).toContain('received 2 response');
    expect(await arping(bed, `${bed.v4}101`, 1)).toContain('received 0 response');
    expect(js.output()).toContain('"path":"js"');
    js.child.kill('SIGTERM');
    expect(await exited(js.child)).toBe(0);
  });

  it('sent well-formed gratuitous ARP and unsolicited NA (tcpdump decodes them)', async () => {
    capture.child.kill('SIGINT');
    await exited(capture.child);
    const decoded = (await sh('tcpdump', ['-r', pcap, '-n', '-e', '-vv'])).stdout;
    expect(decoded).toContain(`${bed.macA} > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), length 42: Ethernet (len 6), IPv4 (len 4), Request who-has ${ip4} tell ${ip4}`);
    expect(decoded).toContain(`Reply ${ip4} is-at ${bed.macA}`);
    const na = decoded.split(/\n(?=\d)/).find((p) => p.includes(`${bed.macA} > 33:33:00:00:00:01`) && p.includes('neighbor advertisement'));
    expect(na).toBeDefined();
    expect(na).toContain('hlim 255');
    expect(na).toContain(`${ip6} > ff02::1`);
    expect(na).toContain(`tgt is ${ip6}`);
    expect(na).toContain('Flags [override]');
    expect(na).toContain(`destination link-address option (2), length 8 (1): ${bed.macA}`);
    expect(decoded).not.toContain('bad icmp6 cksum');
    // A unicast NS (to our MAC, not a solicited-node group) arrived and was answered: a solicited
    // NA, from the target address, to the soliciter's MAC.
    const packets = decoded.split(/\n(?=\d)/);
    expect(packets.some((p) => p.includes(`${bed.macB} > ${bed.macA}`) && p.includes(`${bed.v6}100: [icmp6 sum ok] ICMP6, neighbor solicitation`))).toBe(true);
    const solicited = packets.filter((p) => p.includes(`${bed.macA} > ${bed.macB}`) && p.includes(`neighbor advertisement, length 32, tgt is ${ip6},`));
    expect(solicited.length).toBeGreaterThan(0);
    for (const p of solicited) {
      expect(p).toContain(`${ip6} > `);
      expect(p).toContain('Flags [solicited, override]');
    }
  });
});

describe.skipIf(!canRunRootTests('layer2 capability check (netns)'))('ironlb announce without CAP_NET_RAW', () => {
  it('fails at start-up with "needs CAP_NET_RAW" and exit 1', async () => {
    const r = await sh('setpriv', ['--inh-caps=-net_raw', '--bounding-set=-net_raw', process.execPath, cliPath, 'announce', '--interface', 'lo', '--ip', '10.0.0.1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('needs CAP_NET_RAW');
  });
});
