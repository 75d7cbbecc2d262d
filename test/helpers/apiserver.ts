import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import type { Admission, Authorizer } from '../../src/sandbox/apiserver/admission.js';
import { writeKubeconfig } from '../../src/sandbox/apiserver/kubeconfig.js';
import { generateServingCert, type ServingCert } from '../../src/sandbox/apiserver/tls.js';
import { startApiServer, type ApiServerOptions, type RunningApiServer, type TableRenderer } from '../../src/sandbox/apiserver/server.js';

export interface TestApiServerOptions {
  readonly host?: string;
  /** A fixed port (to restart a server where its clients expect it); default any free port. */
  readonly port?: number;
  /** Reuse a certificate (restart) instead of generating one. */
  readonly cert?: ServingCert;
  /** Reuse the admin token (restart). */
  readonly token?: string;
  readonly statePath?: string;
  readonly admission?: ReadonlyMap<string, Admission>;
  readonly authorizer?: Authorizer;
  readonly storeAuthorizer?: NonNullable<ApiServerOptions['storeAuthorizer']>;
  readonly serviceAccountTokens?: NonNullable<ApiServerOptions['serviceAccountTokens']>;
  readonly table?: TableRenderer;
  readonly eventLogSize?: number;
  readonly bookmarkIntervalMs?: number;
  /** Serve HTTPS with a fresh self-signed certificate (needed by kubectl, which sends tokens only over TLS). Default true. */
  readonly tls?: boolean;
  /** Extra token -> user pairs (e.g. service accounts for RBAC tests). */
  readonly users?: ReadonlyMap<string, string>;
}

export interface TestApiServer {
  readonly url: string;
  /** The server's certificate and key, when it serves HTTPS. */
  readonly cert: ServingCert | undefined;
  /** The admin token, also in the kubeconfig. */
  readonly token: string;
  readonly kubeconfigPath: string;
  readonly server: RunningApiServer;
  /** A KubeConfig for the admin, or for another token. */
  kubeConfig(token?: string): k8s.KubeConfig;
  close(): Promise<void>;
}

/** Starts a sandbox API server on a random port with an admin kubeconfig in a temp dir. */
export async function startTestApiServer(options: TestApiServerOptions = {}): Promise<TestApiServer> {
  const token = options.token ?? `admin-${String(process.pid)}-${String(Date.now())}`;
  const tokens = new Map([[token, 'admin'], ...(options.users ?? new Map<string, string>())]);
  const dir = await mkdtemp(join(tmpdir(), 'ironlb-apiserver-'));
  const host = options.host ?? '127.0.0.1';
  const tls = options.tls === false ? undefined : (options.cert ?? (await generateServingCert([host, 'localhost'], new Date())));
  const { tls: _wantTls, users: _users, cert: _cert, token: _token, ...rest } = options;
  const serverOptions: ApiServerOptions = { tokens, adminUsers: ['admin'], ...rest, ...(tls === undefined ? {} : { tls }) };
  const server = await startApiServer(serverOptions);
  const kubeconfigPath = join(dir, 'kubeconfig');
  await writeKubeconfig(kubeconfigPath, server.url, token, tls?.cert);
  return {
    url: server.url,
    cert: tls,
    token,
    kubeconfigPath,
    server,
    kubeConfig(t = token) {
      const kc = new k8s.KubeConfig();
      kc.loadFromOptions({
        clusters: [tls === undefined ? { name: 'sandbox', server: server.url, skipTLSVerify: true } : { name: 'sandbox', server: server.url, caData: Buffer.from(tls.cert).toString('base64'), skipTLSVerify: false }],
        users: [{ name: 'u', token: t }],
        contexts: [{ name: 'c', cluster: 'sandbox', user: 'u' }],
        currentContext: 'c',
      });
      return kc;
    },
    async close() {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
