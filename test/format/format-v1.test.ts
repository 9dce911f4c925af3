/**
 * The first released on-disk format stays readable. test/fixtures/format-v1/ is a committed log
 * (three 64 KiB segments with their .index and .timeindex files and sluice.meta version 1) written
 * once by test/fixtures/make-format-v1.cjs and never regenerated. Every run checks the committed
 * bytes with the independent decoder, then copies the fixture to a temporary directory, opens it
 * with Log, and checks every record against the content function spelled out below (the same
 * function as the script's: the fixture, not this code, is the reference).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Buffer } from 'node:buffer';
import { afterEach, describe, expect, it } from 'vitest';
import { Log, type LogOptions, type LogRecord } from '../../lib/index';
import { nextTick, tmpDir } from '../helpers/tmp';
import { crc32c, decodeLogFile, parseOffsetIndex, parseTimeIndex } from './kafka-decoder';

const FIXTURE = path.join(__dirname, '..', 'fixtures', 'format-v1');
const RECORDS = 1500;
const T0 = 1_700_000_000_000;
const FILES = [
  '00000000000000000000.index',
  '00000000000000000000.log',
  '00000000000000000000.timeindex',
  '00000000000000000677.index',
  '00000000000000000677.log',
  '00000000000000000677.timeindex',
  '00000000000000001339.index',
  '00000000000000001339.log',
  '00000000000000001339.timeindex',
  'sluice.meta',
];

interface Expected {
  offset: number;
  timestamp: number;
  key: string | null;
  value: string | null;
  headers: Array<[string, string | null]>;
}

const hex = (b: Buffer | null): string | null => (b === null ? null : b.toString('hex'));
const utf8hex = (s: string): string => Buffer.from(s, 'utf8').toString('hex');

/** Record i of the fixture, as hex. */
function expected(i: number): Expected {
  const timestamp = i % 50 === 49 ? T0 + i * 1000 - 500_000 : T0 + i * 1000;
  const key = [null, utf8hex(`key-${i}`), Buffer.from([i & 0xff, (i >> 8) & 0xff, 0, 255]).toString('hex'), ''][i % 4];
  let value: string | null;
  if (i % 10 === 0) value = null;
  else if (i % 10 === 5) value = '';
  else if (i % 3 === 0) value = utf8hex(`value ${i} ✓ ünï ${'x'.repeat(i % 120)}`);
  else value = Buffer.from(Array.from({ length: (i * 7) % 200 }, (_, j) => (i + j) & 0xff)).toString('hex');
  let headers: Array<[string, string | null]> = [];
  if (i % 6 === 1) headers = [['trace', utf8hex(`t-${i}`)], ['none', null]];
  else if (i % 6 === 2) headers = [['dup', utf8hex('a')], ['dup', null], ['dup', Buffer.from([i & 0xff]).toString('hex')]];
  else if (i % 6 === 3) headers = [['', '']];
  return { offset: i, timestamp, key, value, headers };
}

function plain(r: LogRecord | { offset: number; timestamp: number; key: Buffer | null; value: Buffer | null; headers: ReadonlyArray<{ key: string; value: Buffer | null }> }): Expected {
  return { offset: r.offset, timestamp: r.timestamp, key: hex(r.key), value: hex(r.value), headers: r.headers.map((h) => [h.key, hex(h.value)]) };
}

const open: Log[] = [];
afterEach(async () => {
  for (const log of open.splice(0)) await log.close();
});

async function openCopy(options: LogOptions = { segmentBytes: 65536 }): Promise<{ log: Log; dir: string }> {
  const dir = path.join(tmpDir(), 'format-v1');
  fs.cpSync(FIXTURE, dir, { recursive: true });
  const log = await Log.open(dir, options);
  open.push(log);
  return { log, dir };
}

function scan(log: Log): Expected[] {
  const out: Expected[] = [];
  let offset = log.startOffset;
  while (offset < log.highWatermark) {
    const records = log.read(offset);
    expect(records.length).toBeGreaterThan(0);
    out.push(...records.map(plain));
    offset = records[records.length - 1].offset + 1;
  }
  return out;
}

const all = Array.from({ length: RECORDS }, (_, i) => expected(i));

