import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { imageConfigOf } from '../../src/sandbox/kubelet/image-config.js';
import { containerArgv, effectiveCapabilities, ironlbCommand, isIronlbImage } from '../../src/sandbox/kubelet/ironlb-runtime.js';
import type { ContainerLaunch, ContainerSecurity } from '../../src/sandbox/kubelet/runtime.js';
import { repoRoot } from '../helpers/cli.js';

const image = imageConfigOf(readFileSync(join(repoRoot, 'Dockerfile'), 'utf8'));
const deps = { checkout: '/src/ironlb', nodePath: '/opt/node/bin/node', image, path: '/usr/bin:/bin' };

function launch(command: string[], args: string[], security: ContainerSecurity, withVolume = true): ContainerLaunch {
  return {
    pod: { namespace: 'ironlb-system', name: 'p', uid: 'u' },
    nodeName: 'node-1',
    container: { name: 'c', image: 'ironlb/ironlb:0.1.0', command, args, ports: [], security },
    env: [{ name: 'IRONLB_NAMESPACE', value: 'ironlb-system' }],
    netns: 'ns',
    hostNetwork: true,
    podIp: '10.0.0.2',
    hostIp: '10.0.0.2',
    logPath: '/tmp/x.log',
    serviceAccountDir: withVolume ? '/state/sa' : undefined,
  };
}

describe('the image config read from the Dockerfile', () => {
  it('is the last stage\'s ENTRYPOINT, USER, WORKDIR and ENV', () => {
    expect(image).toEqual({ entrypoint: ['node', '/app/bin/ironlb.js'], cmd: [], user: '65534:65534', workingDir: '/app', env: { NODE_ENV: 'production' } });
  });
  it.each([
    { name: 'shell-form CMD', text: 'FROM a\nCMD echo hi', want: { cmd: ['/bin/sh', '-c', 'echo hi'] } },
    { name: 'ENTRYPOINT resets CMD of the base', text: 'FROM a\nCMD ["x"]\nENTRYPOINT ["y"]', want: { entrypoint: ['y'], cmd: [] } },
    { name: 'only the last stage counts', text: 'FROM a AS b\nUSER 1\nFROM c\nENV A=1 B="two words"', want: { user: '', env: { A: '1', B: 'two words' } } },
  ])('$name', ({ text, want }) => {
    expect(imageConfigOf(text)).toMatchObject(want);
  });
});

describe('ironlb containers run from the checkout', () => {
  it.each([
    { name: 'args only: ENTRYPOINT + args', command: [], args: ['controller'], want: ['node', '/app/bin/ironlb.js', 'controller'] },
    { name: 'command replaces ENTRYPOINT', command: ['node', '--optimize-for-size', '/app/bin/ironlb.js'], args: ['speaker'], want: ['node', '--optimize-for-size', '/app/bin/ironlb.js', 'speaker'] },
  ])('argv: $name', ({ command, args, want }) => {
    expect(containerArgv(launch(command, args, {}), image)).toEqual(want);
  });

  it.each([
    { name: 'drop ALL', security: { capabilities: { add: [], drop: ['ALL'] } }, want: [] },
    { name: 'drop ALL, add NET_RAW', security: { capabilities: { add: ['NET_RAW'], drop: ['ALL'] } }, want: ['NET_RAW'] },
    { name: 'CAP_ prefix and case', security: { capabilities: { add: ['cap_perfmon'], drop: ['all'] } }, want: ['PERFMON'] },
    { name: 'runtime defaults minus one', security: { capabilities: { add: [], drop: ['NET_RAW'] } }, want: ['CHOWN', 'DAC_OVERRIDE', 'FSETID', 'FOWNER', 'MKNOD', 'SETGID', 'SETUID', 'SETFCAP', 'SETPCAP', 'NET_BIND_SERVICE', 'SYS_CHROOT', 'KILL', 'AUDIT_WRITE'] },
    { name: 'privileged', security: { privileged: true }, want: ['ALL'] },
  ])('capabilities: $name', ({ security, want }) => {
    expect(effectiveCapabilities(security)).toEqual(want);
  });

  it('runs the controller as the manifest says: 65534, no capabilities, no_new_privs, volume mounted, in-cluster env', () => {
    const r = ironlbCommand(launch([], ['controller'], { runAsUser: 65534, runAsGroup: 65534, runAsNonRoot: true, allowPrivilegeEscalation: false, capabilities: { add: [], drop: ['ALL'] } }), deps);
    expect(r.ok && r.value.argv).toEqual([
      'unshare', '--mount', '--propagation', 'private', '--',
      'sh', '-c', 'mount --bind "$1" "$2" && mount -o remount,bind,ro "$2" && shift 2 && exec "$@"', 'sh', '/state/sa', '/var/run/secrets/kubernetes.io/serviceaccount',
      'setpriv', '--reuid', '65534', '--regid', '65534', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', '--no-new-privs', '--',
      '/opt/node/bin/node', '/src/ironlb/bin/ironlb.js', 'controller',
    ]);
    expect(r.ok && r.value.env).toEqual({ NODE_ENV: 'production', PATH: '/usr/bin:/bin', HOSTNAME: 'node-1', IRONLB_NAMESPACE: 'ironlb-system', HOME: '/nonexistent' });
  });

  it.each([
    { name: 'the image USER when the Pod names none', security: {}, want: ['--reuid', '65534', '--regid', '65534'] },
    { name: 'runAsUser alone: group 0, as the runtime does', security: { runAsUser: 1000 }, want: ['--reuid', '1000', '--regid', '0'] },
    { name: 'root with NET_RAW', security: { runAsUser: 0, capabilities: { add: ['NET_RAW'], drop: ['ALL'] } }, want: ['--reuid', '0', '--regid', '0', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all,+net_raw', '--'] },
  ])('user: $name', ({ security, want }) => {
    const r = ironlbCommand(launch([], ['controller'], security, false), deps);
    const argv = r.ok ? r.value.argv.join(' ') : r.error;
    expect(argv).toContain(want.join(' '));
    expect(argv).not.toContain('mount --bind');
  });

  it('refuses runAsNonRoot for root with the kubelet\'s words', () => {
    expect(ironlbCommand(launch([], ['controller'], { runAsNonRoot: true, runAsUser: 0 }), deps)).toEqual({ ok: false, error: 'container c of pod ironlb-system/p: container has runAsNonRoot and image will run as root' });
  });
});

describe('which images run ironlb', () => {
  it.each([
    { name: 'the manifests\' image', image: 'ironlb/ironlb:0.1.0', want: true },
    { name: 'a registry mirror of it', image: 'registry.example.com/ironlb/ironlb:0.1.0', want: true },
    { name: 'the local podman build', image: 'localhost/ironlb:0.1.0', want: true },
    { name: 'nginx', image: 'nginx:1.15-alpine', want: false },
    { name: 'a look-alike', image: 'example/ironlb-ui:1', want: false },
  ])('$name', ({ image, want }) => {
    expect(isIronlbImage(image)).toBe(want);
  });
});
