import { createAnnouncer, defaultTiming } from '../layer2/announcer.js';
import { createLayer2Metrics } from '../layer2/metrics.js';
import { createObsServer } from '../obs/http-server.js';
import { createRegistry } from '../obs/metrics.js';
import { UsageError } from '../shared/errors.js';
import { checkPacketCapability, createAfPacketConns } from '../sys/af-packet.js';
import { systemClock } from '../sys/clock.js';
import { createSystemInterfaceSource } from '../sys/net-interfaces.js';
import { exitCode, type CommandRunner } from './command.js';
import { commonFlags, printUsage, readFlags } from './flags.js';
import { layer2ModeFlag, layer2Offloads } from './layer2-mode.js';

const flagSpec = {
  ...commonFlags,
  ...layer2ModeFlag,
  interface: { type: 'strings', description: 'interface to announce on (repeatable; globs like eth* allowed)' },
  ip: { type: 'strings', description: 'IPv4 or IPv6 address to announce (repeatable)' },
  'reannounce-interval': { type: 'number', default: 60, min: 0, description: 'seconds between re-announcements while owning (0 = only at start; MetalLB #2910)' },
  'metrics-port': { type: 'number', min: 0, max: 65535, description: 'serve /metrics, /healthz, /readyz on this port' },
  'metrics-host': { type: 'string', default: '0.0.0.0', description: 'address the metrics server listens on' },
  'js-arp': { type: 'boolean', description: 'answer ARP in JavaScript instead of the native fast path (for comparison)' },
} as const;

/** `ironlb announce`: the layer2 responder alone, for debugging a LAN and for tests. */
export const announceCommand: CommandRunner = {
  async run(ctx) {
    const { flags } = readFlags(flagSpec, ctx.argv, ctx.env);
    if (flags.help) return printUsage(ctx.stdout, 'ironlb announce --interface IF --ip IP [--ip IP ...]', flagSpec);
    if (flags.interface.length === 0) throw new UsageError('--interface: at least one interface is required');
    if (flags.ip.length === 0) throw new UsageError('--ip: at least one address is required');
    const logger = ctx.makeLogger(flags['log-level'], flags['log-format']);
    checkPacketCapability();
    const registry = createRegistry();
    const metrics = createLayer2Metrics(registry);
    const offloads = layer2Offloads(flags['layer2-mode'], metrics, logger);
    const announcer = createAnnouncer({
      conns: createAfPacketConns(),
      interfaces: createSystemInterfaceSource(),
      clock: systemClock,
      logger,
      metrics,
      policy: { patterns: flags.interface, explicit: true },
      timing: { ...defaultTiming, reannounceMs: flags['reannounce-interval'] * 1000 },
      fastPath: !flags['js-arp'],
      ...(offloads === undefined ? {} : { offloads }),
    });
    const owned = announcer.setOwned(flags.ip);
    if (!owned.ok) throw new UsageError(`--ip: ${owned.error.message}`);
    logger.info({ event: 'announceStarted', interfaces: flags.interface, ips: flags.ip }, 'announcing');
    const port = flags['metrics-port'];
    const obs =
      port === undefined
        ? Promise.resolve()
        : createObsServer({ registry, health: { notReadyReason: () => undefined }, logger, host: flags['metrics-host'], port }).run(ctx.signal);
    await Promise.all([announcer.run(ctx.signal), obs]);
    logger.info({ event: 'announceStopped' }, 'stopped');
    return exitCode.ok;
  },
};
