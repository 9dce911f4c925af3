/**
 * Request and response headers (written by hand: four fields, and two rules a table cannot say).
 *
 *   request header v1: apiKey int16, apiVersion int16, correlationId int32, clientId nullable
 *                      string (int16 length)
 *   request header v2: the same, then a tagged-field block; clientId keeps its int16 length
 *   response header v0: correlationId int32; v1: then a tagged-field block
 *
 * A request in a flexible version of its API has header v2 and its response header v1, except
 * ApiVersions, whose response header is always v0 (a client that does not yet know the broker's
 * versions must be able to read it).
 */
import { skipTaggedFields } from './codec-support';
import { API_VERSIONS_KEY } from './generated/api-versions';
import type { Reader } from './reader';
import type { Writer } from './writer';

export interface RequestHeader {
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  clientId: string | null;
}

/** The fixed part, which says which API and version follow (the tagged block, if any, is next). */
export function decodeRequestHeader(r: Reader): RequestHeader {
  const apiKey = r.int16();
  const apiVersion = r.int16();
  const correlationId = r.int32();
  const clientId = r.nullableString();
  return { apiKey, apiVersion, correlationId, clientId };
}

/** After decodeRequestHeader, in a flexible version: the header's tagged fields (none known). */
export function skipRequestHeaderTags(r: Reader): void {
  skipTaggedFields(r);
}

export function encodeRequestHeader(w: Writer, h: RequestHeader, flexible: boolean): void {
  w.int16(h.apiKey);
  w.int16(h.apiVersion);
  w.int32(h.correlationId);
  w.nullableString(h.clientId);
  if (flexible) w.uvarint(0);
}

/** Whether the response to a request of `apiKey` in a version that is `flexible` has header v1. */
export function responseHeaderIsFlexible(apiKey: number, flexible: boolean): boolean {
  return flexible && apiKey !== API_VERSIONS_KEY;
}

export function encodeResponseHeader(w: Writer, correlationId: number, flexibleHeader: boolean): void {
  w.int32(correlationId);
  if (flexibleHeader) w.uvarint(0);
}

export function decodeResponseHeader(r: Reader, flexibleHeader: boolean): number {
  const correlationId = r.int32();
  if (flexibleHeader) skipTaggedFields(r);
  return correlationId;
}
