/**
 * SCRAM-SHA-256 and SCRAM-SHA-512, the server side (RFC 5802, RFC 7677), as Kafka speaks them:
 *
 *   client-first  gs2-header client-first-bare    "n,," "n=<user>,r=<client nonce>[,ext...]"
 *   server-first  "r=<client nonce><server nonce>,s=<base64 salt>,i=<iterations>"
 *   client-final  "c=<base64 gs2-header>,r=<nonce>[,ext...],p=<base64 ClientProof>"
 *   server-final  "v=<base64 ServerSignature>"
 *
 * No channel binding (gs2 flag `n`, or `y`: the client could bind but thinks we cannot; `p=` is
 * refused), no `m=` extension; other extensions (Kafka's `tokenauth`) are ignored, so a delegation
 * token fails as an unknown user. An authorization id, if given, must be the user's own name.
 * librdkafka (2.0 at least) repeats its own nonce before the whole nonce in client-final; Kafka's
 * broker accepts that (it checks the nonce ends with its own), so this server accepts exactly
 * that form besides the RFC's.
 * The proof is checked as the RFC says: ClientKey = ClientProof XOR HMAC(StoredKey, AuthMessage),
 * then H(ClientKey) against StoredKey in constant time. An unknown user gets a made-up salt (the
 * store's) and fails at the proof with the same message as a wrong password.
 */
import { randomBytes } from 'node:crypto';
import type { CredentialStore } from '../credential-store';
import { digest, hashBytes, hmac, sameBytes, xor, type ScramCredential, type ScramMechanism } from '../scram-keys';
import { authenticationFailed, type SaslExchange, type SaslStep } from './mechanism';

/** 24 random bytes: 192 bits of server nonce, 32 base64 characters (none of them a comma). */
const SERVER_NONCE_BYTES = 24;
/** RFC 5802's printable nonce characters: 0x21-0x7e except ','. */
const NONCE = /^[\x21-\x2b\x2d-\x7e]+$/;

interface FirstState {
  user: string;
  gs2Header: string;
  clientNonce: string;
  nonce: string;
  credential: ScramCredential;
  known: boolean;
  /** client-first-bare "," server-first: the start of the AuthMessage. */
  authMessageStart: string;
}

export class ScramExchange implements SaslExchange {
  readonly #mechanism: ScramMechanism;
  readonly #store: CredentialStore;
  readonly #serverNonce: () => string;
  #first: FirstState | null = null;
  #done = false;

  /** `serverNonce` is for test vectors; the default is random. */
  constructor(mechanism: ScramMechanism, store: CredentialStore, serverNonce: () => string = () => randomBytes(SERVER_NONCE_BYTES).toString('base64')) {
    this.#mechanism = mechanism;
    this.#store = store;
    this.#serverNonce = serverNonce;
  }

  get claimedUser(): string | null {
    return this.#first?.user ?? null;
  }

  async step(token: Buffer): Promise<SaslStep> {
    if (this.#done) throw authenticationFailed(`${this.#mechanism} takes two client messages`);
    const text = token.toString('utf8');
    if (this.#first === null) return { token: Buffer.from(this.#clientFirst(text)), user: null };
    this.#done = true;
    return this.#clientFinal(text, this.#first);
  }

  #clientFirst(text: string): string {
    const m = /^([ny]|p=[^,]*),(a=[^,]*)?,(.*)$/s.exec(text);
    if (m === null) throw authenticationFailed(`a ${this.#mechanism} client-first message starts with a gs2 header ("n,,")`);
    if (m[1].startsWith('p=')) throw authenticationFailed('SCRAM channel binding is not supported');
    const bare = m[3];
    const attrs = bare.split(',');
    if (attrs[0].startsWith('m=')) throw authenticationFailed('the SCRAM m= extension is not supported');
    if (attrs.length < 2 || !attrs[0].startsWith('n=') || !attrs[1].startsWith('r=')) throw authenticationFailed('a SCRAM client-first message is n=<user>,r=<nonce>');
    const user = saslName(attrs[0].slice(2));
    const clientNonce = attrs[1].slice(2);
    if (!NONCE.test(clientNonce)) throw authenticationFailed('the SCRAM client nonce must be printable characters other than ","');
    if (m[2] !== undefined && saslName(m[2].slice(2)) !== user) throw authenticationFailed('Authentication failed: the authorization id must be the user name');
    const stored = this.#store.credential(user, this.#mechanism);
    const credential = stored ?? this.#store.unknownUserCredential(user, this.#mechanism);
    const nonce = clientNonce + this.#serverNonce();
    const serverFirst = `r=${nonce},s=${credential.salt.toString('base64')},i=${credential.iterations}`;
    this.#first = { user, gs2Header: `${m[1]},${m[2] ?? ''},`, clientNonce, nonce, credential, known: stored !== undefined, authMessageStart: `${bare},${serverFirst}` };
    return serverFirst;
  }

  #clientFinal(text: string, first: FirstState): SaslStep {
    const at = text.lastIndexOf(',p=');
    if (at < 0) throw authenticationFailed('a SCRAM client-final message ends with p=<proof>');
    const withoutProof = text.slice(0, at);
    const attrs = withoutProof.split(',');
    if (attrs.length < 2 || !attrs[0].startsWith('c=') || !attrs[1].startsWith('r=')) throw authenticationFailed('a SCRAM client-final message is c=<binding>,r=<nonce>,...,p=<proof>');
    if (Buffer.from(attrs[0].slice(2), 'base64').toString('utf8') !== first.gs2Header) throw authenticationFailed('the SCRAM channel binding does not repeat the gs2 header');
    const nonce = attrs[1].slice(2);
    if (nonce !== first.nonce && nonce !== first.clientNonce + first.nonce) throw authenticationFailed('the SCRAM nonce does not match');
    const proof = Buffer.from(text.slice(at + 3), 'base64');
    const authMessage = `${first.authMessageStart},${withoutProof}`;
    const { storedKey, serverKey } = first.credential;
    const signature = hmac(this.#mechanism, storedKey, authMessage);
    const valid = proof.length === hashBytes(this.#mechanism) && sameBytes(digest(this.#mechanism, xor(proof, signature)), storedKey);
    if (!valid || !first.known) throw authenticationFailed(`Authentication failed during authentication due to invalid credentials with SASL mechanism ${this.#mechanism}`);
    return { token: Buffer.from(`v=${hmac(this.#mechanism, serverKey, authMessage).toString('base64')}`), user: first.user };
  }
}

/** A SCRAM saslname decoded: "=2C" is ",", "=3D" is "="; any other "=" is malformed. */
function saslName(s: string): string {
  if (/=(?!2C|3D)/.test(s)) throw authenticationFailed('a SCRAM user name escapes "," and "=" only, as =2C and =3D');
  const name = s.replace(/=2C/g, ',').replace(/=3D/g, '=');
  if (name.length === 0) throw authenticationFailed('a SCRAM user name must not be empty');
  return name;
}
