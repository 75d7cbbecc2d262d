// Builds the AF_PACKET addon in native/ with node-gyp, against the headers of the running Node.
// node-gyp alone would try to download headers (no network here), so point it at the local ones.
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const nativeDir = join(root, 'native');
if (!existsSync(join(nativeDir, 'binding.gyp'))) {
  console.log('build-native: no native/binding.gyp, nothing to build');
  process.exit(0);
}
const args = ['rebuild', '--directory', nativeDir];
const nodeDir = process.env.npm_config_nodedir ?? (existsSync('/usr/include/node/node_api.h') ? '/usr' : undefined);
if (nodeDir !== undefined) args.push(`--nodedir=${nodeDir}`);
const gyp = join(root, 'node_modules', '.bin', 'node-gyp');
const result = spawnSync(existsSync(gyp) ? gyp : 'node-gyp', args, { stdio: 'inherit', cwd: root });
process.exit(result.status ?? 1);
