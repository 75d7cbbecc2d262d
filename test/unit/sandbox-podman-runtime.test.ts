import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { imageConfigOf } from '../../src/sandbox/kubelet/image-config.js';
import { chooseIronlbRuntime, ironlbRuntimeChooser, type LocalImage, localImageRef, podmanContainerName, podmanCreateArgs, podmanExecOutcome, podmanExit, podmanInNetns } from '../../src/sandbox/kubelet/podman-runtime.js';
import type { ContainerLaunch, ContainerRuntime, ContainerSecurity } from '../../src/sandbox/kubelet/runtime.js';
import { err, ok } from '../../src/shared/result.js';
import { repoRoot } from '../helpers/cli.js';

const image = imageConfigOf(readFileSync(join(repoRoot, 'Dockerfile'), 'utf8'));
const deps = { image, node: 'ironlb-node-1' };

function launch(command: string[], args: string[], security: ContainerSecurity, hostNetwork = true): ContainerLaunch {
  return {
    pod: { namespace: 'ironlb-system', name: 'speaker-abcde', uid: 'u-1' },
    nodeName: 'node-1',
    container: { name: 'speaker', image: 'ironlb/ironlb:0.1.0', command, args, ports: [], security },
    env: [{ name: 'IRONLB_NODE_NAME', value: 'node-1' }, { name: 'KUBERNETES_SERVICE_HOST', value: '10.0.0.1' }],
    netns: hostNetwork ? 'ironlb-node-1' : 'ironlb-node-1-p-1',
    hostNetwork,
    podIp: '10.0.0.2',
    hostIp: '10.0.0.2',
    logPath: '/tmp/x.log',
    serviceAccountDir: '/state/sa',
  };
}

/** The value after each occurrence of `flag`. */
const valuesOf = (args: readonly string[], flag: string): string[] => args.flatMap((a, i) => (a === flag ? [args[i + 1] ?? ''] : []));

const speakerSecurity: ContainerSecurity = { runAsUser: 0, runAsNonRoot: false, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { add: ['NET_RAW'], drop: ['ALL'] } };
const controllerSecurity: ContainerSecurity = { runAsUser: 65534, runAsGroup: 65534, runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { add: [], drop: ['ALL'] } };

