import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadKubeConfig } from '../k8s/client.js';
import { defaultLanPlan, lanLayout, type LanPlan } from '../sandbox/lan.js';
import { listRogue, parseRogueAddress, setRogue, type RogueAction } from '../sandbox/rogue.js';
import { readRuntimeReport } from '../sandbox/runtime-report.js';
import { formatSandboxStatus, readSandboxStatus } from '../sandbox/sandbox-status.js';
import { defaultStateDir, prepareStateDir, processAlive, readReady, readRecord, sandboxPaths, type ReadyRecord, type SandboxPaths } from '../sandbox/state-dir.js';
import { speakerPids } from '../sandbox/speaker-pids.js';
import { runSandbox } from '../sandbox/supervisor.js';
import { loadManifests } from '../sandbox/install.js';
import { manifestsDir, packageJsonPath, sandboxApiPlugins } from '../sandbox/plugins.js';
import { teardownSandbox } from '../sandbox/teardown.js';
import { AppError, UsageError } from '../shared/errors.js';
import { systemClock } from '../sys/clock.js';
import { exitCode, type CommandRunner, type CommandContext } from './command.js';
import { commonFlags, printUsage, readFlags } from './flags.js';

const stateDirFlag = { 'state-dir': { type: 'string', description: 'where the sandbox keeps its kubeconfig, logs and pids (default /run/ironlb-sandbox as root)' } } as const;

const upFlags = {
  ...commonFlags,
  ...stateDirFlag,
  nodes: { type: 'number', default: 3, min: 0, max: 80, description: 'number of nodes (network namespaces ironlb-node-1..N)' },
  'no-controller': { type: 'boolean', description: 'do not run the controller (run `ironlb controller --kubeconfig ...` yourself)' },
  'no-speakers': { type: 'boolean', description: 'do not run speakers' },
  'no-netns': { type: 'boolean', description: 'no network namespaces, even as root: speakers compute without sending (what a non-root user gets)' },
  port: { type: 'number', default: 0, min: 0, max: 65535, description: 'API server port (0: any free port)' },
  'ready-timeout': { type: 'number', default: 90, min: 1, description: 'seconds to wait for everything to be ready' },
  'lan-prefix': { type: 'string', default: defaultLanPlan.prefix, description: 'prefix of namespace and link names (tests use their own)' },
  'lan-v4': { type: 'string', default: defaultLanPlan.v4Net, description: 'first three octets of the LAN /24' },
  'lan-v6': { type: 'string', default: defaultLanPlan.v6Net, description: 'the LAN /64 prefix ending in ::' },
} as const;

const plainFlags = { ...commonFlags, ...stateDirFlag } as const;

function isRoot(): boolean {
  return process.getuid?.() === 0;
}

function pathsFrom(ctx: CommandContext, dir: string | undefined): SandboxPaths {
  return sandboxPaths(resolve(dir ?? defaultStateDir(ctx.env, process.getuid?.() ?? 1000)));
}

/** The LAN plan from the flags; a bad prefix or subnet is a usage error naming the flag. */
function planFrom(flags: { readonly nodes: number; readonly 'lan-prefix': string; readonly 'lan-v4': string; readonly 'lan-v6': string }): LanPlan {
  if (!/^[a-z][a-z0-9]{0,9}$/.test(flags['lan-prefix'])) throw new UsageError(`--lan-prefix: "${flags['lan-prefix']}" must be 1-10 lower-case letters and digits, starting with a letter`);
  if (!/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.test(flags['lan-v4']) || flags['lan-v4'].split('.').some((o) => Number(o) > 255)) {
    throw new UsageError(`--lan-v4: "${flags['lan-v4']}" is not three IPv4 octets like 172.31.213`);
  }
  if (!/^[0-9a-f:]+::$/i.test(flags['lan-v6'])) throw new UsageError(`--lan-v6: "${flags['lan-v6']}" is not a /64 prefix ending in :: like fd00:213::`);
  return { prefix: flags['lan-prefix'], v4Net: flags['lan-v4'], v6Net: flags['lan-v6'], nodes: flags.nodes };
}

/** The CLI to start children with: this node and this bin/ironlb.js. */
function ironlbArgv(): string[] {
  return [process.execPath, resolve(process.argv[1] ?? 'bin/ironlb.js')];
}

const nginxManifest = fileURLToPath(new URL('../../config/nginx.yaml', import.meta.url));


