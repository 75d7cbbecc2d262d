import { readdir, readFile, stat } from 'node:fs/promises';
import type { LanHost } from './lan.js';

/**
 * Finds the speaker process of each sandbox node the way an operator does on a node (`pgrep`,
 * then "which network namespace is it in"): a process whose command line runs ironlb's
 * `speaker` and whose network namespace is the node's (the DaemonSet is hostNetwork). It is the
 * kubelet's container process (from this checkout, or podman's), so `sandbox status` can show it
 * and the walk-through can `kill` it. Linux only; reads /proc.
 */

/** Whether a NUL-separated command line runs `ironlb.js speaker` (the DaemonSet's command and args). */
export function isSpeakerCommandLine(cmdline: string): boolean {
  return cmdline.includes('ironlb.js\0speaker\0') || cmdline.endsWith('ironlb.js\0speaker');
}

/** `speaker-<node>` -> pid for each node whose speaker runs now (no entry for one that does not). */
export async function speakerPids(nodes: readonly Pick<LanHost, 'name' | 'netns'>[]): Promise<Record<string, number>> {
  const inode = async (path: string): Promise<number | undefined> => (await stat(path).catch(() => undefined))?.ino;
  const byNetns = new Map<number, string>();
  for (const n of nodes) {
    const ino = await inode(`/run/netns/${n.netns}`);
    if (ino !== undefined) byNetns.set(ino, n.name);
  }
  const out: Record<string, number> = {};
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (!isSpeakerCommandLine(cmdline)) continue;
    const node = byNetns.get((await inode(`/proc/${entry}/ns/net`)) ?? -1);
    if (node !== undefined) out[`speaker-${node}`] = Number(entry);
  }
  return out;
}
