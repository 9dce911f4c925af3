/**
 * What one SASL mechanism's server side is: an exchange of tokens (client, server, client, ...)
 * that ends with an authenticated user name or fails. One exchange per authentication attempt;
 * not reused. The authenticator (authenticator.ts) carries tokens between it and SaslAuthenticate.
 */
import { ErrorCode, SluiceError } from '../../../errors';

export const SASL_MECHANISMS = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'] as const;
export type SaslMechanism = (typeof SASL_MECHANISMS)[number];

/** A token to send back: more to come (`user` null), or the last one, of the authenticated user. */
export interface SaslStep {
  token: Buffer;
  user: string | null;
}

export interface SaslExchange {
  /** The user name the client claimed, once a token named one (for the server's reports). */
  readonly claimedUser: string | null;
  /** The server's answer to the client's next token; throws AUTHENTICATION_FAILED. */
  step(token: Buffer): Promise<SaslStep>;
}

/**
 * An AUTHENTICATION_FAILED error. `message` goes to the client: for wrong credentials it is the
 * same whatever was wrong, so that it never tells whether the user exists.
 */
export function authenticationFailed(message: string): SluiceError {
  return new SluiceError(message, ErrorCode.AUTHENTICATION_FAILED);
}

export function isSaslMechanism(name: string): name is SaslMechanism {
  return (SASL_MECHANISMS as readonly string[]).includes(name);
}
