/**
 * The Node.js flags the speaker runs with: the DaemonSet's `command`, the sandbox and the tests
 * start it as `node <flags> bin/ironlb.js speaker`. A speaker runs on every node, so its memory
 * counts N times, and a memory limit must cover its peak, not its settled size (docs/speaker.md,
 * "Memory"): V8's size-over-speed mode and a 1 MiB young generation trade a little CPU for RSS,
 * and `--no-opt` leaves V8's optimizing compiler (TurboFan) off: its code pages in the node
 * binary, its compile zones and its optimized code raise both the start-up peak and the settled
 * RSS with 1,000 Services (bench `speaker.rss_*` rows against `.turbofan`), while the baseline compiler (Sparkplug)
 * still runs (bench `speaker.election_ms` rows: an election's price). `--no-maglev` turns off
 * V8's other optimizing tier, on by default from Node.js 22 (the image runs 24): with it on,
 * `--no-opt` alone saved nothing there in a trial (Node.js 20, here, has it off). Given at
 * process start, before the Kubernetes client loads: set from inside the CLI they saved less.
 * V8's lite mode (jitless: no baseline compiler either) slowed the speaker so much with 10,000
 * Services that its Lease renewals slipped (bench `load`): refused.
 */
export const speakerNodeFlags: readonly string[] = ['--optimize-for-size', '--max-semi-space-size=1', '--no-opt', '--no-maglev'];
