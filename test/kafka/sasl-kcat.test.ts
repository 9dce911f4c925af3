/**
 * SASL with kcat (librdkafka 2.0.2): it authenticates with PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512
 * (SASL_PLAINTEXT), and with SCRAM-SHA-256 over TLS (SASL_SSL), produces and consumes; a wrong
 * password ends kcat with an authentication failure. librdkafka sends its SCRAM client nonce
 * twice in client-final (scram.ts accepts that form, as Kafka does).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { addUser } from '../../lib/kafka/security/credential-store';
import { kcat, kcatSettings } from '../helpers/kafka-clients';
import { secureServer } from '../helpers/secure-server';
import { makeCerts, removeCerts, type CertFiles } from '../helpers/tls-certs';

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of stops.splice(0)) await f();
});
let certs: CertFiles;
beforeAll(() => {
  certs = makeCerts();
});
afterAll(() => removeCerts(certs));

const ALL = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'];

async function roundTrip(address: string, settings: Record<string, string>): Promise<string> {
  const x = kcatSettings(settings);
  await kcat(['-b', address, ...x, '-P', '-t', 'k', '-K:'], 'a:1\nb:2\n');
  return kcat(['-b', address, ...x, '-C', '-t', 'k', '-e', '-f', '%k=%s\\n']);
}

describe('SASL with kcat', () => {
  it.each(ALL)('authenticates with %s, produces and consumes', async (mechanism) => {
    const s = await secureServer({ sasl: { mechanisms: ALL } }, (dir) => addUser(dir, 'alice', 'alice-secret'));
    stops.push(s.stop);
    expect(await roundTrip(s.address, { 'security.protocol': 'sasl_plaintext', 'sasl.mechanisms': mechanism, 'sasl.username': 'alice', 'sasl.password': 'alice-secret' })).toBe('a=1\nb=2\n');
  });

  it('authenticates with SCRAM-SHA-256 over TLS (SASL_SSL); a wrong password fails', async () => {
    const s = await secureServer({ sasl: { mechanisms: ['SCRAM-SHA-256'] }, tls: { cert: certs.serverCert, key: certs.serverKey } }, (dir) => addUser(dir, 'alice', 'alice-secret'));
    stops.push(s.stop);
    const settings = { 'security.protocol': 'sasl_ssl', 'ssl.ca.location': certs.caCert, 'sasl.mechanisms': 'SCRAM-SHA-256', 'sasl.username': 'alice', 'sasl.password': 'alice-secret' };
    expect(await roundTrip(s.address, settings)).toBe('a=1\nb=2\n');
    expect(s.server.stats().fetchBytesZeroCopy).toBe(0);
    await expect(kcat(['-b', s.address, ...kcatSettings({ ...settings, 'sasl.password': 'wrong' }), '-L', '-m', '1'])).rejects.toThrow(/Authentication failure|invalid credentials/);
  });
});