describe('format v1 fixture', () => {
  it('is committed as written: the files, the meta checkpoint, Kafka batches and valid indexes', () => {
    expect(fs.readdirSync(FIXTURE).sort()).toEqual(FILES);

    // sluice.meta: "SLMT" | version 1 | flags (bit 0 clean) | start | recovery point | end | last size | CRC
    const meta = fs.readFileSync(path.join(FIXTURE, 'sluice.meta'));
    expect(meta.length).toBe(44);
    expect(meta.subarray(0, 4).toString('latin1')).toBe('SLMT');
    expect(meta.readUInt16BE(4)).toBe(1);
    expect(meta.readUInt16BE(6) & 1).toBe(1);
    expect(meta.readBigInt64BE(8)).toBe(0n);
    expect(meta.readBigInt64BE(16)).toBe(BigInt(RECORDS));
    expect(meta.readBigInt64BE(24)).toBe(BigInt(RECORDS));
    expect(meta.readUInt32BE(40)).toBe(crc32c(meta, 0, 40));

    const records: Expected[] = [];
    for (const base of [0, 677, 1339]) {
      const name = String(base).padStart(20, '0');
      const file = fs.readFileSync(path.join(FIXTURE, `${name}.log`));
      expect(file.length).toBe(65536);
      const decoded = decodeLogFile(file);
      expect(decoded.zeroTail).toBe(true);
      expect(decoded.batches[0].baseOffset).toBe(base);
      for (const b of decoded.batches) {
        expect(b.computedCrc).toBe(b.crc);
        records.push(...b.records.map(plain));
      }
      if (base === 1339) expect(BigInt(decoded.dataEnd)).toBe(meta.readBigInt64BE(32));
      const starts = new Map(decoded.batches.map((b) => [b.position, b]));
      const index = parseOffsetIndex(fs.readFileSync(path.join(FIXTURE, `${name}.index`)));
      expect(index.length).toBeGreaterThan(0);
      for (const e of index) expect(starts.get(e.position)?.lastOffset).toBe(base + e.relativeOffset);
      const lastOffsets = new Set(decoded.batches.map((b) => b.lastOffset));
      const timeIndex = parseTimeIndex(fs.readFileSync(path.join(FIXTURE, `${name}.timeindex`)));
      expect(timeIndex.length).toBeGreaterThan(0);
      for (const e of timeIndex) expect(lastOffsets.has(base + e.relativeOffset)).toBe(true);
    }
    expect(records).toEqual(all);
  });

  it('opens cleanly, from its own indexes, with every record as written', async () => {
    const { log } = await openCopy();
    expect(log.recovery.cleanShutdown).toBe(true);
    expect(log.recovery.indexesRebuilt).toBe(0);
    expect([log.startOffset, log.endOffset, log.highWatermark, log.durableOffset]).toEqual([0, RECORDS, RECORDS, RECORDS]);
    expect(log.stats().segments).toBe(3);
    expect(scan(log)).toEqual(all);
    for (let o = 0; o < RECORDS; o += 37) expect(plain(log.read(o, { maxRecords: 1 })[0])).toEqual(all[o]);
  });

  it('answers offsetForTime as a scan of its timestamps does', async () => {
    const { log } = await openCopy();
    const brute = (t: number): number | null => all.find((r) => r.timestamp >= t)?.offset ?? null;
    for (const t of [0, T0, T0 + 1, T0 + 123_456, T0 + 700_000, T0 + 1_000_000, T0 + 1_499_000, T0 + 1_499_001]) {
      expect(log.offsetForTime(t), String(t)).toBe(brute(t));
    }
    for (let i = 0; i < RECORDS; i += 7) {
      expect(log.offsetForTime(all[i].timestamp)).toBe(brute(all[i].timestamp));
      expect(log.offsetForTime(all[i].timestamp + 1)).toBe(brute(all[i].timestamp + 1));
    }
  });

  it('takes new appends after the released data and keeps both across a reopen', async () => {
    const { log, dir } = await openCopy();
    expect(log.append('new', { key: 'k', timestamp: T0 + 2_000_000 })).toBe(RECORDS);
    await log.visible();
    await log.close();
    const again = await Log.open(dir, { segmentBytes: 65536 });
    open.push(again);
    expect(again.recovery.cleanShutdown).toBe(true);
    const records = scan(again);
    expect(records.slice(0, RECORDS)).toEqual(all);
    expect(records[RECORDS]).toEqual({ offset: RECORDS, timestamp: T0 + 2_000_000, key: utf8hex('k'), value: utf8hex('new'), headers: [] });
  });

  it('is readable with another segment size', async () => {
    const { log } = await openCopy({ segmentBytes: 1 << 20 });
    expect(scan(log)).toEqual(all);
    expect(log.append('x')).toBe(RECORDS);
  });
});
