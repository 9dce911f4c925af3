/**
 * The SASL mechanisms' server sides alone, without a socket: SCRAM-SHA-256 against the exchange of
 * RFC 7677 section 3 (user "user", password "pencil", its salt, nonces and 4096 iterations: the
 * server's messages must be byte for byte the RFC's); the proof checks that must fail (a wrong
 * password, a tampered nonce or channel binding, channel binding asked for, an unknown user, who
 * gets a stable made-up salt); PLAIN's token forms; the authenticator's order of steps. The users
 * file: written 0600 and atomically, read again when it changes, malformed content refused.
 */
import { createHmac } from 'node:crypto';
import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { addUser, CredentialStore, listUsers, removeUser, usersFile } from '../../lib/kafka/security/credential-store';
import { SaslAuthenticator, saslListener } from '../../lib/kafka/security/sasl/authenticator';
import { PlainExchange } from '../../lib/kafka/security/sasl/plain';
import { ScramExchange } from '../../lib/kafka/security/sasl/scram';
import { deriveCredential, digest, hmac, saltedPassword, xor, type ScramCredential, type ScramMechanism } from '../../lib/kafka/security/scram-keys';
import { KafkaError } from '../../lib/kafka/protocol/error-codes';
import { mulberry32 } from '../helpers/prng';
import { tmpDir } from '../helpers/tmp';

const RFC_SALT = Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64');
const RFC_SERVER_NONCE = '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0';

/** A store holding one user, for the exchanges alone. */
function storeWith(user: string, credential: ScramCredential): CredentialStore {
  const real = new CredentialStore(tmpDir());
  return {
    credential: (name: string) => (name === user ? credential : undefined),
    unknownUserCredential: (name: string, m: ScramMechanism) => real.unknownUserCredential(name, m),
  } as unknown as CredentialStore;
}

/** A client's final message for the exchange so far (what kafkajs and librdkafka compute). */
async function clientFinal(mechanism: ScramMechanism, password: string, clientFirstBare: string, serverFirst: string, binding = 'biws', nonce = (n: string) => n): Promise<string> {
  const attrs = Object.fromEntries(serverFirst.split(',').map((a) => [a[0], a.slice(2)]));
  const salted = await saltedPassword(mechanism, password, Buffer.from(attrs.s, 'base64'), Number(attrs.i));
  const clientKey = hmac(mechanism, salted, 'Client Key');
  const withoutProof = `c=${binding},r=${nonce(attrs.r)}`;
  const signature = hmac(mechanism, digest(mechanism, clientKey), `${clientFirstBare},${serverFirst},${withoutProof}`);
  return `${withoutProof},p=${xor(clientKey, signature).toString('base64')}`;
}

