/**
 * Round trip through the public API: what is appended (values, keys, headers, timestamps, in every
 * accepted form) is what read() returns, byte for byte; and the message size limit holds at exactly
 * `messageBytesMax` and one byte over it, for single appends and batches alike.
 */
import * as fs from 'node:fs';
import { Buffer } from 'node:buffer';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, Log, SluiceError, type LogOptions, type LogRecord } from '../../lib/index';
import { nextTick, tmpDir } from '../helpers/tmp';

const open: Log[] = [];
afterEach(async () => {
  for (const log of open.splice(0)) await log.close();
});

async function openLog(options: LogOptions = {}): Promise<Log> {
  const log = await Log.open(tmpDir(), { segmentBytes: 1 << 20, ...options });
  open.push(log);
  return log;
}

/** Everything from `from` to the high watermark. */
function readAll(log: Log, from = log.startOffset): LogRecord[] {
  const out: LogRecord[] = [];
  let offset = from;
  while (offset < log.highWatermark) {
    const records = log.read(offset);
    expect(records.length).toBeGreaterThan(0);
    out.push(...records);
    offset = records[records.length - 1].offset + 1;
  }
  return out;
}

function plain(r: LogRecord): object {
  return {
    offset: r.offset,
    timestamp: r.timestamp,
    key: r.key === null ? null : Buffer.from(r.key).toString('hex'),
    value: r.value === null ? null : Buffer.from(r.value).toString('hex'),
    headers: r.headers.map((h) => ({ key: h.key, value: h.value === null ? null : Buffer.from(h.value).toString('hex') })),
  };
}

const hex = (s: string | Uint8Array): string => (typeof s === 'string' ? Buffer.from(s, 'utf8') : Buffer.from(s)).toString('hex');

function expectTooLarge(fn: () => unknown): SluiceError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(SluiceError);
  expect((caught as SluiceError).code).toBe(ErrorCode.TOO_LARGE);
  return caught as SluiceError;
}

// Written from the spec (kafka-log-format.md), not from the engine: the bytes a record takes as the
// only record of its batch, the 61-byte batch header included.
function zigzagVarintBytes(n: number): number {
  let z = n >= 0 ? 2 * n : -2 * n - 1;
  let bytes = 1;
  while (z >= 128) {
    z = Math.floor(z / 128);
    bytes++;
  }
  return bytes;
}
function singleRecordBatchBytes(keyLen: number, valueLen: number, headerBytes: number): number {
  // attributes, timestampDelta 0, offsetDelta 0, key, value, headers (count byte 0 when none)
  const body = 1 + 1 + 1 + zigzagVarintBytes(keyLen) + Math.max(keyLen, 0) + zigzagVarintBytes(valueLen) + Math.max(valueLen, 0) + (headerBytes || 1);
  return 61 + zigzagVarintBytes(body) + body;
}
/** The largest value length whose single-record batch fits in `limit` bytes. */
function largestValue(limit: number, keyLen = -1, headerBytes = 0): number {
  let v = limit;
  while (singleRecordBatchBytes(keyLen, v, headerBytes) > limit) v--;
  return v;
}

