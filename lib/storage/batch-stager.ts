/**
 * Stages a batch of messages for one native call: their bytes back to back in a reused Buffer
 * (key, value, encoded headers) and [keyLen, valueLen, headersLen] per message in an Int32Array.
 * Copying each message here costs ~10 ns; reading each element of a JS array from native code
 * through Node-API costs several times that, so batches cross the boundary this way.
 *
 * Every message is validated (types, timestamps, size against messageBytesMax) before the first
 * native call, so a bad message rejects the whole batch with nothing written. Thread-confined:
 * one stager per thread, reused by every Log of that thread (appends are synchronous).
 */
import { Buffer } from 'node:buffer';
import { ErrorCode, SluiceError } from '../errors';
import { LIMITS, payloadBytesSurelyFitting, singleRecordBatchBytes } from '../limits';
import { encodeHeaders, type HeadersInput } from './record-headers';

type Bytes = Buffer | Uint8Array | string;
interface MessageLike {
  value: Bytes | null;
  key?: Bytes | null;
  headers?: HeadersInput;
  timestamp?: number;
}

export type StagedSink = (staging: Buffer, lengths: Int32Array, count: number, timestamps: Float64Array | undefined) => number;

const CHUNK_MESSAGES = 4096;
const CHUNK_BYTES = 1 << 20;

let staging = Buffer.allocUnsafe(CHUNK_BYTES);
const lengths = new Int32Array(3 * CHUNK_MESSAGES);
const timestamps = new Float64Array(CHUNK_MESSAGES);
// Pass 1's sizes, reused (grown to the largest batch seen): a typed array per call was a
// measurable share of the garbage at high message rates.
let sizesBuffer = new Int32Array(CHUNK_MESSAGES);

function isBytes(v: unknown): v is Bytes {
  return typeof v === 'string' || v instanceof Uint8Array;
}

/** UTF-8 bytes of a string, bytes of a view, -1 for null (as the record format counts them). */
export function byteLength(v: Bytes | null): number {
  if (v === null) return -1;
  return typeof v === 'string' ? Buffer.byteLength(v, 'utf8') : v.byteLength;
}

function put(v: Bytes | null, pos: number): number {
  if (v === null) return pos;
  if (typeof v === 'string') return pos + staging.write(v, pos, 'utf8');
  staging.set(v, pos);
  return pos + v.byteLength;
}

/**
 * Appends `messages` through `sink` in chunks; returns the first offset, or -1 for an empty batch.
 * `messageBytesMax` is the log's limit on one message with its batch header.
 */
export function stageBatch(messages: ReadonlyArray<Bytes | null | MessageLike>, messageBytesMax: number, sink: StagedSink): number {
  const fast = stageViews(messages, messageBytesMax, sink);
  if (fast !== NOT_ALL_VIEWS) return fast;
  const n = messages.length;
  // Pass 1: validate everything and size it; object messages get their fields normalised.
  let keys: Array<Bytes | null> | undefined;
  let values: Array<Bytes | null> | undefined;
  let headers: Array<Buffer | undefined> | undefined;
  let times: Float64Array | undefined;
  if (sizesBuffer.length < n) sizesBuffer = new Int32Array(2 ** Math.ceil(Math.log2(n)));
  const sizes = sizesBuffer;
  const quickLimit = payloadBytesSurelyFitting(messageBytesMax);
  for (let i = 0; i < n; i++) {
    const m = messages[i];
    if (m === null || isBytes(m)) {
      const quick = m === null ? 0 : typeof m === 'string' ? m.length * 3 : m.byteLength;
      const valueLen = quick > quickLimit ? byteLength(m) : quick;
      if (quick > quickLimit) checkSize(-1, valueLen, 0, i, messageBytesMax);
      sizes[i] = Math.max(valueLen, 0);
      continue;
    }
    if (typeof m !== 'object') throw new TypeError(`message ${i} must be a Buffer, Uint8Array, string, null or {value, key, headers, timestamp}`);
    const msg = m as MessageLike;
    for (const k in msg) {
      if (k !== 'value' && k !== 'key' && k !== 'headers' && k !== 'timestamp') {
        throw new TypeError(`message ${i}: unknown field ${JSON.stringify(k)} (a message has value, key, headers and timestamp)`);
      }
    }
    const value = msg.value === undefined ? null : msg.value;
    const key = msg.key === undefined ? null : msg.key;
    if (!(value === null || isBytes(value))) throw new TypeError(`message ${i}: value must be a Buffer, Uint8Array, string or null`);
    if (!(key === null || isBytes(key))) throw new TypeError(`message ${i}: key must be a Buffer, Uint8Array, string or null`);
    if (keys === undefined) {
      keys = new Array(n).fill(null);
      values = messages.slice() as Array<Bytes | null>;
      headers = new Array(n);
      times = new Float64Array(n).fill(NaN);
    }
    if (msg.timestamp !== undefined) {
      if (typeof msg.timestamp !== 'number' || !Number.isSafeInteger(msg.timestamp) || msg.timestamp < 0) {
        throw new RangeError(`message ${i}: timestamp must be a non-negative integer number of milliseconds`);
      }
      times![i] = msg.timestamp;
    }
    const h = msg.headers === undefined ? undefined : encodeHeaders(msg.headers);
    const keyLen = byteLength(key);
    const valueLen = byteLength(value);
    checkSize(keyLen, valueLen, h?.length ?? 0, i, messageBytesMax);
    keys[i] = key;
    values![i] = value;
    headers![i] = h;
    sizes[i] = Math.max(keyLen, 0) + Math.max(valueLen, 0) + (h?.length ?? 0);
  }
  if (n === 0) return -1;

  // Pass 2: copy into the staging buffer and hand over a chunk at a time.
  // No closure for the hand-over: one per call was a share of a one-message turn's garbage.
  const stamps = times === undefined ? undefined : timestamps;
  let first = -1;
  let count = 0;
  let pos = 0;
  for (let i = 0; i < n; i++) {
    const size = sizes[i];
    if (count === CHUNK_MESSAGES || (count > 0 && pos + size > staging.length)) {
      const offset = sink(staging, lengths, count, stamps);
      if (first < 0) first = offset;
      count = 0;
      pos = 0;
    }
    if (size > staging.length) staging = Buffer.allocUnsafe(2 ** Math.ceil(Math.log2(size)));
    if (keys === undefined) {
      const v = messages[i] as Bytes | null;
      const start = pos;
      pos = put(v, pos);
      lengths[3 * count] = -1;
      lengths[3 * count + 1] = v === null ? -1 : pos - start;
      lengths[3 * count + 2] = 0;
    } else {
      const k = keys[i];
      const v = values![i];
      const h = headers![i];
      let start = pos;
      pos = put(k, pos);
      lengths[3 * count] = k === null ? -1 : pos - start;
      start = pos;
      pos = put(v, pos);
      lengths[3 * count + 1] = v === null ? -1 : pos - start;
      if (h !== undefined) {
        staging.set(h, pos);
        pos += h.length;
      }
      lengths[3 * count + 2] = h?.length ?? 0;
      timestamps[count] = times![i];
    }
    count++;
  }
  if (count === 0) return first;
  const offset = sink(staging, lengths, count, stamps);
  return first < 0 ? offset : first;
}

