/**
 * The shape of the addon's binding, as lib/native.ts declares it: the names and types of what
 * native/binding/addon.cc exports, the NativeLog methods, and the limits object with the values
 * that the C++ headers and the TypeScript docs state (log.h LogOptions, record_batch.h). Method:
 * inspect the loaded addon and one open NativeLog; compare singleRecordBatchBytes with sizes
 * worked out by hand from the record format.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { LIMITS, payloadBytesSurelyFitting, READ_RECORDS_MAX, RECORD_SLOT, singleRecordBatchBytes } from '../../lib/limits';
import { native, type NativeLog } from '../../lib/native';
import { tmpDir } from '../helpers/tmp';

const opened: NativeLog[] = [];
afterEach(async () => {
  for (const log of opened.splice(0)) await log.close();
});

describe('the native binding', () => {
  it('exports exactly these names, with these types', () => {
    const expected: Record<string, string> = {
      init: 'function',
      crc32c: 'function',
      crc32cHardware: 'boolean',
      limits: 'object',
      singleRecordBatchBytes: 'function',
      lockDirectory: 'function',
      duplicateSocket: 'function',
      sendFile: 'function',
      NativeLog: 'function',
    };
    if (process.env.SLUICE_FAULT_INJECTION === '1') expected.armFault = 'function';
    const actual = Object.fromEntries(Object.keys(native).map((k) => [k, typeof (native as unknown as Record<string, unknown>)[k]]));
    expect(actual).toEqual(expected);
    expect(typeof native.NativeLog.open).toBe('function');
  });

  it('gives a NativeLog these methods', async () => {
    const log = await native.NativeLog.open(tmpDir(), { segmentBytes: 65536, messageBytesMax: 65536, batchBytesMax: 65536 }, () => {});
    opened.push(log);
    const methods = [
      'append', 'appendStaged', 'seal', 'read', 'segmentBuffer', 'slice', 'offsetForTime', 'flush', 'retain', 'close',
      'offsets', 'recovery', 'failure', 'setActive', 'stats', 'simulatePowerLoss', 'appendRaw', 'checkRaw', 'parseRecords', 'segmentPath',
      'appendMarker', 'abortedTransactions',
    ];
    for (const m of methods) expect(typeof (log as unknown as Record<string, unknown>)[m], m).toBe('function');
    // The hot methods are own properties (bound functions); the others live on the prototype.
    expect(Object.getOwnPropertyNames(log).sort()).toEqual(['append', 'appendRaw', 'appendStaged', 'offsets', 'parseRecords', 'read', 'seal']);
    const proto = Object.getOwnPropertyNames(Object.getPrototypeOf(log)).filter((n) => n !== 'constructor');
    expect(proto.sort()).toEqual(methods.filter((m) => !Object.getOwnPropertyNames(log).includes(m)).sort());
  });

  it('exports the limits named in the C++ headers, frozen', () => {
    expect(Object.isFrozen(native.limits)).toBe(true);
    expect(Object.isFrozen(native.limits.recordSlot)).toBe(true);
    expect({ ...native.limits, recordSlot: { ...native.limits.recordSlot } }).toEqual({
      segmentBytesMin: 64 * 1024,
      segmentBytesMax: 2 ** 31 - 1,
      segmentBytesDefault: 256 * 1024 * 1024,
      messageBytesMaxMin: 68,
      messageBytesMaxMax: 256 * 1024 * 1024,
      messageBytesMaxDefault: 1024 * 1024,
      batchBytesMaxMin: 68,
      batchBytesMaxDefault: 256 * 1024,
      indexIntervalBytesDefault: 4096,
      populateWindowBytesMin: 64 * 1024,
      populateWindowBytesMax: 1024 * 1024 * 1024,
      populateWindowBytesDefault: 32 * 1024 * 1024,
      syncIntervalMsMax: 86_400_000,
      syncIntervalMsDefault: 1000,
      readRecordsMax: 65536,
      readHeaderSlots: 3,
      recordSlotFields: 8,
      batchHeaderBytes: 61,
      firstRecordOverheadBytesMax: 19,
      recordSlot: { offset: 0, timestamp: 1, keyPos: 2, keyLen: 3, valuePos: 4, valueLen: 5, headersPos: 6, headerCount: 7 },
    });
    expect(LIMITS).toBe(native.limits);
    expect(READ_RECORDS_MAX).toBe(65536);
    expect(RECORD_SLOT).toEqual(native.limits.recordSlot);
    // The smallest batch: the header and a record of one byte per field.
    expect(native.limits.messageBytesMaxMin).toBe(native.limits.batchHeaderBytes + 7);
  });

  it('sizes a single-record batch as the record format does', () => {
    // 61-byte header; record: length varint, attributes, timestampDelta, offsetDelta, keyLength,
    // key, valueLength, value, header count (or the encoded headers).
    expect(singleRecordBatchBytes(-1, -1, 0)).toBe(61 + 1 + 6);
    expect(singleRecordBatchBytes(-1, 10, 0)).toBe(61 + 1 + 6 + 10);
    expect(singleRecordBatchBytes(3, 10, 5)).toBe(61 + 1 + 5 + 3 + 10 + 5);
    // keyLength 64 zig-zags to 128: a 2-byte varint; a body of 128+ bytes needs a 2-byte length;
    // 2^20 zig-zags to 2^21, a 4-byte varint.
    expect(singleRecordBatchBytes(64, 100, 0)).toBe(61 + 2 + 1 + 1 + 1 + 2 + 64 + 2 + 100 + 1);
    expect(singleRecordBatchBytes(-1, 1 << 20, 0)).toBe(61 + 4 + 1 + 1 + 1 + 1 + 4 + (1 << 20) + 1);
    expect(singleRecordBatchBytes).toBe(native.singleRecordBatchBytes);
  });

  it('never finds a payload within payloadBytesSurelyFitting too large', () => {
    for (const limit of [68, 100, 200, 4096, 1 << 20, 256 * 1024 * 1024]) {
      const payload = payloadBytesSurelyFitting(limit);
      if (payload < 0) continue; // below 80 bytes, every message gets its exact size
      for (const [k, h] of [[-1, 0], [0, 0], [1, 0], [payload >> 1, 0], [payload >> 2, payload >> 2]]) {
        const key = Math.min(k, payload);
        const headers = Math.min(h, payload - Math.max(key, 0));
        const value = payload - Math.max(key, 0) - headers;
        if (value < 0) continue;
        expect(singleRecordBatchBytes(key, value, headers)).toBeLessThanOrEqual(limit);
      }
    }
  });

  it('checks the arguments of singleRecordBatchBytes and lockDirectory', () => {
    expect(() => native.singleRecordBatchBytes('1' as unknown as number, 0, 0)).toThrow(TypeError);
    expect(() => native.singleRecordBatchBytes(-2, 0, 0)).toThrow(RangeError);
    expect(() => native.singleRecordBatchBytes(0, 0, -1)).toThrow(RangeError);
    expect(() => native.singleRecordBatchBytes(0.5, 0, 0)).toThrow(RangeError);
    expect(() => native.singleRecordBatchBytes(2 ** 31 - 1, 2 ** 31 - 1, 0)).toThrow(RangeError);
    expect(() => native.lockDirectory(1 as unknown as string, 'x')).toThrow(TypeError);
    expect(() => native.lockDirectory('/tmp', undefined as unknown as string)).toThrow(TypeError);
  });

  it('hands out a directory lock with release() and held', () => {
    const lock = native.lockDirectory(tmpDir(), 'test directory');
    expect(typeof lock.release).toBe('function');
    expect(lock.held).toBe(true);
    lock.release();
    expect(lock.held).toBe(false);
  });

  it('checks the arguments of the zero-copy functions', () => {
    expect(() => native.duplicateSocket(-1)).toThrow(RangeError);
    expect(() => native.duplicateSocket(1.5)).toThrow(RangeError);
    expect(() => native.duplicateSocket(1 << 30)).toThrow(expect.objectContaining({ code: 'IO' })); // not open
    const cb = (): void => {};
    expect(() => native.sendFile('1' as unknown as number, 0, 0, 1, new Uint8Array(1), cb)).toThrow(TypeError);
    expect(() => native.sendFile(1, 0, -1, 1, new Uint8Array(1), cb)).toThrow(RangeError);
    expect(() => native.sendFile(1, 0, 0, 1, new Uint16Array(1) as unknown as Uint8Array, cb)).toThrow(TypeError);
    expect(() => native.sendFile(1, 0, 0, 1, new Uint8Array(1), null as unknown as () => void)).toThrow(TypeError);
  });
});