describe('values and keys', () => {
  it('returns Buffer, Uint8Array and string values and keys byte for byte', async () => {
    const log = await openLog();
    const backing = new Uint8Array(64).map((_, i) => i);
    const values: Array<Buffer | Uint8Array | string> = [
      Buffer.from([0, 1, 2, 255, 254]),
      new Uint8Array([9, 8, 7]),
      backing.subarray(10, 20), // a view with a non-zero byteOffset
      'plain ascii',
      'ünïcödé — ✓ 𝄞 😀',
      Buffer.from('buffer with text'),
      '\u0000nul inside\u0000',
    ];
    const keys: Array<Buffer | Uint8Array | string> = ['k', Buffer.from([0xff, 0]), backing.subarray(60, 64), '𝄞', new Uint8Array([1]), 'κλειδί', 'x'.repeat(300)];
    const offsets = values.map((v, i) => log.append(v, { key: keys[i] }));
    expect(offsets).toEqual([0, 1, 2, 3, 4, 5, 6]);
    await log.visible();
    const got = readAll(log);
    expect(got.map((r) => r.offset)).toEqual(offsets);
    got.forEach((r, i) => {
      expect(r.value).toBeInstanceOf(Buffer);
      expect(r.key).toBeInstanceOf(Buffer);
      expect(hex(r.value!)).toBe(hex(values[i]));
      expect(hex(r.key!)).toBe(hex(keys[i]));
    });
  });

  it('tells null from empty, for values and keys', async () => {
    const log = await openLog();
    log.append(null);
    log.append(Buffer.alloc(0));
    log.append('');
    log.append(new Uint8Array(0));
    log.append(null, { key: null });
    log.append(null, { key: '' });
    log.append('v', { key: Buffer.alloc(0) });
    log.append('v', { key: undefined });
    log.append(Buffer.alloc(0), { key: new Uint8Array(0) });
    await log.visible();
    const got = readAll(log).map((r) => [r.key === null ? null : r.key.length, r.value === null ? null : r.value.length]);
    expect(got).toEqual([
      [null, null],
      [null, 0],
      [null, 0],
      [null, 0],
      [null, null],
      [0, null],
      [0, 1],
      [null, 1],
      [0, 0],
    ]);
  });

  it('does not see later changes to the Buffer that was appended', async () => {
    const log = await openLog();
    const b = Buffer.from('original');
    log.append(b, { key: b });
    b.fill(0x41);
    await log.visible();
    const [r] = log.read(0);
    expect(r.value!.toString()).toBe('original');
    expect(r.key!.toString()).toBe('original');
  });
});

describe('headers', () => {
  it('keeps the object form in insertion order, with null and empty values', async () => {
    const log = await openLog();
    log.append('v', {
      headers: { alpha: 'one', beta: Buffer.from([0, 255]), gamma: null, delta: '', 'ünï ✓': new Uint8Array([7, 7]), epsilon: Buffer.alloc(0) },
    });
    await log.visible();
    const [r] = log.read(0);
    expect(plain(r)).toMatchObject({
      headers: [
        { key: 'alpha', value: hex('one') },
        { key: 'beta', value: '00ff' },
        { key: 'gamma', value: null },
        { key: 'delta', value: '' },
        { key: 'ünï ✓', value: '0707' },
        { key: 'epsilon', value: '' },
      ],
    });
  });

  it('keeps the pair form in order, duplicate keys included', async () => {
    const log = await openLog();
    const pairs: Array<[string, string | Buffer | Uint8Array | null]> = [
      ['dup', 'first'],
      ['other', null],
      ['dup', null],
      ['', 'empty key'],
      ['dup', Buffer.from('third')],
      ['dup', new Uint8Array([1, 2, 3]).subarray(1)],
    ];
    log.append('v', { headers: pairs });
    await log.visible();
    const [r] = log.read(0);
    expect(r.headers.map((h) => [h.key, h.value === null ? null : hex(h.value)])).toEqual([
      ['dup', hex('first')],
      ['other', null],
      ['dup', null],
      ['', hex('empty key')],
      ['dup', hex('third')],
      ['dup', '0203'],
    ]);
  });

  it('returns no headers for none, an empty object or an empty array', async () => {
    const log = await openLog();
    log.append('a');
    log.append('b', { headers: {} });
    log.append('c', { headers: [] });
    log.append('d', { headers: undefined });
    await log.visible();
    expect(readAll(log).map((r) => r.headers)).toEqual([[], [], [], []]);
  });

  it('round-trips many headers and large header values', async () => {
    const log = await openLog();
    const pairs = Array.from({ length: 300 }, (_, i) => [`h${i}`, i % 7 === 0 ? null : Buffer.alloc(i * 3, i & 0xff)] as [string, Buffer | null]);
    log.append('v', { headers: pairs });
    await log.visible();
    const [r] = log.read(0);
    expect(r.headers.length).toBe(300);
    r.headers.forEach((h, i) => {
      expect(h.key).toBe(`h${i}`);
      expect(h.value === null ? null : hex(h.value)).toBe(pairs[i][1] === null ? null : hex(pairs[i][1]!));
    });
  });
});

