import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { DesiredRouting } from '../../src/sandbox/service-routing.js';

const run = promisify(execFile);
const dist = fileURLToPath(new URL('../../dist/sandbox/', import.meta.url));

/** Runs a command inside a namespace; resolves with exit code and output, never rejects for a non-zero exit. */
export async function inNetns(netns: string, cmd: string, args: readonly string[]): Promise<{ code: number; stdout: string }> {
  try {
    const { stdout } = await run('ip', ['netns', 'exec', netns, cmd, ...args], { timeout: 15_000 });
    return { code: 0, stdout };
  } catch (e: unknown) {
    const r = e as { code?: unknown; stdout?: unknown };
    return { code: typeof r.code === 'number' ? r.code : -1, stdout: typeof r.stdout === 'string' ? r.stdout : '' };
  }
}

/** The MAC of an interface in a namespace. */
export async function macOf(netns: string, iface: string): Promise<string> {
  const { stdout } = await run('ip', ['netns', 'exec', netns, 'cat', `/sys/class/net/${iface}/address`]);
  return stdout.trim();
}

/**
 * Starts, inside `netns`, a node process made of the built service proxy (dist/), applying
 * `routing` once; resolves when it prints `ready`.
 */
export async function startNodeProcess(netns: string, routing: DesiredRouting): Promise<ChildProcess> {
  const code = `
    import { createServiceProxy, dummyInterfaceAddresses, serviceInterfaceName } from ${JSON.stringify(`${dist}proxy.js`)};
    import { pino } from 'pino';
    import { existsSync } from 'node:fs';
    const ac = new AbortController();
    process.on('SIGTERM', () => ac.abort());
    const proxy = createServiceProxy({ addresses: dummyInterfaceAddresses(serviceInterfaceName((i) => existsSync('/sys/class/net/' + i))), logger: pino({ level: 'silent' }) });
    await proxy.apply(${JSON.stringify(routing)});
    console.log('ready');
    await new Promise((r) => ac.signal.addEventListener('abort', r));
    await proxy.close();
  `;
  const child = spawn('ip', ['netns', 'exec', netns, process.execPath, '--input-type=module', '-e', code], {
    stdio: ['ignore', 'pipe', 'inherit'],
    cwd: fileURLToPath(new URL('../../', import.meta.url)),
  });
  const stdout = child.stdout;
  let seen = '';
  stdout.setEncoding('utf8');
  await Promise.race([
    new Promise<void>((resolve) => {
      stdout.on('data', (chunk: string) => {
        seen += chunk;
        if (seen.includes('ready')) resolve();
      });
    }),
    once(child, 'exit').then(() => {
      throw new Error(`node process in ${netns} exited before ready`);
    }),
  ]);
  return child;
}

/** Stops a child and waits for it. */
export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  await exited;
}
