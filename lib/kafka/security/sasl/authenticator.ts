/**
 * One connection's SASL state, as Kafka's broker keeps it (KIP-43, KIP-152):
 *
 *   start --SaslHandshake(enabled mechanism)--> exchanging --SaslAuthenticate...--> authenticated
 *
 * Until authenticated, only ApiVersions, SaslHandshake and SaslAuthenticate may be sent; the
 * connection closes on anything else (allows()). Every misstep is answered (an unknown mechanism
 * with UNSUPPORTED_SASL_MECHANISM and the enabled ones, a step out of order with
 * ILLEGAL_SASL_STATE, a failed exchange with SASL_AUTHENTICATION_FAILED, SaslHandshake v0 with
 * UNSUPPORTED_VERSION: it would be followed by bare tokens outside Kafka's framing) and then closes the
 * connection: the connection asks takeCloseReason() after each response. The users file is read
 * again (if it changed) once per authentication, at its first token. Success sets the session's
 * principal to `User:<name>`; no re-authentication (KIP-368): the session lifetime is 0, unbounded.
 * Thread-confined; one per connection.
 */
import { ErrorCode, SluiceError } from '../../../errors';
import { KafkaError } from '../../protocol/error-codes';
import type { Session } from '../../handlers/handler';
import { shown } from '../../../validate';
import { CredentialStore } from '../credential-store';
import { isSaslMechanism, SASL_MECHANISMS, type SaslExchange, type SaslMechanism } from './mechanism';
import { PlainExchange } from './plain';
import { ScramExchange } from './scram';

/** What may be sent before authenticating: ApiVersions, SaslHandshake, SaslAuthenticate. */
const BEFORE_AUTHENTICATION = new Set([18, 17, 36]);

/** The server's SASL settings (ServerOptions.sasl). */
export interface SaslOptions {
  /** The mechanisms offered, of PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512. */
  mechanisms: readonly string[];
}

/** Where authentications are counted (the server's RequestStats). */
export interface AuthenticationCounts {
  authenticationsSucceeded: number;
  authenticationsFailed: number;
}

/** A listener's SASL: what it offers and whom it knows. Shared by its connections. */
export interface SaslListener {
  readonly mechanisms: readonly SaslMechanism[];
  readonly store: CredentialStore;
  readonly counts: AuthenticationCounts;
}

/** The listener for ServerOptions.sasl (checked), with the users of the data directory `dir`. */
export function saslListener(options: SaslOptions, dir: string, counts: AuthenticationCounts): SaslListener {
  if (options === null || typeof options !== 'object') throw new TypeError(`sasl must be an object, got ${shown(options)}`);
  const { mechanisms } = options;
  if (!Array.isArray(mechanisms) || mechanisms.length === 0) throw new TypeError(`sasl.mechanisms must be a non-empty array, got ${shown(mechanisms)}`);
  for (const m of mechanisms) {
    if (typeof m !== 'string' || !isSaslMechanism(m)) throw new TypeError(`sasl.mechanisms: unknown mechanism ${shown(m)} (known: ${SASL_MECHANISMS.join(', ')})`);
  }
  return { mechanisms: [...new Set(mechanisms as SaslMechanism[])], store: new CredentialStore(dir), counts };
}

export interface AuthenticateResult {
  errorCode: number;
  errorMessage: string | null;
  authBytes: Buffer;
}

export class SaslAuthenticator {
  readonly #listener: SaslListener;
  readonly #session: Session;
  #state: 'start' | 'exchanging' | 'authenticated' | 'closing' = 'start';
  #mechanism: SaslMechanism | null = null;
  #exchange: SaslExchange | null = null;
  #steps = 0;
  #stepInFlight = false;
  #closeReason: string | null = null;

  constructor(listener: SaslListener, session: Session) {
    this.#listener = listener;
    this.#session = session;
  }

  get authenticated(): boolean {
    return this.#state === 'authenticated';
  }

  /** Whether a request of API `apiKey` may be handled now. */
  allows(apiKey: number): boolean {
    return this.#state === 'authenticated' || BEFORE_AUTHENTICATION.has(apiKey);
  }

  /** Why the connection must close once the response just handled is written, once; else null. */
  takeCloseReason(): string | null {
    const reason = this.#closeReason;
    this.#closeReason = null;
    return reason;
  }

  handshake(mechanism: string, version: number): { errorCode: number; mechanisms: string[] } {
    const mechanisms = [...this.#listener.mechanisms];
    if (version === 0) {
      this.#close('SaslHandshake v0 (bare SASL tokens after it) is not supported: clients must use v1 and SaslAuthenticate');
      return { errorCode: KafkaError.UNSUPPORTED_VERSION, mechanisms };
    }
    if (this.#state !== 'start') return { errorCode: this.#illegal(`SaslHandshake when ${this.#state === 'authenticated' ? 'already authenticated' : 'a handshake was made'}`), mechanisms };
    if (!isSaslMechanism(mechanism) || !this.#listener.mechanisms.includes(mechanism)) {
      this.#close(`SASL mechanism ${shown(mechanism)}, which this listener does not offer (it offers ${mechanisms.join(', ')})`);
      return { errorCode: KafkaError.UNSUPPORTED_SASL_MECHANISM, mechanisms };
    }
    this.#state = 'exchanging';
    this.#mechanism = mechanism;
    const store = this.#listener.store;
    this.#exchange = mechanism === 'PLAIN' ? new PlainExchange(store) : new ScramExchange(mechanism, store);
    return { errorCode: KafkaError.NONE, mechanisms };
  }

  async authenticate(token: Buffer): Promise<AuthenticateResult> {
    if (this.#state !== 'exchanging' || this.#stepInFlight) {
      const what = this.#state === 'start' ? 'before a SaslHandshake' : this.#state === 'authenticated' ? 'when already authenticated' : 'before the previous one was answered';
      return { errorCode: this.#illegal(`SaslAuthenticate ${what}`), errorMessage: `SaslAuthenticate ${what}`, authBytes: Buffer.alloc(0) };
    }
    const exchange = this.#exchange!;
    this.#stepInFlight = true;
    try {
      if (this.#steps++ === 0) await this.#listener.store.refresh();
      const step = await exchange.step(token);
      if (step.user !== null) {
        this.#state = 'authenticated';
        this.#session.principal = `User:${step.user}`;
        this.#listener.counts.authenticationsSucceeded++;
      }
      return { errorCode: KafkaError.NONE, errorMessage: null, authBytes: step.token };
    } catch (e) {
      return this.#failed(e, exchange.claimedUser);
    } finally {
      this.#stepInFlight = false;
    }
  }

  #failed(e: unknown, user: string | null): AuthenticateResult {
    this.#listener.counts.authenticationsFailed++;
    const who = user === null ? '' : ` of user ${shown(user)}`;
    const ours = e instanceof SluiceError && e.code === ErrorCode.AUTHENTICATION_FAILED;
    // Not the exchange's verdict: the users file could not be read. The client learns only that.
    const errorMessage = ours ? e.message : 'Authentication failed: the server could not read its users';
    this.#close(`${this.#mechanism} authentication${who} failed: ${e instanceof Error ? e.message : String(e)}`);
    return { errorCode: KafkaError.SASL_AUTHENTICATION_FAILED, errorMessage, authBytes: Buffer.alloc(0) };
  }

  #illegal(reason: string): number {
    this.#close(reason);
    return KafkaError.ILLEGAL_SASL_STATE;
  }

  #close(reason: string): void {
    this.#state = 'closing';
    this.#closeReason = reason;
  }
}