describe('timestamps', () => {
  it('keeps explicit timestamps, in and out of order', async () => {
    const log = await openLog();
    const ts = [0, 1, 1_700_000_000_000, 1_600_000_000_000, Date.UTC(2200, 0, 1), 5, 2 ** 48, 1_700_000_000_000];
    for (const t of ts) log.append('v', { timestamp: t });
    await log.visible();
    // And across batches: each one sealed on its own.
    for (const t of ts) {
      log.append('w', { timestamp: t });
      log.seal();
    }
    await log.visible(); // the last seal is readable once the writer thread wrote it
    expect(readAll(log).map((r) => r.timestamp)).toEqual([...ts, ...ts]);
  });

  it('stamps appends without a timestamp with the current time', async () => {
    const log = await openLog();
    const before = Date.now();
    log.append('a');
    log.append('b', { key: 'k' });
    log.append('c', { timestamp: undefined });
    log.appendBatch(['d', { value: 'e' }]);
    const after = Date.now();
    await log.visible();
    for (const r of readAll(log)) {
      expect(r.timestamp).toBeGreaterThanOrEqual(before);
      expect(r.timestamp).toBeLessThanOrEqual(after);
    }
  });
});

describe('the message size limit', () => {
  const messageBytesMax = 4096;

  it('accepts a message of exactly messageBytesMax and stores it as a batch of that size', async () => {
    const log = await openLog({ messageBytesMax });
    const v = largestValue(messageBytesMax);
    expect(singleRecordBatchBytes(-1, v, 0)).toBe(messageBytesMax);
    expect(log.append(Buffer.alloc(v, 1))).toBe(0);
    log.seal();
    await log.visible();
    const s = log.slice(0)!;
    try {
      expect(s.length).toBe(messageBytesMax);
    } finally {
      fs.closeSync(s.fd);
    }
    expect(log.read(0)[0].value!.length).toBe(v);
  });

  it('rejects one byte over with TOO_LARGE and appends nothing', async () => {
    const log = await openLog({ messageBytesMax });
    log.append('before');
    await log.visible();
    const v = largestValue(messageBytesMax);
    expectTooLarge(() => log.append(Buffer.alloc(v + 1, 2)));
    // With an open batch too (the record cannot join it and is checked alone).
    log.append('open');
    expectTooLarge(() => log.append(Buffer.alloc(v + 1, 2)));
    expect(log.endOffset).toBe(2);
    await log.visible();
    expect(log.highWatermark).toBe(2);
    expect(log.append('after')).toBe(2);
    await log.visible();
    expect(readAll(log).map((r) => r.value!.toString())).toEqual(['before', 'open', 'after']);
  });

  it('counts keys and headers in the limit', async () => {
    const log = await openLog({ messageBytesMax });
    const key = Buffer.alloc(100, 3);
    const headers = { h: 'header value' };
    // count 1 | key len 1 | "h" | value len 12 | "header value"
    const headerBytes = 1 + 1 + 1 + 1 + 12;
    const v = largestValue(messageBytesMax, key.length, headerBytes);
    expect(singleRecordBatchBytes(key.length, v, headerBytes)).toBe(messageBytesMax);
    expect(log.append(Buffer.alloc(v), { key, headers })).toBe(0);
    expectTooLarge(() => log.append(Buffer.alloc(v + 1), { key, headers }));
    expectTooLarge(() => log.append(Buffer.alloc(v), { key: Buffer.alloc(key.length + 1), headers }));
    expectTooLarge(() => log.append(Buffer.alloc(v), { key, headers: { h: 'header value!' } }));
    expect(log.endOffset).toBe(1);
    await log.visible();
    expect(readAll(log).length).toBe(1);
  });

  it('measures string values in UTF-8 bytes', async () => {
    const log = await openLog({ messageBytesMax });
    const v = largestValue(messageBytesMax);
    const exact = 'é'.repeat(Math.floor(v / 2)) + 'x'.repeat(v % 2); // 2 bytes per 'é'
    expect(Buffer.byteLength(exact)).toBe(v);
    expect(log.append(exact)).toBe(0);
    expectTooLarge(() => log.append(exact + 'x'));
    expectTooLarge(() => log.append('😀'.repeat(Math.ceil(v / 4) + 1)));
    await log.visible();
    expect(readAll(log).map((r) => r.value!.toString())).toEqual([exact]);
  });

  it('applies the same limit in appendBatch, to plain values and message objects', async () => {
    const log = await openLog({ messageBytesMax });
    const v = largestValue(messageBytesMax);
    expect(log.appendBatch([Buffer.alloc(v), { value: Buffer.alloc(v), timestamp: 1 }, 'é'.repeat(Math.floor(v / 2))])).toBe(0);
    expectTooLarge(() => log.appendBatch([Buffer.alloc(v + 1)]));
    expectTooLarge(() => log.appendBatch(['x'.repeat(v + 1)]));
    expectTooLarge(() => log.appendBatch([{ value: Buffer.alloc(v + 1) }]));
    expectTooLarge(() => log.appendBatch([{ value: Buffer.alloc(v), key: 'k' }]));
    expect(log.endOffset).toBe(3);
  });

  it('rejects a batch holding a too-large message before writing any of it', async () => {
    const log = await openLog({ messageBytesMax });
    log.append('first');
    await log.visible();
    const v = largestValue(messageBytesMax);
    const err = expectTooLarge(() => log.appendBatch(['a', { value: 'b', key: 'k' }, Buffer.alloc(v), Buffer.alloc(v + 1), 'e']));
    expect(err.message).toMatch(/message 3/);
    expectTooLarge(() => log.appendBatch(['a', 'b', { value: Buffer.alloc(v + 1) }]));
    expect(log.endOffset).toBe(1);
    await log.visible();
    expect(log.highWatermark).toBe(1);
    expect(log.read(1)).toEqual([]);
    expect(log.appendBatch(['next'])).toBe(1);
    await log.visible();
    expect(readAll(log).map((r) => r.value!.toString())).toEqual(['first', 'next']);
  });

  it('allows a message as large as the whole segment when messageBytesMax says so', async () => {
    const log = await openLog({ segmentBytes: 65536, messageBytesMax: 65536 });
    log.append('small');
    const v = largestValue(65536);
    expect(log.append(Buffer.alloc(v, 9))).toBe(1);
    expectTooLarge(() => log.append(Buffer.alloc(v + 1)));
    expect(log.append('after')).toBe(2);
    await log.visible();
    const got = readAll(log);
    expect(got.map((r) => r.value!.length)).toEqual([5, v, 5]);
    expect(got[1].value!.every((b) => b === 9)).toBe(true);
    expect(log.stats().segments).toBe(3);
  });
});

