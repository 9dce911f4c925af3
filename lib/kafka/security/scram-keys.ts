/**
 * SCRAM's key derivations (RFC 5802 section 3, with the hashes of RFC 7677 and Kafka's
 * SCRAM-SHA-512): SaltedPassword = PBKDF2-HMAC-H(password, salt, iterations); ClientKey =
 * HMAC(SaltedPassword, "Client Key"); StoredKey = H(ClientKey); ServerKey = HMAC(SaltedPassword,
 * "Server Key"). A server keeps only salt, iterations, StoredKey and ServerKey: enough to check a
 * client's proof (and, for PLAIN, a password) and to prove itself, never enough to log in.
 * Passwords are taken as their UTF-8 bytes, unnormalised, as Kafka's and librdkafka's clients do.
 */
import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';

export const SCRAM_MECHANISMS = ['SCRAM-SHA-256', 'SCRAM-SHA-512'] as const;
export type ScramMechanism = (typeof SCRAM_MECHANISMS)[number];

/** Kafka's minimum (and default) for SCRAM credentials; RFC 7677 asks for at least 4096 too. */
export const SCRAM_ITERATIONS_MIN = 4096;
/** A client derives its key with the server's count at every login: bound what one costs. */
export const SCRAM_ITERATIONS_MAX = 1_000_000;
export const SCRAM_SALT_BYTES = 32;

const HASHES: Record<ScramMechanism, { hash: 'sha256' | 'sha512'; bytes: number }> = {
  'SCRAM-SHA-256': { hash: 'sha256', bytes: 32 },
  'SCRAM-SHA-512': { hash: 'sha512', bytes: 64 },
};

/** What a server stores of one user's password for one mechanism. */
export interface ScramCredential {
  salt: Buffer;
  iterations: number;
  storedKey: Buffer;
  serverKey: Buffer;
}

export function isScramMechanism(name: string): name is ScramMechanism {
  return (SCRAM_MECHANISMS as readonly string[]).includes(name);
}

export function hashBytes(mechanism: ScramMechanism): number {
  return HASHES[mechanism].bytes;
}

export function hmac(mechanism: ScramMechanism, key: Buffer, text: string | Buffer): Buffer {
  return createHmac(HASHES[mechanism].hash, key).update(text).digest();
}

export function digest(mechanism: ScramMechanism, data: Buffer): Buffer {
  return createHash(HASHES[mechanism].hash).update(data).digest();
}

/** SaltedPassword, derived on the thread pool (thousands of HMAC rounds). */
export function saltedPassword(mechanism: ScramMechanism, password: string, salt: Buffer, iterations: number): Promise<Buffer> {
  const { hash, bytes } = HASHES[mechanism];
  return new Promise((resolve, reject) => pbkdf2(Buffer.from(password, 'utf8'), salt, iterations, bytes, hash, (err, key) => (err ? reject(err) : resolve(key))));
}

/** The credential to store for `password`, with a fresh random salt. */
export async function deriveCredential(mechanism: ScramMechanism, password: string, iterations: number, salt: Buffer = randomBytes(SCRAM_SALT_BYTES)): Promise<ScramCredential> {
  const salted = await saltedPassword(mechanism, password, salt, iterations);
  return {
    salt,
    iterations,
    storedKey: digest(mechanism, hmac(mechanism, salted, 'Client Key')),
    serverKey: hmac(mechanism, salted, 'Server Key'),
  };
}

/** Whether `password` is the one `credential` was derived from (PLAIN's check), in constant time. */
export async function passwordMatches(mechanism: ScramMechanism, credential: ScramCredential, password: string): Promise<boolean> {
  const salted = await saltedPassword(mechanism, password, credential.salt, credential.iterations);
  return sameBytes(digest(mechanism, hmac(mechanism, salted, 'Client Key')), credential.storedKey);
}

/** Constant-time equality of two byte strings (false, without comparing, when the lengths differ). */
export function sameBytes(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

export function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.allocUnsafe(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] ^ b[i];
  return out;
}
