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
  let noCap: ChildProcess | undefined;
  let noCapOutput = '';

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
    // Root without CAP_NET_RAW, as a container whose securityContext forgot to add it: for root,
    // exec keeps what the bounding and inheritable sets allow, so drop it from both.
    noCap = spawn('ip', ['netns', 'exec', ns, 'setpriv', '--inh-caps=-net_raw', '--bounding-set=-net_raw', '--', process.execPath, cliPath, 'speaker', '--node-name', 'n2', '--kubeconfig', kubeconfig, '--metrics-host', '127.0.0.1', '--metrics-port', String(port + 1)], { stdio: ['ignore', 'pipe', 'pipe'] });
    noCap.stdout?.setEncoding('utf8').on('data', (d: string) => (noCapOutput += d));
    noCap.stderr?.setEncoding('utf8').on('data', (d: string) => (noCapOutput += d));
  }, 30_000);

  afterAll(async () => {
    for (const p of [speaker, noCap]) {
      if (p === undefined || p.exitCode !== null) continue;
      p.kill('SIGTERM');
      const t = setTimeout(() => p.kill('SIGKILL'), 5000);
      await exited(p);
      clearTimeout(t);
    }
    await sh('ip', ['netns', 'del', ns]);
    await rm(dir, { recursive: true, force: true });
  });

  const get = async (path: string, on = port): Promise<string> => (await sh('ip', ['netns', 'exec', ns, 'curl', '-s', '-w', '\n%{http_code}', `http://127.0.0.1:${String(on)}${path}`])).stdout;

  it('/readyz is 503 naming the unreadable interfaces; a log line and ironlb_speaker_not_ready say the same', async () => {
    await waitFor('speaker not ready for its interfaces', () => output.includes('speakerNotReady') && output.includes('interfacesUnreadable'), 15_000);
    const ready = await get('/readyz');
    expect(ready).toMatch(/^not ready: .*sysfs is mounted from another network namespace.*\n503$/s);
    const metrics = await get('/metrics');
    expect(metrics).toContain('ironlb_speaker_not_ready{reason="interfacesUnreadable"} 1');
    expect(metrics).toContain('ironlb_speaker_not_ready{reason="packetSocketsFailed"} 0');
  }, 30_000);

  it('without CAP_NET_RAW it keeps running, not ready: /readyz 503 saying "no CAP_NET_RAW", /healthz 200, the metric, one log line; SIGTERM exits 0', async () => {
    await waitFor('the no-NET_RAW speaker not ready for its packet sockets', () => /"reason":"packetSocketsFailed"[^\n]*"event":"speakerNotReady"|"event":"speakerNotReady"[^\n]*"reason":"packetSocketsFailed"/.test(noCapOutput) || noCap?.exitCode !== null, 15_000);
    expect(noCap?.exitCode).toBeNull();
    const lines = noCapOutput.trim().split('\n').map((l) => JSON.parse(l) as { event?: string; reason?: string; msg?: string });
    const notReady = lines.filter((l) => l.event === 'speakerNotReady' && l.reason === 'packetSocketsFailed');
    expect(notReady).toHaveLength(1);
    expect(notReady[0]?.msg).toContain('no CAP_NET_RAW (EPERM)');
    expect(await get('/readyz', port + 1)).toMatch(/^not ready: .*cannot open AF_PACKET sockets: no CAP_NET_RAW \(EPERM\).*\n503$/s);
    expect(await get('/healthz', port + 1)).toMatch(/\n200$/);
    expect(await get('/metrics', port + 1)).toContain('ironlb_speaker_not_ready{reason="packetSocketsFailed"} 1');
    // Nothing past the gate ran: no Lease, no API traffic, no announcer.
    expect(lines.map((l) => l.event)).not.toContain('speakerStarting');
    noCap?.kill('SIGTERM');
    expect(await exited(noCap as ChildProcess)).toBe(0);
  }, 30_000);
});
