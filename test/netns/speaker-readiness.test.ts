import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliPath } from '../helpers/cli.js';
import { exited, nsExec, sh, waitFor } from '../helpers/netns.js';
import { canRunRootTests } from '../helpers/root.js';

// A speaker whose /sys belongs to another network namespace than its sockets (entered with
// nsenter, which does not remount sysfs as `ip netns exec` does) cannot know its interfaces:
// it must say so in /readyz, a log line and a metric, not report ready and announce nothing.
describe.skipIf(!canRunRootTests('speaker readiness (netns)'))('speaker readiness tells the truth', () => {
  const ns = `ironlb-rdy-${randomBytes(3).toString('hex')}`;
  const port = 7400 + Math.floor(Math.random() * 90);
  let dir = '';
  let speaker: ChildProcess | undefined;
  let output = '';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ironlb-rdy-'));
    const made = await sh('ip', ['netns', 'add', ns]);
    if (made.code !== 0) throw new Error(`ip netns add: ${made.stderr}`);
    await nsExec(ns, ['ip', 'link', 'set', 'lo', 'up']);
    await nsExec(ns, ['ip', 'link', 'add', `n${ns.slice(-6)}`, 'type', 'veth', 'peer', 'name', `p${ns.slice(-6)}`]);
    // An API server that is not there: readiness must not hinge on it for this test's reason.
    const kubeconfig = join(dir, 'kubeconfig');
    await writeFile(kubeconfig, 'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "http://127.0.0.1:9"}}]\nusers: [{name: u, user: {}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n');
    speaker = spawn('nsenter', [`--net=/run/netns/${ns}`, process.execPath, cliPath, 'speaker', '--node-name', 'n1', '--kubeconfig', kubeconfig, '--metrics-host', '127.0.0.1', '--metrics-port', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
    speaker.stdout?.setEncoding('utf8').on('data', (d: string) => (output += d));
    speaker.stderr?.setEncoding('utf8').on('data', (d: string) => (output += d));
  }, 30_000);

  afterAll(async () => {
    if (speaker !== undefined && speaker.exitCode === null) {
      speaker.kill('SIGTERM');
      const t = setTimeout(() => speaker?.kill('SIGKILL'), 5000);
      await exited(speaker);
      clearTimeout(t);
    }
    await sh('ip', ['netns', 'del', ns]);
    await rm(dir, { recursive: true, force: true });
  });

  const get = async (path: string): Promise<string> => (await sh('ip', ['netns', 'exec', ns, 'curl', '-s', '-w', '\n%{http_code}', `http://127.0.0.1:${port}${path}`])).stdout;

  it('/readyz is 503 naming the unreadable interfaces; a log line and ironlb_speaker_not_ready say the same', async () => {
    await waitFor('speaker not ready for its interfaces', () => output.includes('speakerNotReady') && output.includes('interfacesUnreadable'), 15_000);
    const ready = await get('/readyz');
    expect(ready).toMatch(/^not ready: .*sysfs is mounted from another network namespace.*\n503$/s);
    const metrics = await get('/metrics');
    expect(metrics).toContain('ironlb_speaker_not_ready{reason="interfacesUnreadable"} 1');
    expect(metrics).toContain('ironlb_speaker_not_ready{reason="packetSocketsFailed"} 0');
  }, 30_000);
});
