import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliPath } from '../helpers/cli.js';
import { createTestbed, nsExec, nsSpawn, pause, sh, waitFor, type Testbed } from '../helpers/netns.js';
import { sendFromPeer } from '../helpers/raw-frames.js';
import { canRunRootTests } from '../helpers/root.js';

const macBytes = (mac: string): number[] => mac.split(':').map((h) => parseInt(h, 16));
const ipBytes = (ip: string): number[] => ip.split('.').map(Number);

/** An ARP request frame with every field chosen by the test. */
function arpRequest(f: { ethSrc: number[]; senderMac: number[]; senderIp: number[]; targetIp: number[] }): string {
  const bytes = [...Array<number>(6).fill(0xff), ...f.ethSrc, 0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1, ...f.senderMac, ...f.senderIp, 0, 0, 0, 0, 0, 0, ...f.targetIp];
  return Buffer.from(bytes).toString('hex');
}

async function dropCounts(bed: Testbed, port: number): Promise<Record<string, number>> {
  const script = `fetch('http://127.0.0.1:${String(port)}/metrics').then((r) => r.text()).then((t) => { process.stdout.write(t); })`;
  const text = await nsExec(bed.a, [process.execPath, '-e', script]);
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^ironlb_layer2_drops_total\{reason="(\w+)",interface="[^"]+"\} (\d+)/gm)) out[m[1] ?? ''] = (out[m[1] ?? ''] ?? 0) + Number(m[2]);
  return out;
}

describe.skipIf(!canRunRootTests('layer2 bad frames (netns)'))('ironlb announce against bad ARP frames, C fast path on', () => {
  let bed: Testbed;
  let capture: ReturnType<typeof nsSpawn>;
  let pcap: string;
  let owned: string;
  const port = 17000 + (process.pid % 1000);

  beforeAll(async () => {
    bed = await createTestbed('bad');
    owned = `${bed.v4}100`;
    pcap = join('/tmp', `${bed.b}.pcap`);
    const announcer = nsSpawn(bed, bed.a, [process.execPath, cliPath, 'announce', '--interface', bed.ifA, '--ip', owned, '--metrics-port', String(port), '--metrics-host', '127.0.0.1', '--reannounce-interval', '0']);
    await waitFor('announce to listen', () => announcer.output().includes('obsListening'));
    await pause(2500); // the start-up gratuitous bursts (0, 1, 2 s) are over
    capture = nsSpawn(bed, bed.b, ['tcpdump', '-i', bed.ifB, '--immediate-mode', '-U', '-n', '-e', '-w', pcap, 'arp']);
    await waitFor('tcpdump', () => capture.output().includes('listening'));
  });

  afterAll(async () => {
    await bed.cleanup();
    await sh('rm', ['-f', pcap]);
  });

  it('answers only the well-formed request, and counts the others by reason', async () => {
    const peer = macBytes(bed.macB);
    const target = ipBytes(owned);
    const frames = [
      arpRequest({ ethSrc: peer, senderMac: peer, senderIp: ipBytes(`${bed.v4}2`), targetIp: target }), // the control: answered
      arpRequest({ ethSrc: peer, senderMac: [0xff, 0xff, 0xff, 0xff, 0xff, 0xff], senderIp: ipBytes(`${bed.v4}2`), targetIp: target }),
      arpRequest({ ethSrc: peer, senderMac: [0, 0, 0, 0, 0, 0], senderIp: ipBytes(`${bed.v4}2`), targetIp: target }),
      arpRequest({ ethSrc: peer, senderMac: [0x01, 0x00, 0x5e, 0, 0, 1], senderIp: ipBytes(`${bed.v4}2`), targetIp: target }),
      arpRequest({ ethSrc: peer, senderMac: peer, senderIp: [224, 0, 0, 1], targetIp: target }),
      arpRequest({ ethSrc: peer, senderMac: peer, senderIp: [255, 255, 255, 255], targetIp: target }),
      arpRequest({ ethSrc: peer, senderMac: peer, senderIp: target, targetIp: target }), // another MAC's gratuitous ARP for our IP
    ];
    await sendFromPeer(bed, frames);
    await pause(1000);
    capture.child.kill('SIGINT');
    await pause(500);
    const decoded = (await sh('tcpdump', ['-r', pcap, '-n', '-e'])).stdout;
    const replies = decoded.split('\n').filter((l) => l.includes(`${bed.macA} >`) && l.includes('Reply'));
    expect(replies).toHaveLength(1);
    expect(replies[0]).toContain(`${bed.macA} > ${bed.macB}`);
    expect(await dropCounts(bed, port)).toMatchObject({ badSender: 5, conflict: 1 });
  });
});
