import { describe, expect, it } from 'vitest';
import { runtimeReport } from '../../src/sandbox/runtime-report.js';

const line = (msg: string, event = 'ironlbRuntime'): string => JSON.stringify({ level: 30, event, msg });
const podman = "ironlb's image ironlb/ironlb:0.1.0 runs with podman: the image localhost/ironlb:0.1.0 (sha256:cccccccccccc) was built from this checkout (source sha256:aaaaaaaaaaaa)";
const stale = "ironlb's image ironlb/ironlb:0.1.0 runs from this checkout: the image localhost/ironlb:0.1.0 (sha256:cccccccccccc) was built from other source than this checkout";

describe('which runtime ran ironlb\'s image, from the node agents\' logs', () => {
  it.each([
    { name: 'every node the same', logs: [{ node: 'node-1', text: `${line('started', 'nodeAgentStarted')}\n${line(podman)}\n` }, { node: 'node-2', text: line(podman) }], want: [`${podman} (node-1, node-2)`] },
    { name: 'nodes that decided differently', logs: [{ node: 'node-1', text: line(podman) }, { node: 'node-2', text: line(stale) }], want: [`${podman} (node-1)`, `${stale} (node-2)`] },
    { name: 'a node agent that restarted and logged it twice', logs: [{ node: 'node-1', text: `${line(stale)}\n${line(stale)}\n` }], want: [`${stale} (node-1)`] },
    { name: 'no decision yet, or no log', logs: [{ node: 'node-1', text: line('other', 'podSynced') }, { node: 'node-2', text: '' }], want: [] },
    { name: 'a line that is not JSON', logs: [{ node: 'node-1', text: 'ironlbRuntime: "ironlbRuntime" garbage\n' }], want: [] },
  ])('$name', ({ logs, want }) => {
    expect(runtimeReport(logs)).toEqual(want);
  });
});
