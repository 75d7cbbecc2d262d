import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect } from 'vitest';
import { destroyLan } from '../../src/sandbox/lan.js';
import { runCli } from './cli.js';
import { runKubectl, type KubectlResult } from './kubectl.js';
import { sh } from './netns.js';
import { stopProcessesMentioning } from './processes.js';
import { waitForValue } from './wait.js';

/** The LAN a sandbox test builds: its own prefix and subnets, so a user's sandbox is not touched. */
export interface SandboxLan {
  /** Prefix of its namespaces and links (`<prefix>-node-1`, `<prefix>-client`, ...). */
  readonly prefix: string;
  /** The IPv4 /24, as three octets (`10.213.7`). */
  readonly v4: string;
  /** The IPv6 /64, as `fd00:213:8::`. */
  readonly v6: string;
}

/**
 * A LAN for one test file, unique per test process: `<tag><pid % 1000>` and the subnets
 * 10.<net>.<pid % 200>.0/24 and fd00:<net>:<pid % 199 + 1>::/64 (never a zero group, which
 * would not be canonical). Each file picks its own `tag` and `net`.
 */
export function sandboxLan(tag: string, net: number): SandboxLan {
  return {
    prefix: `${tag}${(process.pid % 1000).toString()}`,
    v4: `10.${String(net)}.${String(process.pid % 200)}`,
    v6: `fd00:${String(net)}:${((process.pid % 199) + 1).toString(16)}::`,
  };
}

export interface SandboxOptions extends SandboxLan {
  /** Names the test in its temp dir (`ironlb-<name>-...`) and in log lines. */
  readonly name: string;
  readonly nodes: number;
  /** How long `sandbox up` may take (default 120 s). */
  readonly upTimeoutMs?: number;
  /** How long `eventually` waits when not told (default 30 s). */
  readonly pollTimeoutMs?: number;
}

/** A running `ironlb sandbox up`, as a test file sees it once its beforeAll has run. */
export interface TestSandbox {
  /** The test's temp dir (for manifests it writes); the sandbox state is in `stateDir`. */
  readonly dir: string;
  readonly stateDir: string;
  readonly kubeconfig: string;
  /** What `sandbox up` printed. */
  readonly upStdout: string;
  /** The real kubectl against the sandbox. */
  readonly kubectl: (...args: string[]) => Promise<KubectlResult>;
  /** What `ironlb sandbox status` prints. */
  readonly status: () => Promise<string>;
  /** The node that announces a Service's IP, from `sandbox status` (undefined while none does). */
  readonly announcer: (svc: string, ip: string) => Promise<string | undefined>;
  /**
   * Polls `probe` every 200 ms until it answers something other than undefined; on timeout
   * fails naming `what`, with `sandbox status` (who announces what) in the message.
   */
  readonly eventually: <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs?: number) => Promise<T>;
}

interface Up {
  readonly dir: string;
  readonly kubeconfig: string;
  readonly upStdout: string;
}

/**
 * Brings a sandbox up in the enclosing describe's beforeAll (`sandbox up --nodes N` on the
 * options' LAN, asserting exit 0 and an empty stderr) and removes it in its afterAll, on every
 * path: `sandbox down`, then whatever processes `down` did not find, the namespaces and links of
 * the LAN, and the temp dir. Returns the handle the tests use.
 */
export function useSandbox(options: SandboxOptions): TestSandbox {
  let dir: string | undefined;
  let up: Up | undefined;
  const stateDirOf = (d: string): string => join(d, 'state');
  const need = (): Up => {
    if (up === undefined) throw new Error(`${options.name}: the sandbox is not up`);
    return up;
  };
  const upTimeoutMs = options.upTimeoutMs ?? 120_000;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), `ironlb-${options.name}-`));
    const r = await runCli(['sandbox', 'up', '--nodes', String(options.nodes), '--state-dir', stateDirOf(dir), '--lan-prefix', options.prefix, '--lan-v4', options.v4, '--lan-v6', options.v6], { timeoutMs: upTimeoutMs });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    up = { dir, kubeconfig: r.stdout.split('\n')[0]?.replace(/^KUBECONFIG=/, '') ?? '', upStdout: r.stdout };
  }, upTimeoutMs + 30_000);

  afterAll(async () => {
    if (dir === undefined) return;
    const stateDir = stateDirOf(dir);
    await runCli(['sandbox', 'down', '--state-dir', stateDir], { timeoutMs: 60_000 });
    // Whatever `down` did not find (a failed test must not leave a sandbox running here): every
    // process started with this state dir, then the namespaces and link of this LAN.
    const leftover = await stopProcessesMentioning(stateDir);
    if (leftover > 0) console.error(`sandbox ${options.name}: stopped ${String(leftover)} processes that sandbox down left`);
    await destroyLan({ prefix: options.prefix, nodes: options.nodes, v4Net: options.v4, v6Net: options.v6, hostLink: true });
    await rm(dir, { recursive: true, force: true });
  }, 90_000);

  const status = async (): Promise<string> => (await runCli(['sandbox', 'status', '--state-dir', stateDirOf(need().dir)])).stdout;
  return {
    get dir() {
      return need().dir;
    },
    get stateDir() {
      return stateDirOf(need().dir);
    },
    get kubeconfig() {
      return need().kubeconfig;
    },
    get upStdout() {
      return need().upStdout;
    },
    kubectl: (...args) => runKubectl(need().kubeconfig, args),
    status,
    announcer: async (svc, ip) => new RegExp(`default/${svc}\\s+${ip.replace(/\./g, '\\.')}\\S*\\s+(node-\\d+)`).exec(await status())?.[1],
    eventually: async <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = options.pollTimeoutMs ?? 30_000): Promise<T> => {
      try {
        return await waitForValue(what, probe, { timeoutMs, intervalMs: 200 });
      } catch (e: unknown) {
        throw new Error(`${e instanceof Error ? e.message : String(e)}; sandbox status:\n${await status()}`, { cause: e });
      }
    },
  };
}

/** What the sandbox API server recorded of its clients' requests: counts per "user verb resource", and the forbidden ones. */
export interface SandboxRequests {
  readonly counts: Record<string, number>;
  readonly forbidden: string[];
}

/** Reads the sandbox API server's request record (`/sandbox/v1/requests`) with the kubeconfig's token. */
export async function sandboxRequests(kubeconfig: string): Promise<SandboxRequests> {
  const kc = (await readFile(kubeconfig, 'utf8')).split('\n');
  const server = kc.find((l) => l.includes('server:'))?.split('server:')[1]?.trim() ?? '';
  const token = kc.find((l) => l.includes('token:'))?.split('token:')[1]?.trim() ?? '';
  const r = await sh('curl', ['-sk', '-H', `Authorization: Bearer ${token}`, `${server}/sandbox/v1/requests`]);
  return JSON.parse(r.stdout) as SandboxRequests;
}
