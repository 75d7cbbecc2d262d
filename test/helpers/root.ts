import { execFileSync } from 'node:child_process';

/**
 * Whether root-only tests (network namespaces, raw sockets) can run here.
 * Under CI=true they must run: not being root there is a failure, not a skip.
 * Locally without root they skip, and say so loudly.
 */
export function canRunRootTests(suite: string): boolean {
  const isRoot = process.getuid?.() === 0;
  const hasIp = (() => {
    try {
      execFileSync('ip', ['-V'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();
  if (isRoot && hasIp) return true;
  const why = isRoot ? 'iproute2 (`ip`) is missing' : 'not running as root';
  if (process.env.CI === 'true') {
    throw new Error(`${suite}: network-namespace tests must run under CI=true, but ${why}`);
  }
  console.warn(`\n*** SKIPPING ${suite}: ${why}. Run the tests as root to exercise real kernels. ***\n`);
  return false;
}
