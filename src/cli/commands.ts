import type { Command, CommandRunner } from './command.js';

/**
 * Wraps a command whose module is loaded only when it runs: `ironlb announce` or
 * `config validate` must not pay for the Kubernetes client (~65 MB RSS) that the controller,
 * the speaker and the sandbox load.
 */
function lazy(name: string, summary: string, load: () => Promise<CommandRunner>): Command {
  return { name, summary, run: async (ctx) => (await load()).run(ctx) };
}

/**
 * Every subcommand, by its words, with its one-line summary for `ironlb --help`. Each lives in
 * its own file under cli/; add new ones here.
 */
export const commands: readonly Command[] = [
  lazy('config validate', 'validate a config (raw YAML or ConfigMap manifest; - for stdin)', async () => (await import('./config-validate.js')).configValidateCommand),
  lazy('controller', 'give LoadBalancer Services IPs from the pools and write their status', async () => (await import('./controller.js')).controllerCommand),
  lazy('announce', 'answer ARP/NDP for the given IPs on an interface (no Kubernetes)', async () => (await import('./announce.js')).announceCommand),
  lazy('speaker', 'announce Service IPs this node owns (node Lease, election, ARP/NDP)', async () => (await import('./speaker.js')).speakerCommand),
  lazy('sandbox up', 'start a local cluster: API server, nodes in network namespaces, controller, speakers', async () => (await import('./sandbox.js')).sandboxUpCommand),
  lazy('sandbox down', 'stop the sandbox and remove its namespaces, processes and files', async () => (await import('./sandbox.js')).sandboxDownCommand),
  lazy('sandbox status', 'show the sandbox: nodes, speakers alive, Service IPs and their owners', async () => (await import('./sandbox.js')).sandboxStatusCommand),
  lazy('sandbox rogue', 'make the client namespace a host that uses a LAN address (add IP | remove IP | list), to see conflicts', async () => (await import('./sandbox.js')).sandboxRogueCommand),
  lazy('sandbox serve', '(internal) run the sandbox in the foreground; `sandbox up` starts it in the background', async () => (await import('./sandbox.js')).sandboxServeCommand),
  lazy('sandbox node-agent', '(internal) a sandbox node\'s backend and kube-proxy stand-in; run by `sandbox up` in the node namespace', async () => (await import('./sandbox-node-agent.js')).sandboxNodeAgentCommand),
  lazy('sandbox image-source', '(internal) the digest of this checkout\'s image build inputs, which scripts/build-image.sh puts on the image', async () => (await import('./sandbox-image-source.js')).sandboxImageSourceCommand),
  lazy('sandbox stand-in', '(internal) the stand-in web server the sandbox kubelet runs for images it cannot run', async () => (await import('./sandbox-stand-in.js')).sandboxStandInCommand),
];