describe('SCRAM', () => {
  it('answers RFC 7677’s SCRAM-SHA-256 exchange with the RFC’s own messages', async () => {
    const store = storeWith('user', await deriveCredential('SCRAM-SHA-256', 'pencil', 4096, RFC_SALT));
    const x = new ScramExchange('SCRAM-SHA-256', store, () => RFC_SERVER_NONCE);
    const first = await x.step(Buffer.from('n,,n=user,r=rOprNGfwEbeRWgbNEkqO'));
    expect(first.token.toString()).toBe('r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096');
    expect(first.user).toBeNull();
    const last = await x.step(Buffer.from('c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ='));
    expect(last.token.toString()).toBe('v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=');
    expect(last.user).toBe('user');
  });

  it.each(['SCRAM-SHA-256', 'SCRAM-SHA-512'] as const)('%s: a wrong password, a changed nonce or binding fail; so does asking for channel binding', async (m) => {
    const store = storeWith('alice', await deriveCredential(m, 'right', 4096));
    const attempt = async (password: string, mutate: (final: string) => string = (f) => f, gs2 = 'n,,', nonce?: (n: string) => string): Promise<string> => {
      const x = new ScramExchange(m, store);
      const bare = 'n=alice,r=abcdefgh';
      const serverFirst = (await x.step(Buffer.from(gs2 + bare))).token.toString();
      const final = mutate(await clientFinal(m, password, bare, serverFirst, Buffer.from(gs2).toString('base64'), nonce));
      return (await x.step(Buffer.from(final))).user!;
    };
    expect(await attempt('right')).toBe('alice');
    expect(await attempt('right', undefined, 'y,,')).toBe('alice');
    await expect(attempt('wrong')).rejects.toMatchObject({ code: 'AUTHENTICATION_FAILED', message: expect.stringContaining('invalid credentials') });
    await expect(attempt('right', (f) => f.replace(',r=abcdefgh', ',r=abcdefgX'))).rejects.toThrow(/nonce does not match/);
    // librdkafka's form: its nonce, then the whole nonce (the proof signs what was sent).
    expect(await attempt('right', undefined, 'n,,', (n) => `abcdefgh${n}`)).toBe('alice');
    await expect(attempt('right', undefined, 'n,,', (n) => `xx${n}`)).rejects.toThrow(/nonce does not match/);
    await expect(attempt('right', (f) => f.replace('c=biws', 'c=eSws'))).rejects.toThrow(/channel binding/);
    await expect(attempt('right', undefined, 'p=tls-unique,,')).rejects.toThrow(/channel binding is not supported/);
    await expect(attempt('right', undefined, 'n,a=bob,')).rejects.toThrow(/authorization id/);
  });

  it('an unknown user gets the same made-up salt every time, and fails like a wrong password', async () => {
    const store = storeWith('alice', await deriveCredential('SCRAM-SHA-512', 'pw', 4096));
    const salts: string[] = [];
    for (let i = 0; i < 2; i++) {
      const x = new ScramExchange('SCRAM-SHA-512', store);
      const serverFirst = (await x.step(Buffer.from('n,,n=nobody,r=xyz'))).token.toString();
      salts.push(serverFirst.split(',')[1]);
      expect(serverFirst).toMatch(/,i=4096$/);
      await expect(x.step(Buffer.from(await clientFinal('SCRAM-SHA-512', 'pw', 'n=nobody,r=xyz', serverFirst)))).rejects.toThrow(/invalid credentials/);
    }
    expect(salts[0]).toBe(salts[1]);
  });

  it('decodes =2C and =3D in user names and refuses other escapes', async () => {
    const store = storeWith('a,b=c', await deriveCredential('SCRAM-SHA-256', 'pw', 4096));
    const x = new ScramExchange('SCRAM-SHA-256', store);
    const serverFirst = (await x.step(Buffer.from('n,,n=a=2Cb=3Dc,r=n1'))).token.toString();
    expect((await x.step(Buffer.from(await clientFinal('SCRAM-SHA-256', 'pw', 'n=a=2Cb=3Dc,r=n1', serverFirst)))).user).toBe('a,b=c');
    await expect(new ScramExchange('SCRAM-SHA-256', store).step(Buffer.from('n,,n=a=41,r=n1'))).rejects.toThrow(/escapes/);
  });
});