describe('podman create for ironlb\'s image', () => {
  it.each([
    { name: 'the manifests\' tag', image: 'ironlb/ironlb:0.1.0', want: 'localhost/ironlb:0.1.0' },
    { name: 'another registry', image: 'registry.example.com:5000/ironlb:1.2.3', want: 'localhost/ironlb:1.2.3' },
    { name: 'no tag', image: 'ironlb/ironlb', want: 'localhost/ironlb:latest' },
    { name: 'a digest', image: 'ironlb/ironlb:0.1.0@sha256:abc', want: 'localhost/ironlb:0.1.0' },
  ])('maps $name to the local build', ({ image: i, want }) => {
    expect(localImageRef(i)).toBe(want);
  });

  it('runs the speaker as the DaemonSet says: root, NET_RAW alone, read-only without tmpfs, no_new_privs, the node\'s namespace, labelled', () => {
    const r = podmanCreateArgs(launch(['node', '--optimize-for-size', '/app/bin/ironlb.js'], ['speaker'], speakerSecurity), 'k8s_speaker_x', deps);
    if (!r.ok) throw new Error(r.error);
    const args = r.value;
    expect(args.slice(0, 5)).toEqual(['create', '--replace', '--pull=never', '--name', 'k8s_speaker_x']);
    expect(valuesOf(args, '--user')).toEqual(['0:0']);
    expect(valuesOf(args, '--cap-drop')).toEqual(['all']);
    expect(valuesOf(args, '--cap-add')).toEqual(['net_raw']);
    expect(args).toContain('--read-only');
    expect(args).toContain('--read-only-tmpfs=false');
    expect(valuesOf(args, '--security-opt')).toEqual(['no-new-privileges']);
    // The node's namespace: podman's own, entered with nsenter (runc refuses podman's default net sysctls in it through `ns:`).
    expect(valuesOf(args, '--network')).toEqual(['host']);
    expect(podmanInNetns('podman', launch([], [], {}), ['create', 'x'])).toEqual({ command: 'nsenter', args: ['--net=/run/netns/ironlb-node-1', 'podman', 'create', 'x'] });
    expect(valuesOf(args, '--hostname')).toEqual(['node-1']);
    expect(valuesOf(args, '--label')).toEqual(['io.ironlb.sandbox.node=ironlb-node-1', 'io.kubernetes.pod.namespace=ironlb-system', 'io.kubernetes.pod.name=speaker-abcde', 'io.kubernetes.pod.uid=u-1', 'io.kubernetes.container.name=speaker']);
    expect(valuesOf(args, '--volume')).toEqual(['/state/sa:/var/run/secrets/kubernetes.io/serviceaccount:ro']);
    expect(valuesOf(args, '--env')).toEqual(['IRONLB_NODE_NAME=node-1', 'KUBERNETES_SERVICE_HOST=10.0.0.1']);
    expect(valuesOf(args, '--entrypoint')).toEqual(['["node","--optimize-for-size","/app/bin/ironlb.js"]']);
    expect(args.slice(-2)).toEqual(['localhost/ironlb:0.1.0', 'speaker']);
  });

  it('runs the controller as the Deployment says: 65534:65534 with no capability at all (podman would make added ones ambient), in its Pod\'s namespace, the image\'s ENTRYPOINT', () => {
    const r = podmanCreateArgs(launch([], ['controller'], controllerSecurity, false), 'n', deps);
    if (!r.ok) throw new Error(r.error);
    expect(valuesOf(r.value, '--user')).toEqual(['65534:65534']);
    expect(valuesOf(r.value, '--cap-add')).toEqual([]);
    expect(valuesOf(r.value, '--network')).toEqual(['ns:/run/netns/ironlb-node-1-p-1']);
    expect(podmanInNetns('podman', launch([], [], {}, false), ['start', 'x'])).toEqual({ command: 'podman', args: ['start', 'x'] });
    expect(valuesOf(r.value, '--hostname')).toEqual(['speaker-abcde']);
    expect(r.value).not.toContain('--entrypoint');
    expect(r.value.slice(-2)).toEqual(['localhost/ironlb:0.1.0', 'controller']);
  });

  it('a non-root user keeps no capability even when the Pod adds one', () => {
    const r = podmanCreateArgs(launch([], ['speaker'], { runAsUser: 1000, capabilities: { add: ['NET_RAW'], drop: ['ALL'] } }), 'n', deps);
    expect(r.ok && valuesOf(r.value, '--cap-add')).toEqual([]);
  });

  it('the image\'s USER when the Pod names none; privileged as such', () => {
    const r = podmanCreateArgs(launch([], ['controller'], { privileged: true }), 'n', deps);
    if (!r.ok) throw new Error(r.error);
    expect(valuesOf(r.value, '--user')).toEqual(['65534:65534']);
    expect(r.value).toContain('--privileged');
    expect(r.value).not.toContain('--cap-drop');
  });

  it('refuses runAsNonRoot for root with the kubelet\'s message, naming the container and Pod', () => {
    expect(podmanCreateArgs(launch([], ['controller'], { runAsUser: 0, runAsNonRoot: true }), 'n', deps)).toEqual({ ok: false, error: 'container speaker of pod ironlb-system/speaker-abcde: container has runAsNonRoot and image will run as root' });
  });

  it('names containers as dockershim did, one name per incarnation', () => {
    expect(podmanContainerName(launch([], [], {}), 2)).toBe('k8s_speaker_speaker-abcde_ironlb-system_u-1_2');
  });

  it.each([
    { name: 'exit 0', state: { status: 'exited', exitCode: 0, error: '' }, want: { exitCode: 0, signal: undefined, reason: 'Completed' } },
    { name: 'exit 1', state: { status: 'exited', exitCode: 1, error: '' }, want: { exitCode: 1, signal: undefined, reason: 'Error' } },
    { name: 'podman kill', state: { status: 'exited', exitCode: 137, error: '' }, want: { exitCode: 137, signal: 'SIGKILL', reason: 'Error' } },
    { name: 'SIGTERM', state: { status: 'exited', exitCode: 143, error: '' }, want: { exitCode: 143, signal: 'SIGTERM', reason: 'Error' } },
    { name: 'never started', state: { status: 'created', exitCode: 0, error: '' }, want: { exitCode: 128, signal: undefined, reason: 'StartError', message: 'exec: "/x": not found' } },
    { name: 'an OCI error', state: { status: 'exited', exitCode: 127, error: 'runc failed' }, want: { exitCode: 128, signal: undefined, reason: 'StartError', message: 'runc failed' } },
  ])('reports $name as the kubelet does', ({ state, want }) => {
    expect(podmanExit(state, 'exec: "/x": not found')).toEqual(want);
  });
});

describe('podman exec, as an exec probe reads it', () => {
  it.each([
    { name: 'the command succeeded', code: 0, stderr: '', want: { kind: 'exited', exitCode: 0 } },
    { name: 'the command failed', code: 3, stderr: '', want: { kind: 'exited', exitCode: 3 } },
    { name: 'podman failed', code: 125, stderr: 'Error: no container with name or ID "x" found: no such container\n', want: { kind: 'error', message: 'podman exec failed: no container with name or ID "x" found: no such container' } },
    { name: 'not found', code: 127, stderr: 'Error: crun: executable file `nope` not found in $PATH\n', want: { kind: 'error', message: 'the command was not found: crun: executable file `nope` not found in $PATH' } },
    { name: 'not invocable, said nothing', code: 126, stderr: '', want: { kind: 'error', message: 'the command cannot be invoked' } },
  ] as const)('$name', ({ code, stderr, want }) => {
    expect(podmanExecOutcome(code, stderr)).toEqual(want);
  });
});