/** `ironlb sandbox up`: starts the supervisor in the background and returns once it is ready. */
export const sandboxUpCommand: CommandRunner = {
  async run(ctx) {
    const { flags } = readFlags(upFlags, ctx.argv, ctx.env);
    if (flags.help) return printUsage(ctx.stdout, 'ironlb sandbox up [--nodes N] [--no-controller] [--no-speakers] [--no-netns] [--state-dir DIR]', upFlags);
    planFrom(flags);
    const paths = pathsFrom(ctx, flags['state-dir']);
    await refuseIfRunning(ctx, paths);
    await prepareStateDir(paths);
    if ((!isRoot() || flags['no-netns']) && flags.nodes > 0) {
      const why = isRoot() ? '--no-netns' : 'not root';
      ctx.stderr.write(`ironlb sandbox: ${why}, so no network namespaces: the API server, controller and speakers run, but speakers only compute (--no-announce) and nothing answers on a LAN. Run as root for the full sandbox.\n`);
    }
    const serveArgs = ['sandbox', 'serve', '--state-dir', paths.dir, '--nodes', String(flags.nodes), '--port', String(flags.port), '--ready-timeout', String(flags['ready-timeout']), '--log-level', flags['log-level']];
    serveArgs.push('--lan-prefix', flags['lan-prefix'], '--lan-v4', flags['lan-v4'], '--lan-v6', flags['lan-v6']);
    if (flags['no-controller']) serveArgs.push('--no-controller');
    if (flags['no-speakers']) serveArgs.push('--no-speakers');
    if (flags['no-netns']) serveArgs.push('--no-netns');
    const pid = startDetached([...ironlbArgv(), ...serveArgs], `${paths.logs}/sandbox.log`);
    // The supervisor enforces --ready-timeout itself and then exits with its reason (after tearing
    // down, which takes seconds); the margin here only covers a supervisor that hangs.
    const ready = await waitForReady(paths, pid, flags['ready-timeout'] * 1000 + 60_000);
    ctx.stdout.write(readyText(ready, paths, await readRuntimeReport(paths.logs, ready.lan ? ready.nodes : [])));
    return exitCode.ok;
  },
};

async function refuseIfRunning(ctx: CommandContext, paths: SandboxPaths): Promise<void> {
  const record = await readRecord(paths);
  if (record === undefined) return;
  if (processAlive(record.pid)) {
    throw new AppError('ERR_SANDBOX_RUNNING', `a sandbox is already running (pid ${String(record.pid)}, state dir ${paths.dir}); run \`ironlb sandbox down\` first`);
  }
  ctx.stderr.write(`ironlb sandbox: cleaning up after an earlier sandbox that did not stop cleanly (pid ${String(record.pid)})\n`);
  await teardownSandbox(paths, systemClock, isRoot());
}

