import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { servedProtobufCodec } from '../../src/sandbox/apiserver/protobuf/served.js';
import { renderTable } from '../../src/sandbox/apiserver/tables.js';
import { startTestApiServer, type TestApiServer } from '../helpers/apiserver.js';
import { runKubectl } from '../helpers/kubectl.js';

interface CurlReply {
  readonly code: number;
  readonly contentType: string;
  readonly body: string;
}

/** Runs the curl installed on the machine: status code, Content-Type and body. */
function curl(api: TestApiServer, caFile: string, path: string, args: readonly string[] = []): Promise<CurlReply> {
  return new Promise((resolve, reject) => {
    const marker = '\n--curl--';
    const all = ['-sS', '--cacert', caFile, '-H', `Authorization: Bearer ${api.token}`, '-w', `${marker}%{http_code} %{content_type}`, ...args, `${api.url}${path}`];
    execFile('curl', all, { timeout: 10_000 }, (error, stdout) => {
      if (error !== null) {
        reject(new Error(`curl failed: ${error.message}`));
        return;
      }
      const at = stdout.lastIndexOf(marker);
      const [code = '0', contentType = ''] = stdout.slice(at + marker.length).split(' ');
      resolve({ code: Number(code), contentType, body: stdout.slice(0, at) });
    });
  });
}

const configMapYaml = `apiVersion: v1
kind: ConfigMap
metadata:
  name: from-yaml
data:
  color: blue
`;

describe('media types a client can ask for, with curl (kube-apiserver negotiation)', () => {
  let api: TestApiServer;
  let caFile: string;
  const accepted = 'application/json, application/yaml, application/vnd.kubernetes.protobuf';

  beforeAll(async () => {
    api = await startTestApiServer({ table: renderTable });
    caFile = join(api.kubeconfigPath.replace(/kubeconfig$/, ''), 'ca.crt');
    await writeFile(caFile, api.cert?.cert ?? '');
  });
  afterAll(async () => {
    await api.close();
  });

  it('creates from a YAML body and answers in YAML when asked', async () => {
    const created = await curl(api, caFile, '/api/v1/namespaces/default/configmaps', ['-H', 'Content-Type: application/yaml', '-H', 'Accept: application/yaml', '--data-binary', configMapYaml]);
    expect(created).toMatchObject({ code: 201, contentType: 'application/yaml' });
    expect(parseYaml(created.body)).toMatchObject({ kind: 'ConfigMap', metadata: { name: 'from-yaml', namespace: 'default' }, data: { color: 'blue' } });
    const table = await curl(api, caFile, '/api/v1/namespaces/default/configmaps', ['-H', 'Accept: application/yaml;as=Table;v=v1;g=meta.k8s.io']);
    expect(parseYaml(table.body)).toMatchObject({ kind: 'Table', rows: [{ cells: ['from-yaml', 1, expect.any(String) as unknown] }] });
  });

  it('answers an Accept it cannot produce with 406 NotAcceptable, in JSON', async () => {
    const reply = await curl(api, caFile, '/api/v1/namespaces/default/configmaps', ['-H', 'Accept: text/html']);
    expect(reply).toMatchObject({ code: 406, contentType: 'application/json' });
    expect(JSON.parse(reply.body)).toEqual({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `only the following media types are accepted: ${accepted}`, reason: 'NotAcceptable', code: 406 });
    const discovery = await curl(api, caFile, '/api/v1', ['-H', 'Accept: text/html']);
    expect(discovery.code).toBe(406);
  });

  it('serves discovery in protobuf when asked, and /version in JSON whatever is asked', async () => {
    const pb = await new Promise<Buffer>((resolve, reject) => {
      execFile('curl', ['-sS', '--cacert', caFile, '-H', `Authorization: Bearer ${api.token}`, '-H', 'Accept: application/vnd.kubernetes.protobuf', `${api.url}/apis/apps/v1`], { encoding: 'buffer', timeout: 10_000 }, (error, stdout) => {
        if (error === null) resolve(stdout);
        else reject(new Error(`curl failed: ${error.message}`));
      });
    });
    const list = servedProtobufCodec().decodeObject(pb);
    expect(list).toMatchObject({ apiVersion: 'v1', kind: 'APIResourceList', groupVersion: 'apps/v1' });
    expect(list.resources).toContainEqual({ name: 'deployments/scale', singularName: '', namespaced: true, group: 'autoscaling', version: 'v1', kind: 'Scale', verbs: ['get', 'patch', 'update'] });
    const version = await curl(api, caFile, '/version', ['-H', 'Accept: text/html']);
    expect(version).toMatchObject({ code: 200, contentType: 'application/json' });
    expect(JSON.parse(version.body)).toMatchObject({ major: '1', minor: '32' });
  });

  it('serves /openapi/v2 in protobuf to `kubectl explain --output=plaintext-openapiv2`, and 406 for what it cannot produce', async () => {
    const explained = await runKubectl(api.kubeconfigPath, ['explain', 'deployment.spec.replicas', '--output=plaintext-openapiv2', '-v=8']);
    expect(explained.code).toBe(0);
    expect(explained.stderr).toContain('Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf');
    expect(explained.stdout).toMatch(/^KIND: +Deployment\nVERSION: +apps\/v1\n\nFIELD: +replicas <integer>\n\nDESCRIPTION:\n +Number of desired pods\./);
    const ports = await runKubectl(api.kubeconfigPath, ['explain', 'service.spec.ports', '--output=plaintext-openapiv2']);
    expect(ports.stdout).toMatch(/^ {3}protocol\t<string>$/m);
    const json = await curl(api, caFile, '/openapi/v2', ['-H', 'Accept: application/json']);
    expect(json).toMatchObject({ code: 200, contentType: 'application/json' });
    expect(JSON.parse(json.body)).toMatchObject({ swagger: '2.0' });
    expect(await curl(api, caFile, '/openapi/v2', ['-H', 'Accept: text/html'])).toMatchObject({ code: 406, body: '' });
  });

  it('refuses a YAML watch (YAML has no stream form) with the stream media types', async () => {
    const reply = await curl(api, caFile, '/api/v1/namespaces/default/configmaps?watch=1', ['-H', 'Accept: application/yaml']);
    expect(reply).toMatchObject({ code: 406, contentType: 'application/yaml' });
    expect(parseYaml(reply.body)).toMatchObject({ reason: 'NotAcceptable', message: 'only the following media types are accepted: application/json;stream=watch, application/vnd.kubernetes.protobuf;stream=watch' });
  });

  it('answers a body in a format it cannot read with 415 UnsupportedMediaType (curl -d sends a form)', async () => {
    const reply = await curl(api, caFile, '/api/v1/namespaces/default/configmaps', ['-d', '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"form"}}']);
    expect(reply.code).toBe(415);
    expect(JSON.parse(reply.body)).toMatchObject({ reason: 'UnsupportedMediaType', message: `the body of the request was in an unknown format - accepted media types include: ${accepted}` });
    const patch = await curl(api, caFile, '/api/v1/namespaces/default/configmaps/from-yaml', ['-X', 'PATCH', '-H', 'Content-Type: application/json', '-d', '{}']);
    expect(patch.code).toBe(415);
    expect(JSON.parse(patch.body)).toMatchObject({
      message: 'the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml',
    });
  });
});
