import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/cli.js';
import { createTestbed, nsSpawn, sh, waitFor, type Testbed } from '../helpers/netns.js';
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
});