const NOT_ALL_VIEWS = -2;

/**
 * The common case in one pass: every message a Buffer or Uint8Array that surely fits. Returns
 * NOT_ALL_VIEWS, having handed nothing to `sink`, at the first message that is not, so that
 * stageBatch's two passes validate the batch and name the culprit. Before a full chunk goes to
 * the sink, the rest of the batch is checked the same way, so a batch either goes in whole or
 * nothing of it does.
 */
function stageViews(messages: ReadonlyArray<unknown>, messageBytesMax: number, sink: StagedSink): number {
  const n = messages.length;
  const quickLimit = payloadBytesSurelyFitting(messageBytesMax);
  let first = -1;
  let count = 0;
  let pos = 0;
  let checkedTo = 0;
  for (let i = 0; i < n; i++) {
    const m = messages[i];
    if (!(m instanceof Uint8Array)) return first < 0 ? NOT_ALL_VIEWS : fail(i);
    const len = m.byteLength;
    if (len > quickLimit) return first < 0 ? NOT_ALL_VIEWS : fail(i);
    if (count === CHUNK_MESSAGES || (count > 0 && pos + len > staging.length)) {
      if (checkedTo < n && !allViews(messages, i, quickLimit)) return NOT_ALL_VIEWS;
      checkedTo = n;
      const offset = sink(staging, lengths, count, undefined);
      if (first < 0) first = offset;
      count = 0;
      pos = 0;
    }
    if (len > staging.length) staging = Buffer.allocUnsafe(2 ** Math.ceil(Math.log2(len)));
    staging.set(m, pos);
    pos += len;
    const at = 3 * count;
    lengths[at] = -1;
    lengths[at + 1] = len;
    lengths[at + 2] = 0;
    count++;
  }
  if (count === 0) return n === 0 ? NOT_ALL_VIEWS : first;
  const offset = sink(staging, lengths, count, undefined);
  return first < 0 ? offset : first;
}

function allViews(messages: ReadonlyArray<unknown>, from: number, quickLimit: number): boolean {
  for (let i = from; i < messages.length; i++) {
    const m = messages[i];
    if (!(m instanceof Uint8Array) || m.byteLength > quickLimit) return false;
  }
  return true;
}

/** Unreachable: allViews checked every message before the first chunk was handed over. */
function fail(index: number): never {
  throw new Error(`stageViews: message ${index} changed after the batch was checked`);
}

/**
 * TOO_LARGE naming message `index` when it would not fit a batch of messageBytesMax on its own.
 * Calls into native code only for a payload past payloadBytesSurelyFitting.
 */
export function checkSize(keyLen: number, valueLen: number, headersLen: number, index: number, messageBytesMax: number): void {
  const payload = Math.max(keyLen, 0) + Math.max(valueLen, 0) + headersLen;
  if (payload <= payloadBytesSurelyFitting(messageBytesMax)) return;
  // Past the largest messageBytesMax there is no need for the exact size (nor can a record be encoded).
  const bytes = payload > LIMITS.messageBytesMaxMax ? payload + LIMITS.batchHeaderBytes : singleRecordBatchBytes(keyLen, valueLen, headersLen);
  if (bytes > messageBytesMax) {
    const more = payload > LIMITS.messageBytesMaxMax ? 'more than ' : '';
    throw new SluiceError(`message ${index} takes ${more}${bytes} bytes with its batch header, over messageBytesMax (${messageBytesMax})`, ErrorCode.TOO_LARGE);
  }
}
