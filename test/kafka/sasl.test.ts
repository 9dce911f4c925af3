/**
 * SASL listeners with kafkajs 2.2.4 (kcat: sasl-kcat.test.ts), which authenticates with
 * PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 against users added with addUser (what `sluice users
 * add` calls) and produce and consume; the principal lands in the session (stats().principals).
 * A wrong password fails with an authentication error (SASL_AUTHENTICATION_FAILED, reported
 * through onClientError); a Metadata request before authenticating closes the connection; users
 * added and removed while the server runs count at the next authentication. SASL over TLS
 * (SASL_SSL) with kafkajs. @platformatic/kafka, which speaks the flexible SaslAuthenticate v2,
 * authenticates with SCRAM-SHA-256 too.
 */
import * as fs from 'node:fs';
import { Kafka, logLevel, type SASLOptions } from 'kafkajs';
import { afterEach, describe, expect, it } from 'vitest';
import type { ServerOptions } from '../../lib/kafka';
import { decodeSaslAuthenticateResponse, decodeSaslHandshakeResponse, encodeMetadataRequest, encodeSaslAuthenticateRequest, encodeSaslHandshakeRequest } from '../../lib/kafka/protocol/generated';
import { Reader } from '../../lib/kafka/protocol/reader';
import { Writer } from '../../lib/kafka/protocol/writer';
import { addUser, removeUser } from '../../lib/kafka/security/credential-store';
import { kafkajsRoundTrip } from '../helpers/kafka-clients';
import { frame, raw } from '../helpers/kafka-wire';
import { secureServer, type SecureServer } from '../helpers/secure-server';
import { makeCerts, removeCerts } from '../helpers/tls-certs';

const cleanup: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

const ALL = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'];

async function serve(extra: Partial<ServerOptions> = {}): Promise<SecureServer> {
  const s = await secureServer({ sasl: { mechanisms: ALL }, ...extra }, (dir) => addUser(dir, 'alice', 'alice-secret'));
  cleanup.push(s.stop);
  return s;
}

const sasl = (mechanism: string, username: string, password: string): SASLOptions => ({ mechanism: mechanism.toLowerCase(), username, password }) as SASLOptions;

/** kafkajs connects an admin client with `options`; resolves once connected, rejects with its error. */
async function adminConnects(address: string, options: SASLOptions): Promise<void> {
  const admin = new Kafka({ brokers: [address], clientId: 'probe', logLevel: logLevel.NOTHING, retry: { retries: 0 }, sasl: options }).admin();
  try {
    await admin.connect();
  } finally {
    await admin.disconnect();
  }
}

