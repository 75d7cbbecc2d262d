import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Which runtime ran ironlb's image on each node, and why: each node agent decides once per image
 * and logs it in one `ironlbRuntime` line (kubelet/podman-runtime.ts); `sandbox up` and
 * `sandbox status` repeat those lines, so that a user sees whether the Pods run the image (and
 * which image ID) or this checkout, e.g. because the image was built from older source.
 */

/** One node agent's log, by node name. */
export interface NodeAgentLog {
  readonly node: string;
  readonly text: string;
}

/** The `msg` of each `ironlbRuntime` line of a JSON log (pino), in order. */
function runtimeMessages(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    if (!line.includes('"ironlbRuntime"')) continue;
    try {
      const parsed = JSON.parse(line) as { event?: unknown; msg?: unknown };
      if (parsed.event === 'ironlbRuntime' && typeof parsed.msg === 'string') out.push(parsed.msg);
    } catch {
      // Not a log line of ours (a stray write to the file): nothing to report.
    }
  }
  return out;
}

/**
 * One line per distinct decision, naming the nodes that made it (`... (node-1, node-2)`); none
 * when no node has run ironlb's image yet. Pure.
 */
export function runtimeReport(logs: readonly NodeAgentLog[]): string[] {
  // message -> nodes that logged it
  const nodesOf = new Map<string, string[]>();
  for (const { node, text } of logs) {
    for (const msg of new Set(runtimeMessages(text))) nodesOf.set(msg, [...(nodesOf.get(msg) ?? []), node]);
  }
  return [...nodesOf].map(([msg, nodes]) => `${msg} (${nodes.join(', ')})`);
}

/** {@link runtimeReport} over the node agents' log files in the state dir's `logs/`. */
export async function readRuntimeReport(logsDir: string, nodes: readonly string[]): Promise<string[]> {
  const logs = await Promise.all(nodes.map(async (node) => ({ node, text: await readFile(join(logsDir, `node-agent-${node}.log`), 'utf8').catch(() => '') })));
  return runtimeReport(logs);
}
