import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServiceAdmission } from '../../src/sandbox/apiserver/service.js';
import { startTestApiServer, type TestApiServer } from '../helpers/apiserver.js';

/** The system python3, which sees Debian's python3-kubernetes (scripts/ensure-test-tools.sh installs it). */
const python = '/usr/bin/python3';
const script = join(import.meta.dirname, 'python', 'client_conformance.py');

function run(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(python, args, { timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, stdout, stderr });
    });
  });
}

const hasClient = existsSync(python) && (await run(['-c', 'import kubernetes'])).code === 0;
if (!hasClient) {
  const message = 'python-client tests: /usr/bin/python3 cannot import kubernetes; run scripts/ensure-test-tools.sh as root (Debian python3-kubernetes)';
  if (process.env.CI === 'true') throw new Error(message);
  console.warn(`SKIPPING ${message}`);
}

describe.skipIf(!hasClient)('the official Python client against the sandbox API server', () => {
  let api: TestApiServer;
  let observed: Record<string, unknown>;

  beforeAll(async () => {
    api = await startTestApiServer({ admission: new Map([['/services', createServiceAdmission()]]) });
    const result = await run([script, api.kubeconfigPath]);
    if (result.code !== 0) throw new Error(`client_conformance.py failed (${String(result.code)}):\n${result.stderr}`);
    observed = JSON.parse(result.stdout) as Record<string, unknown>;
    console.log(`python3-kubernetes ${String(observed.clientVersion)}`);
  }, 90_000);
  afterAll(async () => {
    await api.close();
  });

  it('does CRUD on ConfigMaps, and a stale replace is a 409 Conflict', () => {
    expect(observed.cmReplaced).toEqual({ a: '2' });
    expect(observed.cmStaleReplace).toEqual({ status: 409, reason: 'Conflict' });
    expect(observed.cmLabels).toEqual({ x: 'y' });
    expect(observed.cmNames).toContain('py-cm');
  });

  it('pages a list with limit and _continue: every object once, in name order', () => {
    expect(observed.paged).toEqual({ names: ['pg-a', 'pg-b', 'pg-c'], pages: 2 });
  });

  it('watches from a resourceVersion (watch=True) and sees MODIFIED, then DELETED', () => {
    expect(observed.watch).toEqual([
      ['MODIFIED', '9'],
      ['DELETED', '9'],
    ]);
  });

  it('does CRUD on Services and writes and reads the status subresource', () => {
    expect(observed.svcClusterIP).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    expect(observed.svcStatusIngress).toEqual(['192.0.2.50']);
    expect(observed.svcReplacedPort).toBe(8081);
    expect(observed.svcAfterDelete).toEqual({ status: 404, reason: 'NotFound' });
  });

  it('does CRUD on Leases, keeping MicroTime to the microsecond', () => {
    expect(observed.leaseRenewTime).toBe('2026-12-04T12:00:00.123456+00:00');
    expect(observed.leaseHolder).toBe('node-b');
    expect(observed.leaseNames).toContain('py-lease');
  });

  it('does CRUD on Events, and reads a core/v1 Event as events.k8s.io/v1', () => {
    expect(observed.eventNote).toBe('hello from python');
    expect(observed.eventReasons).toContain('Tested');
    expect(observed.eventAfterDelete).toEqual({ status: 404, reason: 'NotFound' });
  });
});