describe('malformed tokens', () => {
  it('a seeded mix of random and mutated tokens only ever fails as AUTHENTICATION_FAILED', async () => {
    const seed = Number(process.env.SASL_FUZZ_SEED ?? Date.now() % 2 ** 31);
    console.log(`sasl fuzz seed ${seed} (SASL_FUZZ_SEED=${seed} replays it)`);
    const random = mulberry32(seed);
    const store = storeWith('alice', await deriveCredential('SCRAM-SHA-256', 'pw', 4096));
    const valid = ['n,,n=alice,r=abc', 'c=biws,r=abcXYZ,p=AAAA', '\0alice\0pw', 'y,a=alice,n=alice,r=x,e=1', 'p=x,,n=a,r=b'];
    const mutate = (t: string): Buffer => {
      const b = Buffer.from(t);
      for (let k = Math.floor(random() * 4); k >= 0 && b.length > 0; k--) b[Math.floor(random() * b.length)] = Math.floor(random() * 256);
      return random() < 0.3 ? b.subarray(0, Math.floor(random() * b.length)) : b;
    };
    for (let i = 0; i < 1000; i++) {
      const token = random() < 0.3 ? Buffer.from(Array.from({ length: Math.floor(random() * 40) }, () => Math.floor(random() * 256))) : mutate(valid[Math.floor(random() * valid.length)]);
      const x = random() < 0.5 ? new ScramExchange('SCRAM-SHA-256', store) : new PlainExchange(store);
      try {
        await x.step(token);
        if (x instanceof ScramExchange) await x.step(mutate(valid[1]));
      } catch (e) {
        expect((e as { code?: string }).code, `seed ${seed}, token ${token.toString('hex')}: ${(e as Error).message}`).toBe('AUTHENTICATION_FAILED');
      }
    }
  });
});

describe('PLAIN', () => {
  it('checks the password against the stored SCRAM credential', async () => {
    const store = storeWith('alice', await deriveCredential('SCRAM-SHA-512', 'secret', 4096));
    const login = (token: string) => new PlainExchange(store).step(Buffer.from(token));
    expect((await login('\0alice\0secret')).user).toBe('alice');
    expect((await login('alice\0alice\0secret')).user).toBe('alice');
    await expect(login('\0alice\0wrong')).rejects.toThrow('Authentication failed: invalid username or password');
    await expect(login('\0nobody\0secret')).rejects.toThrow('Authentication failed: invalid username or password');
    await expect(login('bob\0alice\0secret')).rejects.toThrow(/authorization id/);
    await expect(login('alice:secret')).rejects.toThrow(/authzid NUL authcid NUL password/);
  });
});

describe('SaslAuthenticator', () => {
  it('allows only the SASL APIs until authenticated, refuses steps out of order, and closes after a failure', async () => {
    const dir = tmpDir();
    await addUser(dir, 'alice', 'pw');
    const counts = { authenticationsSucceeded: 0, authenticationsFailed: 0 };
    const listener = saslListener({ mechanisms: ['PLAIN'] }, dir, counts);
    const session = { principal: 'User:ANONYMOUS', clientAddress: '127.0.0.1', tls: false };
    const a = new SaslAuthenticator(listener, session);
    expect([18, 17, 36, 3].map((k) => a.allows(k))).toEqual([true, true, true, false]);
    expect((await a.authenticate(Buffer.from('\0alice\0pw'))).errorCode).toBe(KafkaError.ILLEGAL_SASL_STATE);
    expect(a.takeCloseReason()).toMatch(/before a SaslHandshake/);

    const b = new SaslAuthenticator(listener, session);
    expect(b.handshake('SCRAM-SHA-256', 1)).toEqual({ errorCode: KafkaError.UNSUPPORTED_SASL_MECHANISM, mechanisms: ['PLAIN'] });
    expect(b.takeCloseReason()).toMatch(/does not offer/);

    const v0 = new SaslAuthenticator(listener, session);
    expect(v0.handshake('PLAIN', 0).errorCode).toBe(KafkaError.UNSUPPORTED_VERSION);
    expect(v0.takeCloseReason()).toMatch(/v0/);

    const c = new SaslAuthenticator(listener, session);
    expect(c.handshake('PLAIN', 1).errorCode).toBe(KafkaError.NONE);
    expect(await c.authenticate(Buffer.from('\0alice\0pw'))).toMatchObject({ errorCode: KafkaError.NONE });
    expect(c.takeCloseReason()).toBeNull();
    expect(session.principal).toBe('User:alice');
    expect(c.allows(3)).toBe(true);

    const d = new SaslAuthenticator(listener, { ...session, principal: 'User:ANONYMOUS' });
    d.handshake('PLAIN', 1);
    expect(await d.authenticate(Buffer.from('\0alice\0nope'))).toMatchObject({ errorCode: KafkaError.SASL_AUTHENTICATION_FAILED, errorMessage: 'Authentication failed: invalid username or password' });
    expect(d.takeCloseReason()).toMatch(/PLAIN authentication of user "alice" failed/);
    expect(d.allows(3)).toBe(false);
    expect(counts).toEqual({ authenticationsSucceeded: 1, authenticationsFailed: 1 });
  });

  it('refuses unknown mechanisms in its options', () => {
    expect(() => saslListener({ mechanisms: ['GSSAPI'] }, tmpDir(), { authenticationsSucceeded: 0, authenticationsFailed: 0 })).toThrow(/unknown mechanism "GSSAPI"/);
    expect(() => saslListener({ mechanisms: [] }, tmpDir(), { authenticationsSucceeded: 0, authenticationsFailed: 0 })).toThrow(/non-empty/);
  });
});