function startDetached(argv: readonly string[], logPath: string): number {
  const fd = openSync(logPath, 'a');
  try {
    const child = spawn(argv[0] ?? process.execPath, argv.slice(1), { detached: true, stdio: ['ignore', fd, fd] });
    child.unref();
    if (child.pid === undefined) throw new AppError('ERR_SANDBOX_START', 'could not start the sandbox process');
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

async function waitForReady(paths: SandboxPaths, pid: number, timeoutMs: number): Promise<ReadyRecord> {
  const deadline = systemClock.now() + timeoutMs;
  for (;;) {
    const ready = await readReady(paths);
    if (ready !== undefined) return ready;
    if (!processAlive(pid)) throw new AppError('ERR_SANDBOX_START', `the sandbox stopped while starting:\n${await logTail(`${paths.logs}/sandbox.log`)}`);
    if (systemClock.now() > deadline) throw new AppError('ERR_SANDBOX_START', `the sandbox was not ready in time; see ${paths.logs}; \`ironlb sandbox down\` cleans up`);
    await systemClock.sleep(100);
  }
}

/**
 * The end of the supervisor's log: from its error (`ironlb sandbox serve: ...`, which may span
 * lines, one per unready Pod) if it wrote one, else the last 5 lines; each JSON line reduced to its
 * message.
 */
async function logTail(path: string): Promise<string> {
  const lines = (await readFile(path, 'utf8').catch(() => '')).trim().split('\n');
  const errorAt = lines.map((l) => l.startsWith('ironlb sandbox serve: ')).lastIndexOf(true);
  return (errorAt >= 0 ? lines.slice(errorAt) : lines.slice(-5))
    .map((line) => {
      try {
        const parsed = JSON.parse(line) as { msg?: string; err?: { message?: string } };
        return `  ${parsed.msg ?? ''}${parsed.err?.message === undefined ? '' : `: ${parsed.err.message}`}`;
      } catch {
        return `  ${line}`;
      }
    })
    .join('\n');
}

/** What `up` prints once ready; `runtimes`: which runtime ran ironlb's image, and why (runtime-report.ts). */
function readyText(ready: ReadyRecord, paths: SandboxPaths, runtimes: readonly string[]): string {
  const plan = ready.plan;
  const nodes = ready.nodes.length === 0 ? 'no nodes' : `nodes ${ready.nodes.join(', ')}`;
  const where = ready.lan ? ` in network namespaces ${plan.prefix}-node-1..${String(ready.nodes.length)}, client namespace ${plan.prefix}-client` : ' (no network namespaces: speakers compute but do not send)';
  const lines = [
    `KUBECONFIG=${ready.kubeconfig}`,
    `ironlb sandbox is up: API server ${ready.url}, ${nodes}${ready.nodes.length > 0 ? where : ''}.`,
    `${ready.controller ? 'controller running' : 'no controller (--no-controller)'}; ${ready.speakers && ready.nodes.length > 0 ? 'one speaker per node' : 'no speakers'}; logs in ${paths.logs}`,
    ...runtimes,
    '',
    'Try:',
    `  export KUBECONFIG=${ready.kubeconfig}`,
    '  kubectl get pods -n ironlb-system -o wide',
    `  kubectl apply -f ${nginxManifest}`,
    '  kubectl get svc nginx',
  ];
  if (ready.lan) lines.push(`  ip netns exec ${plan.prefix}-client curl -s http://$(kubectl get svc nginx -o jsonpath='{.status.loadBalancer.ingress[0].ip}'):8090/`);
  lines.push('  ironlb sandbox status', '  ironlb sandbox down', '');
  return lines.join('\n');
}

/** The checkout's version (package.json), which tags its local image build. */
async function packageVersion(): Promise<string> {
  const parsed: unknown = JSON.parse(await readFile(packageJsonPath, 'utf8'));
  const version = typeof parsed === 'object' && parsed !== null && 'version' in parsed ? parsed.version : undefined;
  if (typeof version !== 'string') throw new AppError('ERR_SANDBOX_INSTALL', `${packageJsonPath}: no "version"`);
  return version;
}

/** `ironlb sandbox serve`: the supervisor itself, in the foreground (`up` runs it detached). */
export const sandboxServeCommand: CommandRunner = {
  async run(ctx) {
    const { flags } = readFlags(upFlags, ctx.argv, ctx.env);
    if (flags.help) return printUsage(ctx.stdout, 'ironlb sandbox serve [--nodes N] [--state-dir DIR]', upFlags);
    const paths = pathsFrom(ctx, flags['state-dir']);
    await prepareStateDir(paths);
    const logger = ctx.makeLogger(flags['log-level'], flags['log-format']);
    await runSandbox(
      {
        paths,
        plan: planFrom(flags),
        lan: isRoot() && flags.nodes > 0 && !flags['no-netns'],
        controller: !flags['no-controller'],
        speakers: !flags['no-speakers'],
        ironlb: ironlbArgv(),
        port: flags.port,
        plugins: sandboxApiPlugins(),
        manifests: await loadManifests(manifestsDir, await packageVersion()),
        logger,
        clock: systemClock,
        readyTimeoutMs: flags['ready-timeout'] * 1000,
      },
      ctx.signal,
    );
    return exitCode.ok;
  },
};

/** `ironlb sandbox down`: removes everything `up` made, also after a crash. */
export const sandboxDownCommand: CommandRunner = {
  async run(ctx) {
    const { flags } = readFlags(plainFlags, ctx.argv, ctx.env);
    if (flags.help) return printUsage(ctx.stdout, 'ironlb sandbox down [--state-dir DIR]', plainFlags);
    const paths = pathsFrom(ctx, flags['state-dir']);
    const report = await teardownSandbox(paths, systemClock, isRoot());
    if (!report.found) ctx.stdout.write('no sandbox was running; nothing to remove\n');
    else ctx.stdout.write(`sandbox removed${report.killed.length > 0 ? ` (killed leftover ${report.killed.join(', ')})` : ''}\n`);
    return exitCode.ok;
  },
};

/** `ironlb sandbox status`: nodes, speakers, Services and who announces them. */
export const sandboxStatusCommand: CommandRunner = {
  async run(ctx) {
    const { flags } = readFlags(plainFlags, ctx.argv, ctx.env);
    if (flags.help) return printUsage(ctx.stdout, 'ironlb sandbox status [--state-dir DIR]', plainFlags);
    const paths = pathsFrom(ctx, flags['state-dir']);
    const record = await readRecord(paths);
    const ready = await readReady(paths);
    if (record === undefined || !processAlive(record.pid)) {
      ctx.stdout.write('no sandbox running (`ironlb sandbox up` starts one)\n');
      return exitCode.failure;
    }
    if (ready === undefined) {
      ctx.stdout.write(`sandbox starting (pid ${String(record.pid)}); logs in ${paths.logs}\n`);
      return exitCode.ok;
    }
    const status = await readSandboxStatus(loadKubeConfig({ kubeconfigPath: ready.kubeconfig }), Date.now());
    ctx.stdout.write(`sandbox running (pid ${String(record.pid)}), API server ${ready.url}, ${ready.lan ? 'network namespaces' : 'no network namespaces'}\nKUBECONFIG=${ready.kubeconfig}\n`);
    // With namespaces the speakers are the kubelets' containers, not the supervisor's children.
    const pids = ready.lan ? { ...record.children, ...(await speakerPids(lanLayout(ready.plan).nodes)) } : record.children;
    ctx.stdout.write(formatSandboxStatus(status, pids));
    const runtimes = ready.lan ? await readRuntimeReport(paths.logs, ready.nodes) : [];
    ctx.stdout.write(`\n${runtimes.length > 0 ? runtimes.join('\n') : ready.lan ? "no node has run ironlb's image yet" : "ironlb runs from this checkout as plain processes (no network namespaces, no kubelets)"}\n`);
    return exitCode.ok;
  },
};

const rogueUsage = 'ironlb sandbox rogue add IP | remove IP | list [--state-dir DIR]';

/**
 * `ironlb sandbox rogue`: makes the client namespace a host outside the cluster that holds (or
 * lets go of) an address on the LAN, to watch ironlb's conflict handling (docs/speaker.md
 * "Address conflicts").
 */
export const sandboxRogueCommand: CommandRunner = {
  async run(ctx) {
    const { flags, positionals } = readFlags(plainFlags, ctx.argv, ctx.env);
    if (flags.help) return printUsage(ctx.stdout, rogueUsage, plainFlags);
    const request = rogueRequest(positionals);
    const ready = await runningLan(ctx, flags['state-dir']);
    if (request.action === 'list') {
      const held = await listRogue(ready.plan);
      ctx.stdout.write(held.length === 0 ? 'the client holds no rogue address\n' : `${held.join('\n')}\n`);
      return exitCode.ok;
    }
    const { action } = request;
    const address = parseRogueAddress(request.ip, ready.plan);
    if (!address.ok) throw new UsageError(`IP: ${address.error}`);
    await setRogue(ready.plan, action, address.value);
    const netns = `${ready.plan.prefix}-client`;
    ctx.stdout.write(action === 'add'
      ? `${netns} now holds ${address.value.ip}: its kernel answers ARP/NDP for it, as another host on the LAN would.\nironlb does not announce it; a Service given it is moved: kubectl get events -A --field-selector reason=AddressConflict\n`
      : `${netns} let go of ${address.value.ip}; the quarantine lifts at the speakers' next re-probe (--conflict-reprobe, 30 s).\n`);
    return exitCode.ok;
  },
};

function isRogueWord(word: string | undefined): word is RogueAction | 'list' {
  return word === 'add' || word === 'remove' || word === 'list';
}

/** The words after `sandbox rogue`: `add IP`, `remove IP` or `list`; anything else is a usage error. */
function rogueRequest(positionals: readonly string[]): { readonly action: 'list' } | { readonly action: RogueAction; readonly ip: string } {
  const [action, ip, ...extra] = positionals;
  if (!isRogueWord(action)) throw new UsageError(`expected add, remove or list, got "${action ?? ''}"; usage: ${rogueUsage}`);
  if (action === 'list' && ip === undefined) return { action };
  if (action !== 'list' && ip !== undefined && extra.length === 0) return { action, ip };
  throw new UsageError(`${action} takes ${action === 'list' ? 'no argument' : 'one IP address'}; usage: ${rogueUsage}`);
}

/** The running sandbox's ready record, when it has a LAN (root, network namespaces); else a clear error. */
async function runningLan(ctx: CommandContext, dir: string | undefined): Promise<ReadyRecord> {
  const paths = pathsFrom(ctx, dir);
  const record = await readRecord(paths);
  const ready = await readReady(paths);
  if (record === undefined || !processAlive(record.pid) || ready === undefined) throw new AppError('ERR_SANDBOX_NOT_RUNNING', `no sandbox running with state dir ${paths.dir} (\`ironlb sandbox up\` starts one)`);
  if (!ready.lan || !isRoot()) throw new AppError('ERR_SANDBOX_NO_LAN', ready.lan ? 'needs root: the rogue host is the client network namespace' : 'this sandbox has no network namespaces (started without root or with --no-netns): there is no LAN for a rogue host');
  return ready;
}
