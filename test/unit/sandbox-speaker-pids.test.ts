import { describe, expect, it } from 'vitest';
import { isSpeakerCommandLine } from '../../src/sandbox/speaker-pids.js';

describe('sandbox status: which process is a speaker (/proc/PID/cmdline, NUL-separated)', () => {
  it.each([
    { name: 'the DaemonSet\'s command from the checkout', cmdline: '/usr/bin/node\0--optimize-for-size\0--max-semi-space-size=1\0--no-opt\0--no-maglev\0/work/ironlb/bin/ironlb.js\0speaker\0', want: true },
    { name: 'the same in the image (podman)', cmdline: 'node\0--optimize-for-size\0--max-semi-space-size=1\0--no-opt\0--no-maglev\0/app/bin/ironlb.js\0speaker\0', want: true },
    { name: 'a speaker with flags after the subcommand', cmdline: 'node\0/app/bin/ironlb.js\0speaker\0--node-name\0node-1\0', want: true },
    { name: 'the controller', cmdline: 'node\0/app/bin/ironlb.js\0controller\0', want: false },
    { name: 'a node agent (its args mention speaker nowhere as the subcommand)', cmdline: 'node\0/x/bin/ironlb.js\0sandbox\0node-agent\0--node\0speaker\0', want: false },
  ])('$name', ({ cmdline, want }) => {
    expect(isSpeakerCommandLine(cmdline)).toBe(want);
  });
});
