/**
 * PLAIN (RFC 4616): one client token, `[authzid] NUL authcid NUL passwd` in UTF-8, checked
 * against the user's stored SCRAM credential (credential-store.ts), so no password is kept. The
 * password crosses the wire as it is: use PLAIN over TLS. As Kafka does, an authorization id, if
 * given, must be the user's own name. An unknown user costs the same key derivation as a known
 * one, so the answer's timing does not tell them apart.
 */
import type { CredentialStore } from '../credential-store';
import { passwordMatches, type ScramMechanism } from '../scram-keys';
import { authenticationFailed, type SaslExchange, type SaslStep } from './mechanism';

const INVALID = 'Authentication failed: invalid username or password';
/** The credential PLAIN checks a password against, in order of preference. */
const CHECKED_AGAINST: readonly ScramMechanism[] = ['SCRAM-SHA-512', 'SCRAM-SHA-256'];

export class PlainExchange implements SaslExchange {
  readonly #store: CredentialStore;
  #user: string | null = null;
  #done = false;

  constructor(store: CredentialStore) {
    this.#store = store;
  }

  get claimedUser(): string | null {
    return this.#user;
  }

  async step(token: Buffer): Promise<SaslStep> {
    if (this.#done) throw authenticationFailed('PLAIN takes a single token');
    this.#done = true;
    const fields = token.toString('utf8').split('\0');
    if (fields.length !== 3) throw authenticationFailed('a PLAIN token is authzid NUL authcid NUL password');
    const [authzid, user, password] = fields;
    if (user.length === 0 || password.length === 0) throw authenticationFailed('a PLAIN token needs a user name and a password');
    this.#user = user;
    if (authzid.length > 0 && authzid !== user) throw authenticationFailed('Authentication failed: the authorization id must be the user name');
    const mechanism = CHECKED_AGAINST.find((m) => this.#store.credential(user, m) !== undefined);
    const credential = mechanism === undefined ? this.#store.unknownUserCredential(user, 'SCRAM-SHA-512') : this.#store.credential(user, mechanism)!;
    const ok = await passwordMatches(mechanism ?? 'SCRAM-SHA-512', credential, password);
    if (!ok || mechanism === undefined) throw authenticationFailed(INVALID);
    return { token: Buffer.alloc(0), user };
  }
}