describe('appendBatch', () => {
  it('appends plain values contiguously and returns the first offset', async () => {
    const log = await openLog();
    log.append('zero');
    const values = [Buffer.from('a'), 'b', new Uint8Array([99]), null, '', Buffer.alloc(0)];
    expect(log.appendBatch(values)).toBe(1);
    expect(log.endOffset).toBe(7);
    expect(log.appendBatch([])).toBe(7);
    expect(log.endOffset).toBe(7);
    await log.visible();
    const got = readAll(log);
    expect(got.map((r) => r.offset)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(got.slice(1).map((r) => (r.value === null ? null : hex(r.value)))).toEqual([hex('a'), hex('b'), '63', null, '', '']);
    expect(got.slice(1).every((r) => r.key === null && r.headers.length === 0)).toBe(true);
  });

  it('mixes plain values and message objects', async () => {
    const log = await openLog();
    const before = Date.now();
    const first = log.appendBatch([
      'plain',
      { value: 'obj', key: 'k1', headers: { a: '1', n: null }, timestamp: 42 },
      null,
      { value: null, key: Buffer.from([1, 2]) },
      new Uint8Array([5, 6]),
      { value: Buffer.from('pairs'), headers: [['d', 'x'], ['d', 'y']], timestamp: 7 },
      { value: '', key: '' },
    ]);
    const after = Date.now();
    expect(first).toBe(0);
    await log.visible();
    const got = readAll(log).map(plain) as Array<{ timestamp: number }>;
    expect(got).toHaveLength(7);
    expect(got[1]).toEqual({ offset: 1, timestamp: 42, key: hex('k1'), value: hex('obj'), headers: [{ key: 'a', value: hex('1') }, { key: 'n', value: null }] });
    expect(got[3]).toMatchObject({ offset: 3, key: '0102', value: null, headers: [] });
    expect(got[5]).toEqual({ offset: 5, timestamp: 7, key: null, value: hex('pairs'), headers: [{ key: 'd', value: hex('x') }, { key: 'd', value: hex('y') }] });
    expect(got[6]).toMatchObject({ offset: 6, key: '', value: '', headers: [] });
    expect(got[0]).toMatchObject({ offset: 0, key: null, value: hex('plain'), headers: [] });
    expect(got[2]).toMatchObject({ offset: 2, key: null, value: null });
    expect(got[4]).toMatchObject({ offset: 4, key: null, value: '0506' });
    for (const i of [0, 2, 3, 4, 6]) {
      expect(got[i].timestamp).toBeGreaterThanOrEqual(before);
      expect(got[i].timestamp).toBeLessThanOrEqual(after);
    }
  });

  it('writes thousands of message objects, more than one native call takes, in order', async () => {
    const log = await openLog({ segmentBytes: 1 << 20, batchBytesMax: 16384 });
    const backing = Buffer.alloc(4096, 7);
    const messages = Array.from({ length: 9000 }, (_, i) =>
      i % 5 === 0
        ? backing.subarray(i % 100, (i % 100) + (i % 700)) // plain values among the objects
        : { value: Buffer.alloc(i % 700, i & 0xff), key: `k${i}`, headers: i % 3 === 0 ? [['i', String(i)], ['i', null]] : undefined, timestamp: 1_000_000 + i },
    );
    expect(log.appendBatch(messages)).toBe(0);
    expect(log.endOffset).toBe(9000);
    await log.visible();
    const got = readAll(log);
    expect(got.length).toBe(9000);
    got.forEach((r, i) => {
      const m = messages[i];
      if (m instanceof Uint8Array) {
        expect(hex(r.value!)).toBe(hex(m));
        expect(r.key).toBeNull();
        expect(r.headers).toEqual([]);
      } else {
        expect(r.value!.length).toBe(i % 700);
        expect(r.value!.every((b) => b === (i & 0xff))).toBe(true);
        expect(r.key!.toString()).toBe(`k${i}`);
        expect(r.timestamp).toBe(1_000_000 + i);
        expect(r.headers.map((h) => [h.key, h.value?.toString() ?? null])).toEqual(i % 3 === 0 ? [['i', String(i)], ['i', null]] : []);
      }
    });
  });

  it('takes a message larger than a megabyte among small ones', async () => {
    const log = await openLog({ segmentBytes: 8 << 20, messageBytesMax: 4 << 20 });
    const big = Buffer.alloc(3 << 20);
    for (let i = 0; i < big.length; i += 4096) big[i] = (i / 4096) & 0xff;
    expect(log.appendBatch(['a', { value: big, key: 'big' }, 'b', big])).toBe(0);
    await log.visible();
    const got = readAll(log);
    expect(got.map((r) => r.value!.length)).toEqual([1, big.length, 1, big.length]);
    expect(got[1].value!.equals(big)).toBe(true);
    expect(got[3].value!.equals(big)).toBe(true);
    expect(got[1].key!.toString()).toBe('big');
  });

  it('writes large batches across batch and segment boundaries', async () => {
    const log = await openLog({ segmentBytes: 65536, batchBytesMax: 2048 });
    const values = Array.from({ length: 5000 }, (_, i) => `value-${i}-${'x'.repeat(i % 50)}`);
    expect(log.appendBatch(values)).toBe(0);
    await log.visible();
    expect(log.stats().segments).toBeGreaterThan(1);
    expect(readAll(log).map((r) => r.value!.toString())).toEqual(values);
  });
});
