// Builds the native parts in native/ against the headers of the running Node:
// - native/afpacket.c (+ arp-fast-path.c, ndp-fast-path.c): the AF_PACKET addon, always;
// - native/xdp/: the XDP responder (responder.bpf.c, compiled with clang for the BPF target) and
//   its libbpf loader addon, when clang and libbpf-dev are there. Without them the XDP part is
//   skipped with one line and the build still succeeds: the speaker then runs AF_PACKET only.
// node-gyp alone would try to download headers (no network here), so point it at the local ones.
import { existsSync, mkdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const nativeDir = join(root, 'native');
const xdpDir = join(nativeDir, 'xdp');
if (!existsSync(join(nativeDir, 'binding.gyp'))) {
  console.log('build-native: no native/binding.gyp, nothing to build');
  process.exit(0);
}

function gyp(directory) {
  const args = ['rebuild', '--directory', directory];
  const nodeDir = process.env.npm_config_nodedir ?? (existsSync('/usr/include/node/node_api.h') ? '/usr' : undefined);
  if (nodeDir !== undefined) args.push(`--nodedir=${nodeDir}`);
  const local = join(root, 'node_modules', '.bin', 'node-gyp');
  return spawnSync(existsSync(local) ? local : 'node-gyp', args, { stdio: 'inherit', cwd: root }).status ?? 1;
}

/**
 * The clang to use: $CLANG when set (as libbpf-tools' Makefiles take it), else the first on PATH
 * that runs (Debian names it clang-14 without the clang package).
 */
function findClang() {
  const names = process.env.CLANG ? [process.env.CLANG] : ['clang', 'clang-19', 'clang-18', 'clang-17', 'clang-16', 'clang-15', 'clang-14'];
  for (const name of names) {
    if (spawnSync(name, ['--version'], { stdio: 'ignore' }).status === 0) return name;
  }
  return undefined;
}

function buildXdp() {
  const clang = findClang();
  if (clang === undefined) return 'clang not found';
  if (!existsSync('/usr/include/bpf/libbpf.h')) return 'libbpf headers not found (libbpf-dev)';
  // <linux/bpf.h> includes <asm/types.h>, which Debian keeps under the multiarch directory.
  const triplet = spawnSync('gcc', ['-dumpmachine'], { encoding: 'utf8' }).stdout.trim();
  // node-gyp rebuild empties build/ first: build the addon, then the program beside it.
  if (gyp(xdpDir) !== 0) return 'the libbpf loader addon did not build';
  const out = join(xdpDir, 'build');
  mkdirSync(out, { recursive: true });
  const bpf = spawnSync(clang, ['-O2', '-g', '-Wall', '-Werror', '-target', 'bpf', ...(triplet ? [`-I/usr/include/${triplet}`] : []), '-c', join(xdpDir, 'responder.bpf.c'), '-o', join(out, 'responder.bpf.o')], { stdio: 'inherit' });
  if (bpf.status !== 0) return `${clang} -target bpf failed`;
  return undefined;
}

const status = gyp(nativeDir);
if (status !== 0) process.exit(status);
if (existsSync(join(xdpDir, 'responder.bpf.c'))) {
  const skipped = buildXdp();
  if (skipped !== undefined) console.log(`build-native: XDP responder skipped: ${skipped}; install clang and libbpf-dev to build it (the speaker falls back to AF_PACKET)`);
  else console.log('build-native: XDP responder built (native/xdp/build/responder.bpf.o, xdp.node)');
}
