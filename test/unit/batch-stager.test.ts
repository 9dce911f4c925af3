/**
 * appendBatch stages a batch for one native call; a batch of Buffers takes a one-pass path. These
 * pin down what both paths promise: a batch goes in whole or not at all (even when it spans
 * several staging chunks), order is kept across chunks, and a message larger than the staging
 * buffer still goes in.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Log } from '../../lib/index';
import { tmpDir } from '../helpers/tmp';

const open: Log[] = [];
afterEach(async () => {
  for (const l of open.splice(0)) await l.close();
});

async function newLog(options: Parameters<typeof Log.open>[1] = {}): Promise<Log> {
  const log = await Log.open(tmpDir(), { sync: 'none', ...options });
  open.push(log);
  return log;
}

function numbered(n: number, size: number): Buffer[] {
  return Array.from({ length: n }, (_, i) => {
    const b = Buffer.alloc(size, i % 251);
    b.writeUInt32BE(i, 0);
    return b;
  });
}

async function readAll(log: Log): Promise<Buffer[]> {
  await log.visible();
  const out: Buffer[] = [];
  let offset = log.startOffset;
  while (offset < log.highWatermark) {
    const records = log.read(offset, { maxRecords: 100_000 });
    for (const r of records) out.push(Buffer.from(r.value!));
    offset = records[records.length - 1].offset + 1;
  }
  return out;
}

describe('appendBatch staging', () => {
  it('keeps order across staging chunks (more messages and more bytes than one chunk)', async () => {
    const log = await newLog();
    const byCount = numbered(10_000, 8);
    const byBytes = numbered(40, 100_000);
    expect(log.appendBatch(byCount)).toBe(0);
    expect(log.appendBatch(byBytes)).toBe(10_000);
    const got = await readAll(log);
    expect(got.length).toBe(10_040);
    for (let i = 0; i < 10_000; i++) expect(got[i].readUInt32BE(0)).toBe(i);
    for (let i = 0; i < 40; i++) expect(got[10_000 + i].equals(byBytes[i])).toBe(true);
  });

  it('writes nothing of a batch whose bad message comes after the first full chunk', async () => {
    const log = await newLog();
    const batch: unknown[] = numbered(6000, 8);
    batch[5000] = 42;
    expect(() => log.appendBatch(batch as Buffer[])).toThrow(/message 5000 must be/);
    const tooLarge: Buffer[] = numbered(6000, 8);
    tooLarge[5500] = Buffer.alloc(2 * 1024 * 1024);
    expect(() => log.appendBatch(tooLarge)).toThrow(expect.objectContaining({ code: 'TOO_LARGE', message: expect.stringMatching(/message 5500/) }));
    expect(log.endOffset).toBe(0);
    log.appendBatch(numbered(3, 8));
    expect((await readAll(log)).map((b) => b.readUInt32BE(0))).toEqual([0, 1, 2]);
  });

  it('takes a message larger than the staging buffer, alone or after others', async () => {
    const log = await newLog({ messageBytesMax: 8 * 1024 * 1024, batchBytesMax: 1024 * 1024 });
    const big = Buffer.alloc(3 * 1024 * 1024, 7);
    expect(log.appendBatch([big])).toBe(0);
    expect(log.appendBatch([Buffer.from('a'), big, Buffer.from('b')])).toBe(1);
    const got = await readAll(log);
    expect(got.map((b) => b.length)).toEqual([big.length, 1, big.length, 1]);
    expect(got[2].equals(big)).toBe(true);
  });

  it('mixes Buffers, strings and message objects in one batch', async () => {
    const log = await newLog();
    log.appendBatch([Buffer.from('x'), 'y', { value: 'z', key: 'k' }, new Uint8Array([1, 2])]);
    const got = await readAll(log);
    expect(got.map((b) => b.toString('latin1'))).toEqual(['x', 'y', 'z', '\x01\x02']);
  });
});
