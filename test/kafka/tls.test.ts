/**
 * TLS listeners with real clients, certificates made by openssl at test time (helpers/tls-certs):
 * kafkajs 2.2.4 and kcat (librdkafka 2.0.2) produce and consume over TLS, and fetches copy the
 * records (no byte goes out with sendfile, and stats and metrics say why). Mutual TLS: a client
 * certificate signed by the configured CA names the connection's principal (`User:` and the
 * subject, RFC 2253 order), read back from stats().principals while the client is connected; a
 * client without a certificate, or with one of another CA, fails the handshake, reported through
 * onClientError; with clientAuth 'requested' a client without one is anonymous. Bad options fail
 * at start.
 */
import * as fs from 'node:fs';
import * as tls from 'node:tls';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Broker } from '../../lib/broker/broker';
import { Server, type ServerOptions } from '../../lib/kafka';
import { SluiceMetrics } from '../../lib/metrics/sluice-metrics';
import { kafkajsRoundTrip, kcat, kcatSettings } from '../helpers/kafka-clients';
import { secureServer, type SecureServer } from '../helpers/secure-server';
import { makeCerts, removeCerts, type CertFiles } from '../helpers/tls-certs';
import { tmpDir } from '../helpers/tmp';

let certs: CertFiles;
beforeAll(() => {
  certs = makeCerts();
});
afterAll(() => removeCerts(certs));

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function serve(tlsOptions: ServerOptions['tls']): Promise<SecureServer> {
  const s = await secureServer({ tls: tlsOptions });
  cleanup.push(s.stop);
  return s;
}

const read = (file: string): Buffer => fs.readFileSync(file);

/** A raw TLS handshake with `options`: whether the server let it through (and then sent nothing back, or closed on us). */
function handshake(port: number, options: tls.ConnectionOptions): Promise<'open' | 'refused'> {
  return new Promise((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port, ca: read(certs.caCert), ...options });
    // TLS 1.3: the client finishes before the server has checked its certificate; the refusal
    // arrives as an alert right after. Wait a moment past the handshake to see which it is.
    s.once('secureConnect', () => setTimeout(() => {
      resolve(s.destroyed ? 'refused' : 'open');
      s.destroy();
    }, 300));
    s.once('error', () => resolve('refused'));
    s.once('close', () => resolve('refused'));
  });
}

describe('TLS listener', () => {
  it('kafkajs produces and consumes over TLS; fetches copy every byte', async () => {
    const { server, address } = await serve({ cert: certs.serverCert, key: certs.serverKey });
    const values = ['a', 'b', 'c'].map((v) => v.repeat(1000));
    const seen = await kafkajsRoundTrip({ brokers: [address], ssl: { ca: [read(certs.caCert)] } }, 'secure', values);
    expect(seen).toEqual(values);
    const s = server.stats();
    expect(s).toMatchObject({ tls: true, zeroCopy: false, zeroCopyOff: 'tls', fetchBytesZeroCopy: 0 });
    expect(s.fetchBytesCopied).toBeGreaterThan(3000);
  });

  it('kcat produces and consumes over TLS; the metrics say fetches copy', async () => {
    const { broker, server, address } = await serve({ cert: read(certs.serverCert), key: read(certs.serverKey) });
    const ssl = kcatSettings({ 'security.protocol': 'ssl', 'ssl.ca.location': certs.caCert });
    await kcat(['-b', address, ...ssl, '-P', '-t', 'events', '-K:'], 'k1:hello\nk2:world\n');
    const out = await kcat(['-b', address, ...ssl, '-C', '-t', 'events', '-e', '-f', '%k=%s\\n']);
    expect(out).toBe('k1=hello\nk2=world\n');
    expect(server.stats().fetchBytesZeroCopy).toBe(0);
    const text = await new SluiceMetrics(broker, server).text();
    expect(text).toContain('sluice_server_zero_copy{reason="tls"} 0');
    expect(text).toContain('sluice_fetch_bytes_total{mode="zero_copy"} 0');
  });

  it('mutual TLS: the client certificate names the principal; kcat with a certificate produces and consumes', async () => {
    const { server, address } = await serve({ cert: certs.serverCert, key: certs.serverKey, ca: certs.caCert });
    const kafka = new Kafka({ brokers: [address], clientId: 'mtls', logLevel: logLevel.NOTHING, ssl: { ca: [read(certs.caCert)], cert: read(certs.clientCert), key: read(certs.clientKey) } });
    const admin = kafka.admin();
    await admin.connect();
    try {
      await admin.createTopics({ topics: [{ topic: 'm' }] });
      expect(server.stats().principals).toContainEqual({ principal: 'User:CN=alice,O=acme', connections: expect.any(Number) });
      expect(server.stats().principals.map((p) => p.principal)).not.toContain('User:ANONYMOUS');
    } finally {
      await admin.disconnect();
    }
    const ssl = kcatSettings({ 'security.protocol': 'ssl', 'ssl.ca.location': certs.caCert, 'ssl.certificate.location': certs.clientCert, 'ssl.key.location': certs.clientKey });
    await kcat(['-b', address, ...ssl, '-P', '-t', 'm'], 'one\n');
    expect(await kcat(['-b', address, ...ssl, '-C', '-t', 'm', '-e', '-f', '%s\\n'])).toBe('one\n');
  });

  it('mutual TLS: a client without a certificate, or with one of another CA, is refused and reported', async () => {
    const { server, problems } = await serve({ cert: certs.serverCert, key: certs.serverKey, ca: certs.caCert });
    const port = server.address.port;
    expect(await handshake(port, { cert: read(certs.clientCert), key: read(certs.clientKey) })).toBe('open');
    expect(await handshake(port, {})).toBe('refused');
    expect(await handshake(port, { cert: read(certs.rogueCert), key: read(certs.rogueKey) })).toBe('refused');
    await expect.poll(() => problems.filter((p) => p.reason.startsWith('TLS handshake failed')).length).toBe(2);
  });

  it("clientAuth 'requested': no certificate is anonymous, a verified one names the principal, another CA's is refused", async () => {
    const { server, problems } = await serve({ cert: certs.serverCert, key: certs.serverKey, ca: certs.caCert, clientAuth: 'requested' });
    const port = server.address.port;
    const s = tls.connect({ host: '127.0.0.1', port, ca: read(certs.caCert) });
    await new Promise((resolve) => s.once('secureConnect', resolve));
    await expect.poll(() => server.stats().principals).toEqual([{ principal: 'User:ANONYMOUS', connections: 1 }]);
    s.destroy();
    expect(await handshake(port, { cert: read(certs.rogueCert), key: read(certs.rogueKey) })).toBe('refused');
    expect(problems.map((p) => p.reason)).toContainEqual(expect.stringContaining('does not verify'));
  });

  it('refuses options it cannot use, at start', async () => {
    const broker = await Broker.open(tmpDir());
    cleanup.push(() => broker.close());
    await expect(Server.start({ broker, port: 0, tls: { cert: '/nonexistent.pem', key: certs.serverKey } })).rejects.toThrow(/tls.cert: cannot read \/nonexistent.pem/);
    await expect(Server.start({ broker, port: 0, tls: { cert: certs.serverCert, key: certs.clientKey } })).rejects.toThrow(/cannot be used/);
    await expect(Server.start({ broker, port: 0, tls: { cert: certs.serverCert, key: certs.serverKey, clientAuth: 'required' } })).rejects.toThrow(/needs tls.ca/);
  });
});
