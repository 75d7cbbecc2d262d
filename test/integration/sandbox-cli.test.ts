import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { repoRoot, runCli } from '../helpers/cli.js';
import { runKubectl } from '../helpers/kubectl.js';

interface Record {
  pid: number;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('ironlb sandbox up --nodes 0 --no-controller (API server only)', () => {
  const dirs: string[] = [];
  const supervisors: number[] = [];
  afterEach(async () => {
    for (const pid of supervisors.splice(0)) if (alive(pid)) process.kill(pid, 'SIGTERM');
    for (const dir of dirs.splice(0)) {
      await runCli(['sandbox', 'down', '--state-dir', join(dir, 'state')]);
      await rm(dir, { recursive: true, force: true });
    }
  });

  async function up(): Promise<{ stateDir: string; kubeconfig: string }> {
    const dir = await mkdtemp(join(tmpdir(), 'ironlb-sbx-'));
    dirs.push(dir);
    const stateDir = join(dir, 'state');
    const res = await runCli(['sandbox', 'up', '--nodes', '0', '--no-controller', '--state-dir', stateDir], { timeoutMs: 30_000 });
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const line = res.stdout.split('\n').find((l) => l.startsWith('KUBECONFIG='));
    expect(line).toBeDefined();
    return { stateDir, kubeconfig: (line ?? '').slice('KUBECONFIG='.length) };
  }

  it('starts an API server that kubectl uses, reports status, and down removes everything', async () => {
    const { stateDir, kubeconfig } = await up();
    const ns = await runKubectl(kubeconfig, ['get', 'namespaces', '-o', 'name']);
    expect(ns.stdout.split('\n')).toEqual(expect.arrayContaining(['namespace/default', 'namespace/ironlb-system']));
    const cm = await runKubectl(kubeconfig, ['get', 'configmap', 'config', '-n', 'ironlb-system', '-o', 'jsonpath={.data.config}']);
    expect(cm.stdout).toContain('172.31.213.200-172.31.213.250');
    const status = await runCli(['sandbox', 'status', '--state-dir', stateDir]);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain('controller: no leader');
    const pid = (JSON.parse(await readFile(join(stateDir, 'sandbox.json'), 'utf8')) as Record).pid;
    const down = await runCli(['sandbox', 'down', '--state-dir', stateDir]);
    expect(down.stdout).toBe('sandbox removed\n');
    expect(alive(pid)).toBe(false);
    expect(existsSync(stateDir)).toBe(false);
    expect((await runCli(['sandbox', 'status', '--state-dir', stateDir])).code).toBe(1);
  });

  it('refuses a second up while one runs, naming the state dir', async () => {
    const { stateDir } = await up();
    const again = await runCli(['sandbox', 'up', '--nodes', '0', '--state-dir', stateDir]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`a sandbox is already running`);
    expect(again.stderr).toContain(stateDir);
  });

  it('cleans up after the sandbox process was killed (down after a crash)', async () => {
    const { stateDir } = await up();
    const pid = (JSON.parse(await readFile(join(stateDir, 'sandbox.json'), 'utf8')) as Record).pid;
    process.kill(pid, 'SIGKILL');
    while (alive(pid)) await new Promise((r) => setTimeout(r, 20));
    const down = await runCli(['sandbox', 'down', '--state-dir', stateDir]);
    expect(down.code).toBe(0);
    expect(existsSync(stateDir)).toBe(false);
  });

  it('stops the sandbox when its record was deleted by hand, finding the supervisor by its command line', async () => {
    const { stateDir } = await up();
    const record = join(stateDir, 'sandbox.json');
    const pid = (JSON.parse(await readFile(record, 'utf8')) as Record).pid;
    supervisors.push(pid); // `down` in afterEach cannot find it if this test fails
    await rm(record);
    const down = await runCli(['sandbox', 'down', '--state-dir', stateDir]);
    expect(down).toMatchObject({ code: 0, stdout: 'sandbox removed\n' });
    expect(alive(pid)).toBe(false);
    expect(existsSync(stateDir)).toBe(false);
  });

  it('runs the controller and speakers without network namespaces when asked (what non-root users get), and says so', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ironlb-sbx-'));
    dirs.push(dir);
    const stateDir = join(dir, 'state');
    const res = await runCli(['sandbox', 'up', '--nodes', '2', '--no-netns', '--state-dir', stateDir, '--lan-prefix', `nn${String(process.pid % 1000)}`], { timeoutMs: 90_000 });
    expect(res.code).toBe(0);
    expect(res.stderr).toContain('no network namespaces: the API server, controller and speakers run, but speakers only compute (--no-announce)');
    const kubeconfig = (res.stdout.split('\n')[0] ?? '').slice('KUBECONFIG='.length);
    expect((await runKubectl(kubeconfig, ['apply', '-f', join(repoRoot, 'config', 'sandbox-demo.yaml')])).code).toBe(0);
    // Without namespaces no kubelet runs: the demo Pods stay Pending, so the Service gets its IP
    // but no node may announce it (no ready endpoint anywhere).
    let status = '';
    for (let i = 0; i < 100 && !/default\/demo\s+172\.31\.213\.200/.test(status); i += 1) {
      await new Promise((r) => setTimeout(r, 200));
      status = (await runCli(['sandbox', 'status', '--state-dir', stateDir])).stdout;
    }
    expect(status).toMatch(/node-1\s+alive/);
    expect(status).toMatch(/node-2\s+alive/);
    expect(status).toMatch(/default\/demo\s+172\.31\.213\.200/);
    expect(status).not.toMatch(/default\/demo\s+172\.31\.213\.200\S*\s+node-\d/);
  });

  it('says so when there is nothing to take down', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ironlb-sbx-'));
    dirs.push(dir);
    const down = await runCli(['sandbox', 'down', '--state-dir', join(dir, 'none')]);
    expect(down).toMatchObject({ code: 0, stdout: 'no sandbox was running; nothing to remove\n' });
  });
});
