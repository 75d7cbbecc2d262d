/**
 * The Node.js flags the speaker runs with: the DaemonSet's `command`, the sandbox and the tests
 * start it as `node <flags> bin/ironlb.js speaker`. A speaker runs on every node, so its memory
 * counts N times, and it does little JavaScript work (ARP answers are in C): V8's lite mode (no
 * optimizing compiler) and a 1 MiB young generation trade CPU it does not need for ~25 MB of
 * RSS, most of it the Kubernetes client's code (docs/speaker.md, "Memory"). They must be given
 * at process start (lite mode is not even allowed in NODE_OPTIONS), so the CLI cannot set them.
 */
export const speakerNodeFlags: readonly string[] = ['--optimize-for-size', '--max-semi-space-size=1'];
