import { hostname } from 'node:os';
import { createController } from '../controller/controller.js';
import { createControllerMetrics } from '../controller/metrics.js';
import { defaultLoadBalancerClass } from '../service/service.js';
import { coordinationApi, coreApi, loadKubeConfig } from '../k8s/client.js';
import { configMapInformer, leaseInformer, serviceInformer, serviceStatusWriter } from '../k8s/controller-io.js';
import { createEventRecorder } from '../k8s/events.js';
import { LeaderElector } from '../k8s/leader-election.js';
import { leaseWriter } from '../k8s/lease-api.js';
import { createObsServer } from '../obs/http-server.js';
import { createRegistry } from '../obs/metrics.js';
import { systemClock } from '../sys/clock.js';
import { UsageError } from '../shared/errors.js';
import { exitCode, type CommandRunner } from './command.js';
import { commonFlags, printUsage, readFlags } from './flags.js';

const flagSpec = {
  ...commonFlags,
  kubeconfig: { type: 'string', env: 'KUBECONFIG', description: 'kubeconfig file (default: in-cluster config, then ~/.kube/config)' },
  namespace: { type: 'string', default: 'ironlb-system', description: 'namespace of the config ConfigMap and the leader Lease' },
  'config-name': { type: 'string', default: 'config', description: 'name of the config ConfigMap (its key `config` holds the pools)' },
  'lb-class': { type: 'string', default: defaultLoadBalancerClass, description: 'spec.loadBalancerClass served besides none; Services of other classes are left alone' },
  'metrics-port': { type: 'number', default: 7472, min: 0, max: 65535, description: 'port of /metrics, /healthz and /readyz (0: any free port)' },
  'metrics-host': { type: 'string', default: '0.0.0.0', description: 'address the metrics server listens on' },
  'pod-name': { type: 'string', description: 'identity in the leader Lease (default: hostname and pid)' },
  'lease-duration': { type: 'number', default: 15, min: 1, description: 'seconds a leader\'s claim lasts without renewal (client-go default)' },
  'renew-deadline': { type: 'number', default: 10, min: 1, description: 'seconds a leader keeps trying to renew before it stops writing' },
  'retry-period': { type: 'number', default: 2, min: 0.1, description: 'seconds between renewals and acquisition attempts' },
} as const;

/**
 * The leader stops writing after `renew-deadline` without a renewal; a standby takes over after
 * `lease-duration` without a change. Two writers are possible unless the first is shorter, and
 * renewals must fit in the deadline (client-go's leaderelection checks the same).
 */
function checkLeaderTimings(leaseDuration: number, renewDeadline: number, retryPeriod: number): void {
  if (renewDeadline >= leaseDuration) throw new UsageError(`--renew-deadline (${String(renewDeadline)} s) must be shorter than --lease-duration (${String(leaseDuration)} s), or two replicas may both write`);
  if (retryPeriod >= renewDeadline) throw new UsageError(`--retry-period (${String(retryPeriod)} s) must be shorter than --renew-deadline (${String(renewDeadline)} s)`);
}

/** `ironlb controller`: allocates Service IPs from the ConfigMap pools (docs/controller.md). */
export const controllerCommand: CommandRunner = {
  async run(ctx) {
    const { flags } = readFlags(flagSpec, ctx.argv, ctx.env);
    if (flags.help) return printUsage(ctx.stdout, 'ironlb controller [--kubeconfig FILE] [--namespace NS]', flagSpec);
    checkLeaderTimings(flags['lease-duration'], flags['renew-deadline'], flags['retry-period']);
    const logger = ctx.makeLogger(flags['log-level'], flags['log-format']);
    const kc = loadKubeConfig({ kubeconfigPath: flags.kubeconfig });
    const identity = flags['pod-name'] ?? `${hostname()}-${String(process.pid)}`;
    const registry = createRegistry();
    const clock = systemClock;
    const namespace = flags.namespace;
    const controller = createController({
      openServices: (onChange) => serviceInformer(kc, logger, clock, onChange),
      openConfigMap: (onChange) => configMapInformer(kc, namespace, flags['config-name'], logger, clock, onChange),
      openSpeakerLeases: (onChange) => leaseInformer(kc, namespace, logger, clock, onChange),
      status: serviceStatusWriter(kc),
      events: createEventRecorder({ core: coreApi(kc), clock, logger, component: 'ironlb-controller', instance: identity }),
      leader: new LeaderElector({
        store: leaseWriter(coordinationApi(kc), namespace),
        name: 'ironlb-controller',
        identity,
        timings: { leaseDurationMs: flags['lease-duration'] * 1000, renewDeadlineMs: flags['renew-deadline'] * 1000, retryPeriodMs: flags['retry-period'] * 1000 },
        clock,
        logger,
      }),
      metrics: createControllerMetrics(registry),
      logger,
      clock,
      random: Math.random,
      namespace,
      configName: flags['config-name'],
      lbClass: flags['lb-class'],
    });
    const obs = createObsServer({ registry, health: controller, logger, host: flags['metrics-host'], port: flags['metrics-port'] });
    logger.info({ event: 'controllerStarting', identity, namespace }, 'ironlb controller starting');
    await Promise.all([controller.run(ctx.signal), obs.run(ctx.signal)]);
    return exitCode.ok;
  },
};
