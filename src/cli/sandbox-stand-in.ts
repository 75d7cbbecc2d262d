import { runStandInServer } from '../sandbox/kubelet/stand-in-server.js';
import { UsageError } from '../shared/errors.js';
import { exitCode, type CommandRunner } from './command.js';
import { commonFlags, printUsage, readFlags } from './flags.js';

const flagSpec = {
  ...commonFlags,
  pod: { type: 'string', description: 'the Pod this container belongs to' },
  node: { type: 'string', description: 'the node the Pod runs on' },
  port: { type: 'strings', description: 'a TCP port to listen on (repeat or comma list; default 80)' },
  'drain-seconds': { type: 'number', default: 0, min: 0, max: 3600, description: 'keep serving this long after SIGTERM before closing (an app that drains; a Pod sets IRONLB_DRAIN_SECONDS in its env)' },
} as const;

/** Parses `--port` values, naming the bad one. */
export function parsePorts(values: readonly string[]): number[] {
  return values.map((v) => {
    const n = Number(v);
    if (!/^\d+$/.test(v) || n < 1 || n > 65535) throw new UsageError(`--port: "${v}" is not a port (1-65535)`);
    return n;
  });
}

/** `ironlb sandbox stand-in`: internal; the sandbox kubelet runs it as any container it cannot run for real. */
export const sandboxStandInCommand: CommandRunner = {
  async run(ctx) {
    const { flags } = readFlags(flagSpec, ctx.argv, ctx.env);
    if (flags.help) return printUsage(ctx.stdout, 'ironlb sandbox stand-in --pod NAME --node NAME [--port P ...]', flagSpec);
    if (flags.pod === undefined) throw new UsageError('--pod is required');
    if (flags.node === undefined) throw new UsageError('--node is required');
    const ports = parsePorts(flags.port);
    const drainMs = flags['drain-seconds'] * 1000;
    await runStandInServer({ pod: flags.pod, node: flags.node, ports, drainMs, write: (line) => ctx.stdout.write(line), now: () => new Date() }, ctx.signal);
    return exitCode.ok;
  },
};
