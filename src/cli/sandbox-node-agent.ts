import { existsSync } from 'node:fs';
import { loadKubeConfig } from '../k8s/client.js';
import { runNodeAgent } from '../sandbox/node-agent.js';
import { dummyInterfaceAddresses, serviceInterfaceName } from '../sandbox/proxy.js';
import { UsageError } from '../shared/errors.js';
import { systemClock } from '../sys/clock.js';
import { exitCode, type CommandRunner } from './command.js';
import { commonFlags, printUsage, readFlags } from './flags.js';

const flagSpec = {
  ...commonFlags,
  node: { type: 'string', description: 'this node\'s name, e.g. node-1' },
  'node-ip': { type: 'string', description: 'this node\'s LAN address; the backend listens on it, port 8080' },
  'node-ips': { type: 'strings', description: 'NAME=IP of every sandbox node (repeat or comma list): where to forward Services whose endpoints are elsewhere' },
  kubeconfig: { type: 'string', env: 'KUBECONFIG', description: 'kubeconfig of the sandbox API server' },
  'service-interface': { type: 'string', description: 'interface for Service IPs (default kube-ipvs0 if present, else lo)' },
} as const;

/** Parses `node-1=172.31.213.11` entries into a map, naming the bad entry. */
export function parseNodeIps(entries: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const entry of entries) {
    const [name, ip, ...rest] = entry.split('=');
    if (name === undefined || name === '' || ip === undefined || ip === '' || rest.length > 0) {
      throw new UsageError(`--node-ips: "${entry}" is not NAME=IP`);
    }
    out.set(name, ip);
  }
  return out;
}

/** `ironlb sandbox node-agent`: internal; `sandbox up` runs one per node inside the node's namespace. */
export const sandboxNodeAgentCommand: CommandRunner = {
  async run(ctx) {
    const { flags } = readFlags(flagSpec, ctx.argv, ctx.env);
    if (flags.help) return printUsage(ctx.stdout, 'ironlb sandbox node-agent --node NAME --node-ip IP [--node-ips NAME=IP ...] [--kubeconfig FILE]', flagSpec);
    if (flags.node === undefined) throw new UsageError('--node is required');
    if (flags['node-ip'] === undefined) throw new UsageError('--node-ip is required');
    const nodeIps = parseNodeIps(flags['node-ips']);
    nodeIps.set(flags.node, flags['node-ip']);
    const logger = ctx.makeLogger(flags['log-level'], flags['log-format']);
    const iface = flags['service-interface'] ?? serviceInterfaceName((i) => existsSync(`/sys/class/net/${i}`));
    await runNodeAgent(
      {
        kubeConfig: loadKubeConfig({ kubeconfigPath: flags.kubeconfig }),
        nodeName: flags.node,
        nodeIp: flags['node-ip'],
        nodeIps,
        addresses: dummyInterfaceAddresses(iface),
        logger,
        clock: systemClock,
      },
      ctx.signal,
    );
    return exitCode.ok;
  },
};