describe('SASL listener', () => {
  it.each(ALL)('kafkajs authenticates with %s, produces and consumes', async (mechanism) => {
    const { server, address } = await serve();
    const values = ['one', 'two', 'three'];
    expect(await kafkajsRoundTrip({ brokers: [address], sasl: sasl(mechanism, 'alice', 'alice-secret') }, `t-${mechanism}`, values)).toEqual(values);
    expect(server.stats().authenticationsSucceeded).toBeGreaterThan(0);
    expect(server.stats().authenticationsFailed).toBe(0);
  });

  it('a wrong password or an unknown user fails with an authentication error, and the connection is closed', async () => {
    const { server, address, problems } = await serve();
    for (const mechanism of ALL) {
      await expect(adminConnects(address, sasl(mechanism, 'alice', 'wrong'))).rejects.toMatchObject({ name: 'KafkaJSSASLAuthenticationError' });
      await expect(adminConnects(address, sasl(mechanism, 'nobody', 'alice-secret'))).rejects.toMatchObject({ name: 'KafkaJSSASLAuthenticationError' });
    }
    expect(server.stats().authenticationsFailed).toBe(6);
    await expect.poll(() => problems.filter((p) => /authentication of user "(alice|nobody)" failed/.test(p.reason)).length).toBe(6);
    await expect.poll(() => server.stats().connections).toBe(0);
  });

  it('on the wire: a failed SaslAuthenticate is answered SASL_AUTHENTICATION_FAILED (58), then the connection closes', async () => {
    const { server } = await serve();
    const body = (encode: (w: Writer) => void): Buffer => {
      const w = new Writer();
      encode(w);
      return w.toBuffer();
    };
    const handshake = frame(17, 1, 1, body((w) => encodeSaslHandshakeRequest(w, 1, { mechanism: 'PLAIN' })));
    const authenticate = frame(36, 1, 2, body((w) => encodeSaslAuthenticateRequest(w, 1, { authBytes: Buffer.from('\0alice\0wrong') })));
    const { data, closedByServer } = await raw(server.address.port, Buffer.concat([handshake, authenticate]), 3000);
    expect(closedByServer).toBe(true);
    const first = 4 + data.readInt32BE(0);
    expect(decodeSaslHandshakeResponse(new Reader(data, 8, first), 1)).toEqual({ errorCode: 0, mechanisms: ALL });
    expect(decodeSaslAuthenticateResponse(new Reader(data, first + 8, data.length), 1)).toMatchObject({ errorCode: 58, errorMessage: 'Authentication failed: invalid username or password' });
  });

  it('closes a connection that sends Metadata before authenticating', async () => {
    const { server, problems } = await serve();
    const w = new Writer();
    encodeMetadataRequest(w, 1, { topics: [] });
    const { data, closedByServer } = await raw(server.address.port, frame(3, 1, 7, w.toBuffer()));
    expect(closedByServer).toBe(true);
    expect(data.length).toBe(0);
    expect(problems.map((p) => p.reason)).toContainEqual(expect.stringContaining('Metadata before authenticating'));
  });

  it('sees users added and removed while it runs, and puts the user in the session', async () => {
    const { dir, server, address } = await serve({ sasl: { mechanisms: ['SCRAM-SHA-256'] } });
    await expect(adminConnects(address, sasl('SCRAM-SHA-256', 'bob', 'bob-pw'))).rejects.toMatchObject({ name: 'KafkaJSSASLAuthenticationError' });
    await addUser(dir, 'bob', 'bob-pw');
    const admin = new Kafka({ brokers: [address], clientId: 'bob', logLevel: logLevel.NOTHING, sasl: sasl('SCRAM-SHA-256', 'bob', 'bob-pw') }).admin();
    await admin.connect();
    try {
      await admin.listTopics();
      expect(server.stats().principals).toContainEqual({ principal: 'User:bob', connections: expect.any(Number) });
    } finally {
      await admin.disconnect();
    }
    await removeUser(dir, 'bob');
    await expect(adminConnects(address, sasl('SCRAM-SHA-256', 'bob', 'bob-pw'))).rejects.toMatchObject({ name: 'KafkaJSSASLAuthenticationError' });
  });

  it('@platformatic/kafka (flexible SaslAuthenticate v2) authenticates with SCRAM-SHA-256 and produces', async () => {
    const { Producer, stringSerializers } = await import('@platformatic/kafka');
    const { broker, address, server } = await serve();
    const producer = new Producer({ clientId: 'plt', bootstrapBrokers: [address], serializers: stringSerializers, autocreateTopics: true, sasl: { mechanism: 'SCRAM-SHA-256', username: 'alice', password: 'alice-secret' } });
    cleanup.push(() => producer.close());
    await producer.send({ messages: [{ topic: 'plt', value: 'hello' }], acks: -1 });
    expect(broker.describeTopic('plt').messages).toBe(1);
    expect(server.stats().requests.find((r) => r.api === 'SaslAuthenticate')?.count).toBeGreaterThan(0);
  });

  it('SASL over TLS (SASL_SSL): kafkajs authenticates with SCRAM-SHA-512 and round-trips', async () => {
    const certs = makeCerts();
    cleanup.push(() => removeCerts(certs));
    const { server, address } = await serve({ tls: { cert: certs.serverCert, key: certs.serverKey } });
    const ssl = { ca: [fs.readFileSync(certs.caCert)] };
    expect(await kafkajsRoundTrip({ brokers: [address], ssl, sasl: sasl('SCRAM-SHA-512', 'alice', 'alice-secret') }, 'secure', ['x', 'y'])).toEqual(['x', 'y']);
    expect(server.stats()).toMatchObject({ tls: true, saslMechanisms: ALL, fetchBytesZeroCopy: 0 });
  });
});
