/**
 * The protocol Writer across its 16 KiB chunks: every primitive, strings and bytes larger than a
 * chunk, and values that straddle a chunk's end, read back by the Reader exactly (a write whose
 * position came from a new chunk must land in that chunk, not the old one).
 */
import { expect, it } from 'vitest';
import { Reader } from '../../lib/kafka/protocol/reader';
import { Writer } from '../../lib/kafka/protocol/writer';

it('writes and reads back every primitive across chunk boundaries', () => {
  const w = new Writer();
  const n = 5000;
  const big = 'é'.repeat(12_000); // 24,000 bytes: more than a chunk
  const bytes = Buffer.alloc(20_000, 7);
  for (let i = 0; i < n; i++) {
    w.int8(i % 128);
    w.int16(i % 30000);
    w.int32(i * 7919);
    w.int64(i * 2 ** 33 + 1);
    w.uvarint(i * 131);
    w.string(`s${i}`);
    w.compactNullableString(i % 3 === 0 ? null : `c${i}`);
    w.bool(i % 2 === 0);
    if (i % 1000 === 0) {
      w.string(big);
      w.compactBytes(bytes);
    }
  }
  const buf = w.toBuffer();
  expect(buf.length).toBe(w.length);
  const r = new Reader(buf);
  for (let i = 0; i < n; i++) {
    expect(r.int8()).toBe(i % 128);
    expect(r.int16()).toBe(i % 30000);
    expect(r.int32()).toBe(i * 7919);
    expect(r.int64()).toBe(i * 2 ** 33 + 1);
    expect(r.uvarint()).toBe(i * 131);
    expect(r.string()).toBe(`s${i}`);
    expect(r.compactNullableString()).toBe(i % 3 === 0 ? null : `c${i}`);
    expect(r.bool()).toBe(i % 2 === 0);
    if (i % 1000 === 0) {
      expect(r.string()).toBe(big);
      expect(r.compactBytes().equals(bytes)).toBe(true);
    }
  }
  expect(r.remaining).toBe(0);
});
