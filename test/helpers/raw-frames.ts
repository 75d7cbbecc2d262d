import { repoRoot } from './cli.js';
import { nsExec, sh, type Testbed } from './netns.js';

// Sends raw frames from the peer namespace through ironlb's own AF_PACKET addon.
const senderSource = `
import { createRequire } from 'node:module';
const p = JSON.parse(process.env.FRAMES);
const { PacketSocket } = createRequire(p.root + '/')('./native/build/Release/afpacket.node');
const sock = new PacketSocket(p.ifindex, 'arp', () => {});
for (const hex of p.frames) sock.send(Buffer.from(hex, 'hex'));
setTimeout(() => { sock.close(); }, 200);
`;

/** Sends each frame (hex) out of the testbed's peer interface, as written; throws when it cannot. */
export async function sendFromPeer(bed: Testbed, frames: readonly string[]): Promise<void> {
  const ifindex = Number((await nsExec(bed.b, ['cat', `/sys/class/net/${bed.ifB}/ifindex`])).trim());
  const env = JSON.stringify({ root: repoRoot, ifindex, frames });
  const sent = await sh('ip', ['netns', 'exec', bed.b, 'env', `FRAMES=${env}`, process.execPath, '--input-type=module', '-e', senderSource]);
  if (sent.code !== 0) throw new Error(`sending frames from ${bed.b} failed (${String(sent.code)}): ${sent.stderr}`);
}
