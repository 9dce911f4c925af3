/**
 * The decoding half of a request frame, as Connection#onFrame runs it: the request header, the API
 * and version checked against what the server advertises (protocol/versions.ts), the header's
 * tagged fields in a flexible version, then the API's own body decoder. It never throws: each way
 * a frame can go is a value, so the connection (and the fuzzer, test/fuzz/) sees which it took.
 * Pure: nothing is allocated beyond what the frame's bytes hold (protocol/reader.ts).
 */
import type { ApiHandler } from './handlers/handler';
import { API_TABLE } from './protocol/generated';
import { decodeRequestHeader, skipRequestHeaderTags, type RequestHeader } from './protocol/headers';
import { Reader } from './protocol/reader';
import { advertised, type AdvertisedApi } from './protocol/versions';

export type DecodedRequest =
  /** Not even the header decodes. */
  | { kind: 'bad-header' }
  /** An API this server does not serve, or a version it does not advertise. */
  | { kind: 'unsupported'; header: RequestHeader; api: AdvertisedApi | undefined }
  /** The body does not decode: `error` is what the decoder threw (MALFORMED_REQUEST, or a bug). */
  | { kind: 'malformed'; header: RequestHeader; api: AdvertisedApi; error: unknown }
  | { kind: 'request'; header: RequestHeader; api: AdvertisedApi; handler: ApiHandler; flexible: boolean; request: unknown };

const FIRST_FLEXIBLE = new Map(API_TABLE.map((a) => [a.key as number, a.firstFlexible as number]));

export function decodeRequest(frame: Buffer, handlers: ReadonlyMap<number, ApiHandler>): DecodedRequest {
  const r = new Reader(frame);
  let header: RequestHeader;
  try {
    header = decodeRequestHeader(r);
  } catch {
    return { kind: 'bad-header' };
  }
  const handler = handlers.get(header.apiKey);
  const api = advertised(header.apiKey);
  if (handler === undefined || api === undefined || header.apiVersion < api.minVersion || header.apiVersion > api.maxVersion) {
    return { kind: 'unsupported', header, api };
  }
  const flexible = header.apiVersion >= (FIRST_FLEXIBLE.get(header.apiKey) ?? Infinity);
  try {
    if (flexible) skipRequestHeaderTags(r);
    return { kind: 'request', header, api, handler, flexible, request: handler.decode(r, header.apiVersion) };
  } catch (error) {
    return { kind: 'malformed', header, api, error };
  }
}
