import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../test/helpers/cli.js';
import { sh } from '../test/helpers/netns.js';

// The MetalLB-style responder of bench/metallb-style/main.go (mdlayher/arp, as MetalLB's speaker
// answers ARP), built offline from Debian's Go packages: GOPATH mode over /usr/share/gocode, no
// module proxy. The binary is cached under .cache/ by the hash of its source, so a run builds it
// once; scripts/ensure-bench-tools.sh installs golang-go and golang-github-mdlayher-arp-dev.

const source = join(repoRoot, 'bench', 'metallb-style', 'main.go');

/** Where the binary for the current source lives (built or not). */
export function metallbStyleBinary(): string {
  const hash = createHash('sha256').update(readFileSync(source)).digest('hex').slice(0, 16);
  return join(repoRoot, '.cache', `metallb-style-${hash}`);
}

/**
 * Installs the Go toolchain and mdlayher/arp when missing and builds the responder; returns the
 * binary, or why it cannot be had (the caller skips the row and says so).
 */
export async function buildMetallbStyle(): Promise<{ ok: true; binary: string } | { ok: false; why: string }> {
  const binary = metallbStyleBinary();
  if (existsSync(binary)) return { ok: true, binary };
  const tools = await sh('bash', [join(repoRoot, 'scripts', 'ensure-bench-tools.sh')], 600_000);
  if (tools.code !== 0) return { ok: false, why: tools.stderr.trim() || `scripts/ensure-bench-tools.sh exited ${String(tools.code)}` };
  mkdirSync(join(repoRoot, '.cache'), { recursive: true });
  const partial = `${binary}.partial`;
  const env = ['GOPATH=/usr/share/gocode', 'GO111MODULE=off', 'GOPROXY=off', 'GOFLAGS=', 'GOTOOLCHAIN=local', `GOCACHE=${join(repoRoot, '.cache', 'go-build')}`];
  // GOPATH mode takes the package as a relative path, never an absolute one.
  const built = await sh('env', [`--chdir=${repoRoot}`, ...env, 'go', 'build', '-o', partial, './bench/metallb-style'], 300_000);
  if (built.code !== 0) return { ok: false, why: `go build failed: ${built.stderr.trim()}` };
  renameSync(partial, binary);
  return { ok: true, binary };
}
