/**
 * The Node.js flags the speaker runs with: the DaemonSet's `command`, the sandbox and the tests
 * start it as `node <flags> bin/ironlb.js speaker`. A speaker runs on every node, so its memory
 * counts N times: V8's size-over-speed mode and a 1 MiB young generation trade a little CPU for
 * RSS (docs/speaker.md, "Memory"). Given at process start, before the Kubernetes client loads:
 * set from inside the CLI they saved less. V8's lite mode saved ~20 MB more but slowed the
 * speaker so much with 10,000 Services that its Lease renewals slipped (bench `load`): refused.
 */
export const speakerNodeFlags: readonly string[] = ['--optimize-for-size', '--max-semi-space-size=1'];
