import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { destroyLan } from '../../src/sandbox/lan.js';
import { repoRoot, runCli } from '../helpers/cli.js';
import { runKubectl } from '../helpers/kubectl.js';
import { sh } from '../helpers/netns.js';
import { stopProcessesMentioning } from '../helpers/processes.js';
import { canRunRootTests } from '../helpers/root.js';

/**
 * The README's walk-through, end to end, as a user types it: `sandbox up`, kubectl apply, get
 * svc, curl from the client namespace, kill the announcing speaker, curl again, patch, down.
 * The LAN uses its own prefix and subnet, so a user's sandbox on this machine is not touched.
 */
describe.skipIf(!canRunRootTests('sandbox walk-through (netns)'))('ironlb sandbox walk-through', () => {
  const id = (process.pid % 1000).toString();
  const prefix = `wt${id}`;
  const v4 = `10.213.${String(process.pid % 200)}`;
  const v6 = `fd00:213:${((process.pid % 199) + 1).toString(16)}::`; // never a zero group (non-canonical)
  const client = `${prefix}-client`;
  let dir: string;
  let stateDir: string;
  let kubeconfig: string;
  let externalIp = '';

  const kubectl = (...args: string[]) => runKubectl(kubeconfig, args);
  const curl = async (): Promise<{ code: number; stdout: string }> => sh('ip', ['netns', 'exec', client, 'curl', '-s', '-m', '2', `http://${externalIp}:8090/`], 5000);
  const status = async (): Promise<string> => (await runCli(['sandbox', 'status', '--state-dir', stateDir])).stdout;
  const owner = async (): Promise<string | undefined> => new RegExp(`default/demo\\s+${externalIp.replace(/\./g, '\\.')}\\S*\\s+(node-\\d+)`).exec(await status())?.[1];

  async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await probe();
      if (v !== undefined) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; sandbox status:\n${await status()}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ironlb-walk-'));
    stateDir = join(dir, 'state');
    const up = await runCli(['sandbox', 'up', '--nodes', '3', '--state-dir', stateDir, '--lan-prefix', prefix, '--lan-v4', v4, '--lan-v6', v6], { timeoutMs: 120_000 });
    expect(up.stderr).toBe('');
    expect(up.code).toBe(0);
    kubeconfig = up.stdout.split('\n')[0]?.replace(/^KUBECONFIG=/, '') ?? '';
  }, 150_000);

  afterAll(async () => {
    await runCli(['sandbox', 'down', '--state-dir', stateDir], { timeoutMs: 60_000 });
    // Whatever `down` did not find (a failed test must not leave a sandbox running here): every
    // process started with this state dir, then the namespaces and link of this plan.
    const leftover = await stopProcessesMentioning(stateDir);
    if (leftover > 0) console.error(`sandbox walk-through: stopped ${String(leftover)} processes that sandbox down left`);
    await destroyLan({ prefix, nodes: 3, v4Net: v4, v6Net: v6, hostLink: true });
    await rm(dir, { recursive: true, force: true });
  }, 90_000);

  it('gives the demo Service an EXTERNAL-IP from the pool', async () => {
    expect((await kubectl('apply', '-f', join(repoRoot, 'config', 'sandbox-demo.yaml'))).stdout).toBe('service/demo created\n');
    const row = await eventually('an EXTERNAL-IP', async () => {
      const line = (await kubectl('get', 'svc', 'demo')).stdout.split('\n')[1] ?? '';
      return line.includes(`${v4}.2`) ? line : undefined;
    });
    externalIp = row.split(/\s+/)[3] ?? '';
    expect(externalIp).toBe(`${v4}.200`);
    expect((await kubectl('describe', 'svc', 'demo')).stdout).toMatch(/IPAllocated .*Assigned IP \[.*\] from pool default/);
  });

  it('answers curl from the client namespace with the name of the announcing node', async () => {
    const announcing = await eventually('an announcing node', owner);
    const answer = await eventually('an HTTP answer', async () => {
      const r = await curl();
      return r.code === 0 && r.stdout.trim() !== '' ? r.stdout.trim() : undefined;
    });
    expect(answer).toContain(announcing);
    expect((await kubectl('describe', 'svc', 'demo')).stdout).toContain(`announcing from node ${announcing} with protocol layer2`);
  });

  it('keeps answering when the announcing speaker is killed: another node takes over', async () => {
    const before = await eventually('an announcing node', owner);
    const record = JSON.parse(await readFile(join(stateDir, 'sandbox.json'), 'utf8')) as { children: Record<string, number> };
    const pid = record.children[`speaker-${before}`];
    expect(pid).toBeDefined();
    process.kill(pid ?? 0, 'SIGKILL');
    const answer = await eventually('an answer from another node', async () => {
      const r = await curl();
      const text = r.stdout.trim();
      return r.code === 0 && text !== '' && !text.includes(before) ? text : undefined;
    });
    expect(answer).toMatch(/node-\d/);
  });

  it('is not disturbed by kubectl patch of sessionAffinity', async () => {
    const ipBefore = externalIp;
    expect((await kubectl('patch', 'svc', 'demo', '-p', '{"spec":{"sessionAffinity":"ClientIP"}}')).stdout).toBe('service/demo patched\n');
    await new Promise((r) => setTimeout(r, 1000));
    expect((await kubectl('get', 'svc', 'demo', '-o', 'jsonpath={.status.loadBalancer.ingress[0].ip}')).stdout).toBe(ipBefore);
    const r = await curl();
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/node-\d/);
  });

  it('ran the controller and the speakers with the manifests\' RBAC, and none of their requests was forbidden', async () => {
    const kc = (await readFile(kubeconfig, 'utf8')).split('\n');
    const server = kc.find((l) => l.includes('server:'))?.split('server:')[1]?.trim() ?? '';
    const token = kc.find((l) => l.includes('token:'))?.split('token:')[1]?.trim() ?? '';
    const r = await sh('curl', ['-sk', '-H', `Authorization: Bearer ${token}`, `${server}/sandbox/v1/requests`]);
    const body = JSON.parse(r.stdout) as { counts: Record<string, number>; forbidden: string[] };
    expect(Object.keys(body.counts).some((k) => k.startsWith('system:serviceaccount:ironlb-system:speaker update leases'))).toBe(true);
    expect(Object.keys(body.counts).some((k) => k.startsWith('system:serviceaccount:ironlb-system:controller patch services/status'))).toBe(true);
    expect(body.forbidden).toEqual([]);
  });

  it('down removes every namespace it made', async () => {
    expect((await runCli(['sandbox', 'down', '--state-dir', stateDir], { timeoutMs: 60_000 })).stdout).toMatch(/^sandbox removed/);
    const left = (await sh('ip', ['netns', 'list'])).stdout.split('\n').filter((l) => l.startsWith(`${prefix}-`));
    expect(left).toEqual([]);
    expect((await sh('ip', ['link', 'show', `${prefix}-host`])).code).not.toBe(0);
  });
});
