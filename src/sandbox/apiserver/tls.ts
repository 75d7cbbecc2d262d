import { isIP } from 'node:net';
import { generate } from 'selfsigned';

/** A serving certificate and key, PEM. The certificate is its own CA (kubeconfig certificate-authority-data). */
export interface ServingCert {
  readonly cert: string;
  readonly key: string;
}

/**
 * A self-signed ECDSA P-256 certificate for the sandbox API server, valid for one year for the
 * given host names and addresses. kubectl sends bearer tokens only over TLS, so the sandbox
 * serves HTTPS like a real cluster does.
 */
export async function generateServingCert(hosts: readonly string[], now: Date): Promise<ServingCert> {
  const notAfter = new Date(now.getTime() + 365 * 24 * 3600 * 1000);
  const altNames = hosts.map((h) => (isIP(h) === 0 ? { type: 2 as const, value: h } : { type: 7 as const, ip: h }));
  const pems = await generate([{ name: 'commonName', value: 'ironlb-sandbox-apiserver' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: new Date(now.getTime() - 60_000),
    notAfterDate: notAfter,
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyCertSign: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}
