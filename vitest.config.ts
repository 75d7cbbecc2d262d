import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { configDefaults, defineConfig } from 'vitest/config';

/**
 * Root-only files that bring up a whole sandbox (`useSandbox`, `sandbox up`) or a cluster of
 * speakers (`startSpeakerCluster`) and time failovers, rollouts and readiness on real kernels.
 * Two of them side by side on a 2-core machine starve each other's processes past their
 * deadlines, so they run in a group of their own, one file at a time, after the rest (vitest runs
 * project groups in `sequence.groupOrder` order, lowest first). Found by what they call, so a new
 * such file joins the group without anyone remembering to list it.
 */
const root = dirname(fileURLToPath(import.meta.url));
const heavy = /\buseSandbox\(|\bstartSpeakerCluster\(|'sandbox', 'up'/;
const serialFiles = ['test/netns', 'test/image'].flatMap((dir) =>
  readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.test.ts') && heavy.test(readFileSync(join(root, dir, f), 'utf8')))
    .map((f) => join(dir, f)),
);

export default defineConfig({
  test: {
    // Network-namespace and API-server tests start real processes: give them room.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
    // The sandbox runs ironlb from the image whenever podman and the image are present, and the
    // image tests build it: pin every other test to this checkout's build, so what a test runs
    // does not depend on which file ran first (test/image asks for 'auto' itself).
    env: { IRONLB_SANDBOX_RUNTIME: 'checkout' },
    projects: [
      {
        extends: true,
        test: { name: 'parallel', include: ['test/**/*.test.ts'], exclude: [...configDefaults.exclude, ...serialFiles], sequence: { groupOrder: 0 } },
      },
      {
        extends: true,
        test: { name: 'serial', include: serialFiles, maxWorkers: 1, sequence: { groupOrder: 1 } },
      },
    ],
  },
});
