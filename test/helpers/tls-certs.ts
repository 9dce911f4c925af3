/**
 * Certificates for TLS tests, made at test time with the openssl command into a temporary
 * directory: a CA, a server certificate for 127.0.0.1 and localhost signed by it, client
 * certificates signed by it (for mutual TLS), and a client certificate of another CA (which the
 * server must refuse). EC P-256 keys: quick to make. The caller removes `dir` (removeCerts).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as os from 'node:os';

export interface CertFiles {
  dir: string;
  caCert: string;
  serverCert: string;
  serverKey: string;
  /** Signed by the CA: subject "/O=acme/CN=alice". */
  clientCert: string;
  clientKey: string;
  /** Signed by a CA the server does not know. */
  rogueCert: string;
  rogueKey: string;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

function keyAndRequest(dir: string, name: string, subject: string): void {
  openssl(dir, ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject]);
}

function selfSigned(dir: string, name: string, subject: string): void {
  openssl(dir, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '2', '-subj', subject]);
}

function sign(dir: string, name: string, ca: string, extensions: string): void {
  fs.writeFileSync(path.join(dir, `${name}.ext`), extensions);
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`]);
}

export function makeCerts(): CertFiles {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-certs-'));
  selfSigned(dir, 'ca', '/CN=Sluice Test CA');
  selfSigned(dir, 'rogue-ca', '/CN=Rogue CA');
  keyAndRequest(dir, 'server', '/CN=localhost');
  sign(dir, 'server', 'ca', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  keyAndRequest(dir, 'client', '/O=acme/CN=alice');
  sign(dir, 'client', 'ca', 'extendedKeyUsage=clientAuth\n');
  keyAndRequest(dir, 'rogue', '/CN=mallory');
  sign(dir, 'rogue', 'rogue-ca', 'extendedKeyUsage=clientAuth\n');
  const f = (n: string): string => path.join(dir, n);
  return { dir, caCert: f('ca.pem'), serverCert: f('server.pem'), serverKey: f('server.key'), clientCert: f('client.pem'), clientKey: f('client.key'), rogueCert: f('rogue.pem'), rogueKey: f('rogue.key') };
}

export function removeCerts(c: CertFiles): void {
  fs.rmSync(c.dir, { recursive: true, force: true });
}
