/**
 * TLS listeners (ServerOptions.tls): the server's certificate and key, and optionally the CAs that
 * client certificates must chain to (mutual TLS). With a client CA, `clientAuth` says what a
 * client must do, as Kafka's ssl.client.auth does: 'required' (the default with a CA: a client
 * without a valid certificate fails the handshake), 'requested' (a certificate is asked for; one
 * that does not verify is refused, none at all leaves the client anonymous) or 'none'. A verified
 * client certificate names the connection's principal the way Kafka's default principal builder
 * does: `User:` and the certificate's subject as an RFC 2253 distinguished name, most specific
 * attribute first, e.g. `User:CN=alice,OU=eng,O=acme`. SASL, on the same listener (SASL_SSL),
 * replaces it with the SASL user.
 */
import { X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as tls from 'node:tls';
import { checkKeys, optionsObject, shown } from '../../validate';

export interface TlsOptions {
  /** The server's certificate chain, PEM: a file's path (a string) or the PEM itself (a Buffer). */
  cert: string | Buffer;
  /** The certificate's private key, PEM (unencrypted): a path or a Buffer. */
  key: string | Buffer;
  /** CA certificates, PEM, that client certificates are verified against: a path or a Buffer. */
  ca?: string | Buffer;
  /** Default 'required' with `ca`, 'none' without. */
  clientAuth?: 'required' | 'requested' | 'none';
}

/** A TLS listener's settings, files read and checked. */
export interface TlsListener {
  readonly secure: tls.TlsOptions;
  readonly clientAuth: 'required' | 'requested' | 'none';
}

const KEYS = new Set(['cert', 'key', 'ca', 'clientAuth']);
const CLIENT_AUTH = new Set(['required', 'requested', 'none']);

/** Reads and checks ServerOptions.tls; a certificate and key that do not fit together fail here, not at the first client. */
export async function tlsListener(options: TlsOptions, handshakeTimeoutMs: number): Promise<TlsListener> {
  const o = optionsObject(options, 'tls') as unknown as TlsOptions;
  checkKeys(o, KEYS, 'tls option');
  const cert = await pem(o.cert, 'tls.cert');
  const key = await pem(o.key, 'tls.key');
  const ca = o.ca === undefined ? undefined : await pem(o.ca, 'tls.ca');
  const clientAuth = o.clientAuth ?? (ca === undefined ? 'none' : 'required');
  if (!CLIENT_AUTH.has(clientAuth)) throw new TypeError(`tls.clientAuth must be 'required', 'requested' or 'none', got ${shown(clientAuth)}`);
  if (clientAuth !== 'none' && ca === undefined) throw new TypeError(`tls.clientAuth ${clientAuth} needs tls.ca, the CAs client certificates are verified against`);
  const secure: tls.TlsOptions = { cert, key, ca, requestCert: clientAuth !== 'none', rejectUnauthorized: clientAuth === 'required', handshakeTimeout: handshakeTimeoutMs, minVersion: 'TLSv1.2' };
  try {
    tls.createSecureContext(secure);
  } catch (e) {
    throw new TypeError(`tls: the certificate, key or CA cannot be used: ${(e as Error).message}`);
  }
  return { secure, clientAuth };
}

async function pem(v: unknown, name: string): Promise<Buffer> {
  if (Buffer.isBuffer(v)) return v;
  if (typeof v !== 'string' || v.length === 0) throw new TypeError(`${name} must be a file path (a string) or PEM (a Buffer), got ${shown(v)}`);
  try {
    return await fs.promises.readFile(v);
  } catch (e) {
    throw new TypeError(`${name}: cannot read ${v}: ${(e as Error).message}`);
  }
}

/**
 * Hands `accept` each connection whose handshake completed, with its principal from a verified
 * client certificate (null: none given); tells `onProblem` of each refused one: a failed handshake
 * (no certificate where one is required, one of another CA, a plaintext client, a timeout) or,
 * under 'requested', a certificate that does not verify.
 */
export function onTlsConnections(server: tls.Server, accept: (socket: tls.TLSSocket, principal: string | null) => void, onProblem: (p: { remote: string; reason: string }) => void): void {
  server.on('secureConnection', (socket: tls.TLSSocket) => {
    const identity = clientIdentity(socket);
    if ('refused' in identity) {
      onProblem({ remote: `${socket.remoteAddress}:${socket.remotePort}`, reason: identity.refused });
      socket.destroy();
    } else accept(socket, identity.principal);
  });
  server.on('tlsClientError', (e: Error, socket: tls.TLSSocket) => onProblem({ remote: `${socket.remoteAddress}:${socket.remotePort}`, reason: `TLS handshake failed: ${e.message}` }));
}

function clientIdentity(socket: tls.TLSSocket): { principal: string | null } | { refused: string } {
  const cert = socket.getPeerX509Certificate();
  if (cert === undefined) return { principal: null };
  if (!socket.authorized) return { refused: `a client certificate that does not verify (${String(socket.authorizationError)})` };
  return { principal: principalOf(cert) };
}

/**
 * `User:` and the subject in RFC 2253 order. Node gives the subject one attribute per line in
 * the certificate's order (most general first), values already escaped the RFC 2253 way.
 */
export function principalOf(cert: X509Certificate): string {
  return `User:${cert.subject.split('\n').reverse().join(',')}`;
}
