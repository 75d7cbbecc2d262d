import { readdir, readFile } from 'node:fs/promises';

async function cmdlineOf(pid: number): Promise<string | undefined> {
  try {
    return (await readFile(`/proc/${String(pid)}/cmdline`, 'utf8')).replace(/\0/g, ' ');
  } catch {
    return undefined;
  }
}

/** Pids (other than this process) whose command line contains `text`. */
async function pidsMentioning(text: string): Promise<number[]> {
  const pids = (await readdir('/proc')).filter((d) => /^\d+$/.test(d)).map(Number).filter((p) => p !== process.pid);
  const found: number[] = [];
  for (const pid of pids) if ((await cmdlineOf(pid))?.includes(text) === true) found.push(pid);
  return found;
}

const signal = (pid: number, sig: NodeJS.Signals): void => {
  try {
    process.kill(pid, sig);
  } catch {
    // gone already
  }
};

/**
 * A test's last line of defence: stops every process whose command line contains `text`
 * (SIGTERM, then SIGKILL after `graceMs`). Returns how many it found.
 */
export async function stopProcessesMentioning(text: string, graceMs = 5000): Promise<number> {
  const pids = await pidsMentioning(text);
  for (const pid of pids) signal(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && (await pidsMentioning(text)).length > 0) await new Promise((r) => setTimeout(r, 100));
  for (const pid of await pidsMentioning(text)) signal(pid, 'SIGKILL');
  return pids.length;
}