describe('the users file', () => {
  it('is written 0600, holds no password, and is read again when it changes', async () => {
    const dir = tmpDir();
    const store = new CredentialStore(dir);
    await store.refresh();
    expect(store.mechanisms('alice')).toEqual([]);
    expect(await addUser(dir, 'alice', 'hunter22', { mechanisms: ['SCRAM-SHA-256'], iterations: 8192 })).toBe(false);
    const file = usersFile(dir);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(file, 'utf8')).not.toContain('hunter22');
    await store.refresh();
    expect(store.mechanisms('alice')).toEqual(['SCRAM-SHA-256']);
    expect(store.credential('alice', 'SCRAM-SHA-256')!.iterations).toBe(8192);
    expect(await addUser(dir, 'alice', 'other')).toBe(true);
    expect(await listUsers(dir)).toEqual([{ name: 'alice', mechanisms: ['SCRAM-SHA-256', 'SCRAM-SHA-512'], iterations: 4096 }]);
    expect(await removeUser(dir, 'alice')).toBe(true);
    expect(await removeUser(dir, 'alice')).toBe(false);
    await store.refresh();
    expect(store.mechanisms('alice')).toEqual([]);
  });

  it('lets one writer at a time change it; a lock left by a dead process is taken over', async () => {
    const dir = tmpDir();
    await addUser(dir, 'a', 'pw');
    const lock = `${usersFile(dir)}.lock`;
    fs.writeFileSync(lock, String(process.pid)); // a live writer: this process
    await expect(addUser(dir, 'b', 'pw')).rejects.toMatchObject({ code: 'LOCKED' });
    fs.writeFileSync(lock, '2147483646'); // no such process
    await addUser(dir, 'b', 'pw');
    expect(fs.existsSync(lock)).toBe(false);
    expect((await listUsers(dir)).map((u) => u.name)).toEqual(['a', 'b']);
  });

  it('refuses bad names, options and malformed files', async () => {
    const dir = tmpDir();
    await expect(addUser(dir, '', 'pw')).rejects.toThrow(TypeError);
    await expect(addUser(dir, 'a\0b', 'pw')).rejects.toThrow(/control character/);
    await expect(addUser(dir, 'a', 'pw', { iterations: 1000 })).rejects.toThrow(RangeError);
    await expect(addUser(dir, 'a', 'pw', { mechanisms: ['PLAIN' as ScramMechanism] })).rejects.toThrow(/mechanisms/);
    await addUser(dir, 'a', 'pw');
    fs.writeFileSync(usersFile(dir), '{"format": 1, "users": {}}');
    const store = new CredentialStore(dir);
    await expect(store.refresh()).rejects.toMatchObject({ code: 'CORRUPT', message: expect.stringContaining('secret') });
    // The made-up salt is keyed: not derivable from the name alone.
    expect(createHmac('sha256', Buffer.alloc(32)).update('SCRAM-SHA-256\0x').digest()).not.toEqual(new CredentialStore(dir).unknownUserCredential('x', 'SCRAM-SHA-256').salt);
  });
});
