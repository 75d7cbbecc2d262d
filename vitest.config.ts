import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Network-namespace and API-server tests start real processes: give them room, and run
    // files one at a time per worker so that two suites never fight over the same 2 cores.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
    // The sandbox runs ironlb from the image whenever podman and the image are present, and the
    // image tests build it: pin every other test to this checkout's build, so what a test runs
    // does not depend on which file ran first (test/image asks for 'auto' itself).
    env: { IRONLB_SANDBOX_RUNTIME: 'checkout' },
  },
});