describe('which runtime runs ironlb\'s image', () => {
  const built = 'sha256:' + 'a'.repeat(64);
  const other = 'sha256:' + 'b'.repeat(64);
  const id = 'sha256:' + 'c'.repeat(64);
  const fresh: LocalImage = { id, source: built };
  it.each([
    { name: 'auto, podman and an image of this checkout here', mode: 'auto', installed: true, image: fresh, checkout: ok(built), podman: true, reason: /^the image IMAGE \(sha256:cccccccccccc\) was built from this checkout \(source sha256:aaaaaaaaaaaa\)$/ },
    { name: 'auto, no image', mode: 'auto', installed: true, image: undefined, checkout: ok(built), podman: false, reason: /not in podman's storage \(scripts\/build-image.sh builds it\)/ },
    { name: 'auto, no podman', mode: 'auto', installed: false, image: fresh, checkout: ok(built), podman: false, reason: /podman is not installed/ },
    { name: 'auto, the image built from other source', mode: 'auto', installed: true, image: { id, source: other }, checkout: ok(built), podman: false, reason: /^the image IMAGE \(sha256:cccccccccccc\) was built from other source than this checkout \(sha256:bbbbbbbbbbbb, checkout sha256:aaaaaaaaaaaa\); rebuild it with scripts\/build-image.sh to run it$/ },
    { name: 'auto, the image without a source label', mode: 'auto', installed: true, image: { id, source: undefined }, checkout: ok(built), podman: false, reason: /has no io.ironlb.source label/ },
    { name: 'auto, no digest of the checkout', mode: 'auto', installed: true, image: fresh, checkout: err('not a git working tree'), podman: false, reason: /this checkout's source digest cannot be had \(not a git working tree\)/ },
    { name: 'checkout forced', mode: 'checkout', installed: true, image: fresh, checkout: ok(built), podman: false, reason: /forced/ },
    { name: 'podman forced without the image', mode: 'podman', installed: true, image: undefined, checkout: ok(built), podman: true, reason: /will fail to start/ },
    { name: 'podman forced with a stale image', mode: 'podman', installed: true, image: { id, source: other }, checkout: ok(built), podman: true, reason: /^forced \(--ironlb-runtime podman\), though the image IMAGE .* was built from other source/ },
  ] as const)('$name', ({ mode, installed, image, checkout, podman, reason }) => {
    const choice = chooseIronlbRuntime({ mode, installed, image: () => image, checkout });
    expect(choice.podman).toBe(podman);
    expect(choice.reason).toMatch(reason);
  });

  it('decides once per image and says so in one log line, with the image ID it runs', () => {
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (l: string) => { lines.push(l); } });
    const fake = (name: string): ContainerRuntime => ({ name, start: () => { throw new Error('not started in this test'); } });
    const podman = fake('podman');
    const asked: string[] = [];
    const localImage = (ref: string): LocalImage | undefined => {
      asked.push(ref);
      return ref.endsWith(':0.1.0') ? fresh : ref.endsWith(':0.2.0') ? { id, source: other } : undefined;
    };
    const choose = ironlbRuntimeChooser({ mode: 'auto', podman, checkout: fake('ironlb'), localImage, checkoutSource: ok(built), logger });
    expect(choose('ironlb/ironlb:0.1.0')).toBe(podman);
    expect(choose('ironlb/ironlb:0.1.0')).toBe(podman);
    expect(choose('ironlb/ironlb:0.2.0').name).toBe('ironlb');
    expect(asked).toEqual(['localhost/ironlb:0.1.0', 'localhost/ironlb:0.2.0']);
    const parsed = lines.map((l) => JSON.parse(l) as { event: string; runtime: string; imageId?: string; msg: string });
    expect(parsed.map((p) => [p.event, p.runtime, p.imageId])).toEqual([['ironlbRuntime', 'podman', id], ['ironlbRuntime', 'ironlb', undefined]]);
    expect(parsed[0]?.msg).toBe('ironlb\'s image ironlb/ironlb:0.1.0 runs with podman: the image localhost/ironlb:0.1.0 (sha256:cccccccccccc) was built from this checkout (source sha256:aaaaaaaaaaaa)');
    expect(parsed[1]?.msg).toMatch(/^ironlb's image ironlb\/ironlb:0.2.0 runs from this checkout: the image localhost\/ironlb:0.2.0 \(sha256:cccccccccccc\) was built from other source than this checkout/);
  });
});
