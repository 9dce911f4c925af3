/**
 * SaslHandshake and SaslAuthenticate: the connection's SASL authenticator answers them
 * (security/sasl/authenticator.ts). On a listener without SASL both are answered
 * ILLEGAL_SASL_STATE, as Kafka answers them on a plaintext listener.
 */
import { KafkaError } from '../protocol/error-codes';
import { decodeSaslAuthenticateRequest, decodeSaslHandshakeRequest, encodeSaslAuthenticateResponse, encodeSaslHandshakeResponse, type SaslAuthenticateRequest, type SaslAuthenticateResponse, type SaslHandshakeRequest, type SaslHandshakeResponse } from '../protocol/generated';
import type { ApiHandler } from './handler';

export const saslHandshakeHandler: ApiHandler<SaslHandshakeRequest, SaslHandshakeResponse> = {
  key: 17,
  decode: decodeSaslHandshakeRequest,
  encode: encodeSaslHandshakeResponse,
  handle: (ctx, req, version) => ctx.authenticator?.handshake(req.mechanism, version) ?? { errorCode: KafkaError.ILLEGAL_SASL_STATE, mechanisms: [] },
};

export const saslAuthenticateHandler: ApiHandler<SaslAuthenticateRequest, SaslAuthenticateResponse> = {
  key: 36,
  decode: decodeSaslAuthenticateRequest,
  encode: encodeSaslAuthenticateResponse,
  handle: async (ctx, req) => {
    const result = (await ctx.authenticator?.authenticate(req.authBytes)) ?? { errorCode: KafkaError.ILLEGAL_SASL_STATE, errorMessage: 'this listener does not use SASL', authBytes: Buffer.alloc(0) };
    return { ...result, sessionLifetimeMs: 0 };
  },
};
