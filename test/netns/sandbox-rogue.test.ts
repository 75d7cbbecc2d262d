import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot, runCli } from '../helpers/cli.js';
import { runKubectl } from '../helpers/kubectl.js';
import { macOf } from '../helpers/lan-netns.js';
import { canRunRootTests } from '../helpers/root.js';
import { useSandbox } from '../helpers/sandbox.js';

/**
 * The rogue-host demo of docs/speaker.md, typed as a user types it against `ironlb sandbox up`:
 * `ironlb sandbox rogue add` gives the client namespace the next free pool address, `kubectl
 * expose` asks for a LoadBalancer, and the Service ends up on another address with Warning
 * Events that `kubectl describe svc` shows; `rogue remove` lets the quarantine lift. The LAN
 * uses its own prefix and subnet, so a user's sandbox on this machine is not touched.
 */
describe.skipIf(!canRunRootTests('sandbox rogue host (netns)'))('ironlb sandbox rogue', () => {
  const id = (process.pid % 1000).toString();
  const prefix = `rg${id}`;
  const v4 = `10.214.${String(process.pid % 200)}`;
  const v6 = `fd00:214:${((process.pid % 199) + 1).toString(16)}::`;
  const sandbox = useSandbox({ name: 'rogue', prefix, v4, v6, nodes: 2 });

  const kubectl = (...args: string[]) => runKubectl(sandbox.kubeconfig, args);
  const ironlb = (...args: string[]) => runCli([...args, '--state-dir', sandbox.stateDir], { timeoutMs: 30_000 });
  const ingress = async (svc: string): Promise<string> => (await kubectl('get', 'svc', svc, '-o', 'jsonpath={.status.loadBalancer.ingress[0].ip}')).stdout.trim();

  async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await probe();
      if (v !== undefined) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; sandbox status:\n${(await ironlb('sandbox', 'status')).stdout}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** Every speaker Pod's log lines that mention `ip` (probes, conflicts, clearing), for a failure message. */
  async function speakerLinesAbout(ip: string): Promise<string> {
    const pods = (await kubectl('get', 'pods', '-n', 'ironlb-system', '-l', 'app.kubernetes.io/component=speaker', '-o', 'jsonpath={.items[*].metadata.name}')).stdout.split(' ').filter((p) => p !== '');
    const logs = await Promise.all(pods.map(async (pod) => {
      const lines = (await kubectl('logs', '-n', 'ironlb-system', pod)).stdout.split('\n').filter((l) => l.includes(`"${ip}"`));
      return `--- ${pod}\n${lines.join('\n')}`;
    }));
    return logs.join('\n');
  }

  it('a Service given the rogue\'s address is moved with Warning Events; the address is usable again once the rogue leaves', async () => {
    expect((await kubectl('apply', '-f', join(repoRoot, 'config', 'sandbox-demo.yaml'))).code).toBe(0);
    const demoIp = await eventually('the demo Service\'s IP', async () => (await ingress('demo')) || undefined);
    // The rogue takes the next free pool address: the one the next Service would get.
    const rogue = [`${v4}.200`, `${v4}.201`].find((ip) => ip !== demoIp) ?? '';
    const added = await ironlb('sandbox', 'rogue', 'add', rogue);
    expect(added.stderr).toBe('');
    expect(added.stdout).toContain(`${prefix}-client now holds ${rogue}`);
    expect((await ironlb('sandbox', 'rogue', 'list')).stdout).toBe(`${rogue}\n`);
    expect((await ironlb('sandbox', 'rogue', 'add', rogue)).stderr).toContain('the client already holds it');
    expect((await ironlb('sandbox', 'rogue', 'add', '192.0.2.7')).code).toBe(2);

    const rogueMac = await macOf(`${prefix}-client`, 'eth0');
    expect((await kubectl('expose', 'deployment', 'demo', '--name', 'rogue-demo', '--type', 'LoadBalancer', '--port', '8091', '--target-port', '8080')).stdout).toBe('service/rogue-demo exposed\n');
    const moved = await eventually('rogue-demo moved off the rogue\'s address', async () => {
      const ip = await ingress('rogue-demo');
      return ip !== '' && ip !== rogue ? ip : undefined;
    }, 60_000);
    expect(moved.startsWith(`${v4}.`)).toBe(true);
    let last = '';
    const described = await eventually('both Warnings in kubectl describe', async () => {
      const r = await kubectl('describe', 'svc', 'rogue-demo');
      last = `exit ${String(r.code)}, stderr: ${r.stderr}\n${r.stdout}`;
      return last.includes(`assigned [${moved}] instead`) && last.includes(`IP ${rogue} is in use by another host on the LAN (MAC ${rogueMac}, seen on`) ? last : undefined;
    }).catch(async (e: unknown) => {
      throw new Error(`${String(e)}\nkubectl describe svc rogue-demo:\n${last}\nkubectl get events:\n${(await kubectl('get', 'events', '-o', 'wide')).stdout}`);
    });
    expect(described).toMatch(/Warning\s+AddressConflict/);
    expect((await kubectl('get', 'svc', 'rogue-demo')).stdout).toContain(moved);
    const reported = (await kubectl('get', 'lease', '-n', 'ironlb-system', '-o', 'jsonpath={.items[*].metadata.annotations.ironlb\\.io/conflicts}')).stdout;
    expect(reported).toContain(`"ip":"${rogue}","mac":"${rogueMac}"`);
    // `sandbox status` shows it: the address, the node that saw it, the rogue's MAC (no node of
    // ours), the interface, since when, and the controller's quarantine; the Services' NO-INTERFACE
    // column as before (every node is on the LAN).
    const status = (await ironlb('sandbox', 'status')).stdout;
    expect(status).toMatch(/CONFLICT-IP +SEEN-BY +OTHER-MAC +OTHER-NODE +INTERFACE +SINCE +STATE\n/);
    const row = new RegExp(`^${rogue.replace(/\./g, '\\.')} +(node-\\d) +${rogueMac} +- +eth0 +(\\S+) +quarantined$`, 'm').exec(status);
    expect(row, status).not.toBeNull();
    const since = Date.parse(row?.[2] ?? '');
    expect(Date.now() - since).toBeGreaterThanOrEqual(0);
    expect(Date.now() - since).toBeLessThan(120_000);
    expect(status).toMatch(new RegExp(`^default/rogue-demo +${moved.replace(/\./g, '\\.')} +\\S+ +-$`, 'm'));

    // The rogue lets go: the speakers' next re-probe (30 s by default) clears their reports.
    expect((await ironlb('sandbox', 'rogue', 'remove', rogue)).code).toBe(0);
    expect((await ironlb('sandbox', 'rogue', 'list')).stdout).toBe('the client holds no rogue address\n');
    await eventually('the conflict reports cleared', async () => {
      const out = (await kubectl('get', 'lease', '-n', 'ironlb-system', '-o', 'jsonpath={.items[*].metadata.annotations.ironlb\\.io/conflicts}')).stdout;
      return out.includes(rogue) ? undefined : out;
    }, 60_000).catch(async (e: unknown) => {
      throw new Error(`${String(e)}\nthe speakers' lines about ${rogue}:\n${await speakerLinesAbout(rogue)}`);
    });
    expect((await ironlb('sandbox', 'rogue', 'remove', rogue)).stderr).toContain('the client does not hold it');
    const after = (await ironlb('sandbox', 'status')).stdout;
    expect(after).toContain('\nno address conflicts\n');
    expect(after).not.toContain(rogueMac);
  }, 240_000);
});
