/** ApiVersions: the versions this server speaks (protocol/versions.ts). */
import { decodeApiVersionsRequest, encodeApiVersionsResponse, type ApiVersionsRequest, type ApiVersionsResponse } from '../protocol/generated';
import { KafkaError } from '../protocol/error-codes';
import { ADVERTISED } from '../protocol/versions';
import type { ApiHandler } from './handler';

export function apiVersionsBody(errorCode: number): ApiVersionsResponse {
  return {
    errorCode,
    apiKeys: ADVERTISED.map((a) => ({ apiKey: a.key, minVersion: a.minVersion, maxVersion: a.maxVersion })),
    throttleTimeMs: 0,
  };
}

export const apiVersionsHandler: ApiHandler<ApiVersionsRequest, ApiVersionsResponse> = {
  key: 18,
  decode: decodeApiVersionsRequest,
  encode: encodeApiVersionsResponse,
  handle: () => apiVersionsBody(KafkaError.NONE),
};
