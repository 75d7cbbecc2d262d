import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliPath } from '../helpers/cli.js';

// Without a kubeconfig and outside a pod, client-node falls back to http://localhost:8080 and
// every request fails forever; ironlb must say so once and exit instead.
describe('no cluster configuration', () => {
  let home = '';
  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'ironlb-home-'));
  });
  afterAll(async () => {
    await rm(home, { recursive: true, force: true });
  });

  it.each([
    { name: 'controller', args: ['controller', '--metrics-port', '0'] },
    { name: 'speaker', args: ['speaker', '--node-name', 'n1', '--no-announce', '--metrics-port', '0'] },
  ])('$name exits 1 at once with one clear line', async ({ args }) => {
    const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home };
    const child = spawn(process.execPath, [cliPath, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let stdout = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => { resolve(c); }));
    clearTimeout(timer);
    expect(code).toBe(1);
    expect(stderr.trim().split('\n')).toEqual([expect.stringMatching(/^ironlb \w+: no cluster configuration: .*KUBECONFIG.*not in a pod/)]);
    expect(stdout).toBe('');
  }, 15_000);
});
