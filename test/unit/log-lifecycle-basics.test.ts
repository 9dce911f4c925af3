/**
 * The life of a log through the public API: segments roll, a clean reopen finds everything as it
 * was, retention (by bytes and by age, with an explicit clock) moves the start offset forward and
 * removes files without ever moving offsets back, flush() reports durability, arguments are
 * checked with plain TypeErrors and RangeErrors, and a closed log answers CLOSED.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Buffer } from 'node:buffer';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, Log, SluiceError, type HeadersInput, type LogOptions, type LogRecord } from '../../lib/index';
import { nextTick, tmpDir } from '../helpers/tmp';

const open: Log[] = [];
afterEach(async () => {
  for (const log of open.splice(0)) await log.close();
});

async function openLog(options: LogOptions = {}, dir = tmpDir()): Promise<Log> {
  const log = await Log.open(dir, { segmentBytes: 65536, ...options });
  open.push(log);
  return log;
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
}

function expectCode(fn: () => unknown, code: ErrorCode): void {
  const e = thrown(fn);
  expect(e).toBeInstanceOf(SluiceError);
  expect((e as SluiceError).code).toBe(code);
}

async function expectRejectCode(p: Promise<unknown>, code: ErrorCode): Promise<void> {
  const e = await p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(SluiceError);
  expect((e as SluiceError).code).toBe(code);
}

function scan(log: Log): LogRecord[] {
  const out: LogRecord[] = [];
  let offset = log.startOffset;
  while (offset < log.highWatermark) {
    const records = log.read(offset);
    expect(records.length).toBeGreaterThan(0);
    expect(records[0].offset).toBe(offset);
    out.push(...records);
    offset = records[records.length - 1].offset + 1;
  }
  return out;
}

function snapshot(records: LogRecord[]): unknown[] {
  return records.map((r) => [
    r.offset,
    r.timestamp,
    r.key?.toString('hex') ?? null,
    r.value?.toString('hex') ?? null,
    r.headers.map((h) => [h.key, h.value?.toString('hex') ?? null]),
  ]);
}

function segmentFiles(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((n) => /^\d{20}\.(log|index|timeindex)$/.test(n))
    .sort();
}

function logBases(dir: string): number[] {
  return segmentFiles(dir)
    .filter((n) => n.endsWith('.log'))
    .map((n) => Number(n.slice(0, 20)));
}

/** Appends `count` records of about `size` bytes, with keys and headers, and waits for the seal. */
async function appendMany(log: Log, count: number, size = 200, timestamp?: (i: number) => number): Promise<void> {
  const first = log.endOffset;
  for (let i = 0; i < count; i++) {
    const o = first + i;
    log.append(Buffer.alloc(size, o & 0xff), { key: `key-${o}`, headers: o % 5 === 0 ? { n: String(o) } : undefined, timestamp: timestamp?.(o) });
  }
  await log.visible();
}

describe('roll', () => {
  it('rolls to a new segment when one is full and reads across the boundaries', async () => {
    const dir = tmpDir();
    const log = await openLog({}, dir);
    expect(log.stats().segments).toBe(1);
    await appendMany(log, 100);
    expect(log.stats().segments).toBe(1);
    await appendMany(log, 1500);
    const segments = log.stats().segments;
    expect(segments).toBeGreaterThanOrEqual(4);
    const bases = logBases(dir);
    expect(bases.length).toBe(segments);
    expect(bases[0]).toBe(0);
    const all = scan(log);
    expect(all.map((r) => r.offset)).toEqual(Array.from({ length: 1600 }, (_, i) => i));
    all.forEach((r) => {
      expect(r.value!.length).toBe(200);
      expect(r.value![0]).toBe(r.offset & 0xff);
      expect(r.key!.toString()).toBe(`key-${r.offset}`);
    });
    for (const base of bases.slice(1)) {
      expect(log.read(base - 1, { maxRecords: 1 })[0].offset).toBe(base - 1);
      expect(log.read(base, { maxRecords: 1 })[0].offset).toBe(base);
    }
  });

  it('rolls inside one appendBatch and inside one tick', async () => {
    const log = await openLog({ batchBytesMax: 4096 });
    const first = log.appendBatch(Array.from({ length: 3000 }, (_, i) => Buffer.alloc(100, i & 0xff)));
    expect(first).toBe(0);
    await log.visible();
    expect(log.stats().segments).toBeGreaterThan(3);
    const all = scan(log);
    expect(all.length).toBe(3000);
    all.forEach((r, i) => expect(r.value![50]).toBe(i & 0xff));
  });
});

describe('reopen', () => {
  it('finds everything as it was after a clean close, and continues the offsets', async () => {
    const dir = tmpDir();
    const log = await openLog({}, dir);
    expect(log.recovery).toMatchObject({ cleanShutdown: true, created: true }); // a new log: nothing to recover
    await appendMany(log, 1200, 150, (i) => 1_000 + i);
    log.appendBatch([null, '', { value: 'last', key: null, headers: [['d', null], ['d', 'x']], timestamp: 5 }]);
    await log.visible();
    const before = snapshot(scan(log));
    const offsets = [log.startOffset, log.endOffset, log.highWatermark];
    await log.close();
    expect(log.closed).toBe(true);

    const again = await openLog({}, dir);
    expect(again.recovery.cleanShutdown).toBe(true);
    expect([again.startOffset, again.endOffset, again.highWatermark]).toEqual(offsets);
    expect(again.durableOffset).toBe(offsets[1]);
    expect(snapshot(scan(again))).toEqual(before);
    expect(again.append('next')).toBe(offsets[1]);
    await again.visible();
    expect(again.read(offsets[1])[0].value!.toString()).toBe('next');
    await again.close();

    const third = await openLog({}, dir);
    expect(third.recovery.cleanShutdown).toBe(true);
    expect(third.endOffset).toBe(offsets[1] + 1);
    expect(snapshot(scan(third)).slice(0, before.length)).toEqual(before);
  });

  it('reopens an empty log', async () => {
    const dir = tmpDir();
    await (await openLog({}, dir)).close();
    const log = await openLog({}, dir);
    expect(log.recovery.cleanShutdown).toBe(true);
    expect([log.startOffset, log.endOffset, log.highWatermark]).toEqual([0, 0, 0]);
    expect(log.read(0)).toEqual([]);
    expect(log.append('a')).toBe(0);
  });

  it('reopens with a different segment size', async () => {
    const dir = tmpDir();
    const log = await openLog({}, dir);
    await appendMany(log, 700);
    const before = snapshot(scan(log));
    await log.close();
    const again = await openLog({ segmentBytes: 131072 }, dir);
    expect(snapshot(scan(again))).toEqual(before);
    await appendMany(again, 700);
    expect(scan(again).length).toBe(1400);
  });
});

describe('retention', () => {
  it('by bytes: deletes the oldest segments and moves the start offset forward', async () => {
    const dir = tmpDir();
    const retentionBytes = 150_000;
    const log = await openLog({ retentionBytes }, dir);
    const now = Date.now();
    await appendMany(log, 2500, 200, () => now);
    // Retention also runs on every roll, so the log is already bounded.
    expect(log.startOffset).toBeGreaterThan(0);
    log.retain(now);
    // It keeps at least retentionBytes, and no segment that could go without dropping below that.
    const size = log.stats().sizeBytes;
    expect(size).toBeGreaterThanOrEqual(retentionBytes);
    expect(size).toBeLessThan(retentionBytes + 65536);
    const start = log.startOffset;
    expect(logBases(dir)[0]).toBeLessThanOrEqual(start); // files may still be on their way out
    expectCode(() => log.read(start - 1), ErrorCode.OFFSET_OUT_OF_RANGE);
    expectCode(() => log.read(0), ErrorCode.OFFSET_OUT_OF_RANGE);
    const rest = scan(log);
    expect(rest[0].offset).toBe(start);
    expect(rest[rest.length - 1].offset).toBe(2499);
    expect(rest.every((r) => r.value![0] === (r.offset & 0xff))).toBe(true);

    // Once a flush has gone through, the deleted segments' files are gone.
    log.append('x');
    await log.flush();
    expect(logBases(dir)[0]).toBe(start);
    await log.close();
    expect(logBases(dir)[0]).toBe(start);
    for (const name of segmentFiles(dir)) expect(Number(name.slice(0, 20))).toBeGreaterThanOrEqual(start);

    const again = await openLog({ retentionBytes }, dir);
    expect(again.startOffset).toBe(start);
    expect(again.endOffset).toBe(2501);
    expectCode(() => again.read(start - 1), ErrorCode.OFFSET_OUT_OF_RANGE);
  });

  it('by age: deletes the segments whose newest record is older than retentionMs, by the given clock', async () => {
    const dir = tmpDir();
    const hour = 3_600_000;
    // Timestamps an hour apart per segment, from now: the roll-time retention (real clock) keeps them.
    const T0 = Date.now();
    const log = await openLog({ retentionMs: hour }, dir);
    for (let s = 0; s < 3; s++) {
      // Segment s gets timestamps T0 + s hours (the record that rolls it over opens segment s + 1
      // with an older timestamp, which does not change that segment's newest one).
      while (log.stats().segments === s + 1) {
        log.append(Buffer.alloc(500), { timestamp: T0 + s * hour });
        log.seal();
      }
    }
    await log.visible();
    expect(log.startOffset).toBe(0);
    const end = log.endOffset;
    const segmentStarts = logBases(dir);
    expect(segmentStarts.length).toBe(4);

    // Nothing is older than an hour at T0 + hour.
    expect(log.retain(T0 + hour).segmentsDeleted).toBe(0);
    expect(log.startOffset).toBe(0);
    // At T0 + hour + 1 the first segment (newest record at T0) is over an hour old.
    expect(log.retain(T0 + hour + 1).segmentsDeleted).toBe(1);
    expect(log.startOffset).toBe(segmentStarts[1]);
    expectCode(() => log.read(segmentStarts[1] - 1), ErrorCode.OFFSET_OUT_OF_RANGE);
    expect(log.read(segmentStarts[1])[0].offset).toBe(segmentStarts[1]);
    expect(log.endOffset).toBe(end);
    await log.close();
    expect(logBases(dir)[0]).toBe(segmentStarts[1]);
  });

  it('never moves offsets back, even when every record was deleted', async () => {
    const dir = tmpDir();
    const T0 = Date.now();
    const log = await openLog({ retentionMs: 60_000 }, dir);
    await appendMany(log, 1000, 200, () => T0);
    expect(log.stats().segments).toBeGreaterThan(1);
    const end = log.endOffset;
    const report = log.retain(T0 + 3_600_000);
    expect(report.segmentsDeleted).toBeGreaterThan(1);
    expect(log.startOffset).toBe(end);
    expect(log.endOffset).toBe(end);
    expect(log.highWatermark).toBe(end);
    expect(log.read(end)).toEqual([]);
    expectCode(() => log.read(end - 1), ErrorCode.OFFSET_OUT_OF_RANGE);
    expect(log.offsetForTime(0)).toBeNull();
    expect(log.stats().sizeBytes).toBe(0);

    // Deleting everything again changes nothing.
    expect(log.retain(T0 + 7_200_000).segmentsDeleted).toBe(0);
    expect(log.startOffset).toBe(end);

    log.append('fresh', { timestamp: T0 + 3_600_000 });
    await log.flush();
    expect(logBases(dir)).toEqual([end]);
    await log.close();

    const again = await openLog({ retentionMs: 60_000 }, dir);
    expect(again.recovery.cleanShutdown).toBe(true);
    expect(again.startOffset).toBe(end);
    expect(again.endOffset).toBe(end + 1);
    expect(again.read(end).map((r) => r.value!.toString())).toEqual(['fresh']);
    expectCode(() => again.read(end - 1), ErrorCode.OFFSET_OUT_OF_RANGE);
  });

  it('keeps the start offset across a reopen after deleting everything', async () => {
    const dir = tmpDir();
    const T0 = Date.now();
    const log = await openLog({ retentionMs: 60_000 }, dir);
    await appendMany(log, 500, 200, () => T0);
    const end = log.endOffset;
    log.retain(T0 + 3_600_000);
    await log.close();
    expect(segmentFiles(dir).filter((n) => n.endsWith('.log'))).toEqual([`${String(end).padStart(20, '0')}.log`]);
    const again = await openLog({}, dir);
    expect([again.startOffset, again.endOffset, again.highWatermark]).toEqual([end, end, end]);
    expect(again.append('a')).toBe(end);
  });

  it('does nothing without limits', async () => {
    const log = await openLog();
    await appendMany(log, 1000, 200, () => 1);
    expect(log.retain(Number.MAX_SAFE_INTEGER)).toEqual({ segmentsDeleted: 0, bytesDeleted: 0 });
    expect(log.startOffset).toBe(0);
  });
});

describe('flush', () => {
  it('resolves with a durable offset at or past everything appended', async () => {
    const log = await openLog();
    expect(await log.flush()).toBeGreaterThanOrEqual(0);
    log.appendBatch(['a', 'b', 'c']);
    const d = await log.flush();
    expect(d).toBeGreaterThanOrEqual(3);
    expect(log.durableOffset).toBeGreaterThanOrEqual(3);
    // flush() seals: what it made durable is visible too.
    expect(log.highWatermark).toBe(3);
  });

  it('resolves every one of several concurrent flushes', async () => {
    const log = await openLog();
    const flushes: Array<Promise<number>> = [];
    for (let i = 0; i < 20; i++) {
      log.append(Buffer.alloc(1000, i));
      flushes.push(log.flush().then((d) => d - (i + 1)));
    }
    for (const margin of await Promise.all(flushes)) expect(margin).toBeGreaterThanOrEqual(0);
    expect(log.durableOffset).toBe(20);
  });

  for (const sync of ['always', 'interval', 'none'] as const) {
    it(`resolves at or past everything appended under sync '${sync}'`, async () => {
      const log = await openLog({ sync });
      await appendMany(log, 500);
      log.append('unsealed');
      const d = await log.flush();
      expect(d).toBeGreaterThanOrEqual(501);
      expect(log.durableOffset).toBeGreaterThanOrEqual(501);
    });
  }

  it('covers records across several segments', async () => {
    const log = await openLog();
    await appendMany(log, 2000);
    expect(log.stats().segments).toBeGreaterThan(2);
    expect(await log.flush()).toBeGreaterThanOrEqual(2000);
  });
});

describe('argument validation', () => {
  it('rejects bad open arguments with TypeError or RangeError, before touching the disk', async () => {
    const base = tmpDir();
    const dir = path.join(base, 'never-created');
    const cases: Array<[unknown, unknown, typeof TypeError | typeof RangeError, RegExp]> = [
      ['', {}, RangeError, /dir/],
      [42, {}, TypeError, /dir/],
      [dir, null, TypeError, /options/],
      [dir, 'big', TypeError, /options/],
      [dir, { segmentSize: 65536 }, TypeError, /unknown log option "segmentSize"/],
      [dir, { segmentBytes: 1000 }, RangeError, /segmentBytes/],
      [dir, { segmentBytes: 2 ** 31 }, RangeError, /segmentBytes/],
      [dir, { segmentBytes: 65536.5 }, RangeError, /segmentBytes/],
      [dir, { segmentBytes: '65536' }, TypeError, /segmentBytes/],
      [dir, { segmentBytes: -65536 }, RangeError, /segmentBytes/],
      [dir, { indexIntervalBytes: 0 }, RangeError, /indexIntervalBytes/],
      [dir, { batchBytesMax: NaN }, RangeError, /batchBytesMax/],
      [dir, { messageBytesMax: 67 }, RangeError, /messageBytesMax/],
      [dir, { segmentBytes: 65536, messageBytesMax: 65537 }, RangeError, /messageBytesMax/],
      [dir, { messageBytesMax: 4096, batchBytesMax: 8192 }, RangeError, /batchBytesMax/],
      [dir, { retentionBytes: -2 }, RangeError, /retentionBytes/],
      [dir, { retentionMs: 1.5 }, RangeError, /retentionMs/],
      [dir, { retentionMs: '1000' }, TypeError, /retentionMs/],
      [dir, { repair: 'yes' }, TypeError, /repair/],
      [dir, { sync: 'sometimes' }, RangeError, /sync/],
      [dir, { syncIntervalMs: 0 }, RangeError, /syncIntervalMs/],
    ];
    for (const [d, options, type, message] of cases) {
      const e = await Log.open(d as string, options as LogOptions).then(
        () => new Error(`opened with ${JSON.stringify(options)}`),
        (err: unknown) => err,
      );
      expect(e, JSON.stringify(options)).toBeInstanceOf(type);
      expect((e as Error).message).toMatch(message);
      expect(e).not.toBeInstanceOf(SluiceError);
    }
    expect(fs.existsSync(dir)).toBe(false);
  });

  it('rejects indexIntervalBytes larger than the segment', async () => {
    const e = await Log.open(tmpDir(), { segmentBytes: 65536, indexIntervalBytes: 65537 }).then(
      () => null,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(RangeError);
    expect((e as Error).message).toMatch(/indexIntervalBytes/);
  });

  it('accepts -1 as "no limit" for retention', async () => {
    const log = await openLog({ retentionBytes: -1, retentionMs: -1 });
    await appendMany(log, 1000);
    log.retain(Number.MAX_SAFE_INTEGER);
    expect(log.startOffset).toBe(0);
  });

  it('rejects bad offsets and read options', async () => {
    const log = await openLog();
    log.append('a');
    log.seal();
    await log.visible();
    // Wrong types are TypeErrors; numbers out of range (fractions, NaN, past 2^53) RangeErrors.
    for (const [bad, type] of [[-1, RangeError], [1.5, RangeError], [NaN, RangeError], [Infinity, RangeError], [2 ** 53, RangeError], ['0', TypeError], [null, TypeError], [undefined, TypeError], [0n, TypeError]] as const) {
      for (const call of [() => log.read(bad as number), () => log.slice(bad as number)]) {
        const e = thrown(call);
        expect(e, String(bad)).toBeInstanceOf(type);
        expect((e as Error).message).toMatch(/offset must be an integer/);
      }
    }
    for (const [bad, type] of [[0, RangeError], [-1, RangeError], [1.5, RangeError], ['10', TypeError], [NaN, RangeError]] as const) {
      expect(thrown(() => log.read(0, { maxBytes: bad as number }))).toBeInstanceOf(type);
      expect(thrown(() => log.read(0, { maxRecords: bad as number }))).toBeInstanceOf(type);
      expect(thrown(() => log.slice(0, { maxBytes: bad as number }))).toBeInstanceOf(type);
    }
    for (const [bad, type] of [[1.5, RangeError], ['5', TypeError], [NaN, RangeError], [null, TypeError]] as const) expect(thrown(() => log.offsetForTime(bad as number))).toBeInstanceOf(type);
    for (const [bad, type] of [[1.5, RangeError], ['5', TypeError], [NaN, RangeError]] as const) expect(thrown(() => log.retain(bad as number))).toBeInstanceOf(type);
    expect(log.read(0).length).toBe(1);
  });

  it('rejects wrong value, key, header and timestamp types and appends nothing', async () => {
    const log = await openLog();
    const cases: Array<[() => unknown, typeof TypeError | typeof RangeError]> = [
      [() => log.append(42 as unknown as string), TypeError],
      [() => log.append({} as unknown as string), TypeError],
      [() => log.append(true as unknown as string), TypeError],
      [() => log.append('v', null as unknown as object), TypeError],
      [() => log.append('v', 'opts' as unknown as object), TypeError],
      [() => log.append('v', { key: 42 as unknown as string }), TypeError],
      [() => log.append('v', { key: {} as unknown as string }), TypeError],
      [() => log.append('v', { timestamp: -1 }), RangeError],
      [() => log.append('v', { timestamp: 1.5 }), RangeError],
      [() => log.append('v', { timestamp: NaN }), RangeError],
      [() => log.append('v', { timestamp: '5' as unknown as number }), TypeError],
      [() => log.append('v', { timestamp: 2 ** 53 }), RangeError],
      [() => log.append('v', { headers: 'h' as unknown as HeadersInput }), TypeError],
      [() => log.append('v', { headers: [['only-key']] as unknown as [] }), TypeError],
      [() => log.append('v', { headers: [[1, 'v']] as unknown as [] }), TypeError],
      [() => log.append('v', { headers: { h: 5 } as unknown as HeadersInput }), TypeError],
      [() => log.appendBatch('v' as unknown as []), TypeError],
      [() => log.appendBatch([42 as unknown as string]), TypeError],
      [() => log.appendBatch(['ok', { value: 5 as unknown as string }]), TypeError],
      [() => log.appendBatch(['ok', { value: 'v', key: 5 as unknown as string }]), TypeError],
      [() => log.appendBatch(['ok', { value: 'v', timestamp: -5 }]), RangeError],
      [() => log.appendBatch(['ok', { value: 'v', headers: { h: 5 } as unknown as HeadersInput }]), TypeError],
    ];
    for (const [call, type] of cases) {
      const e = thrown(call);
      expect(e, call.toString()).toBeInstanceOf(type);
      expect(e).not.toBeInstanceOf(SluiceError);
      expect((e as Error).message.length).toBeGreaterThan(0);
    }
    expect(log.endOffset).toBe(0);
    await log.visible();
    expect(log.highWatermark).toBe(0);
    expect(log.append('fine')).toBe(0);
  });
});

describe('after close', () => {
  it('answers CLOSED to every operation', async () => {
    const dir = tmpDir();
    const log = await Log.open(dir, { segmentBytes: 65536 });
    log.appendBatch(['a', 'b']);
    const end = log.endOffset;
    await log.close();
    expect(log.closed).toBe(true);
    expectCode(() => log.append('x'), ErrorCode.CLOSED);
    expectCode(() => log.append('x', { key: 'k' }), ErrorCode.CLOSED);
    expectCode(() => log.appendBatch(['x']), ErrorCode.CLOSED);
    expectCode(() => log.appendBatch([{ value: 'x' }]), ErrorCode.CLOSED);
    expectCode(() => log.read(0), ErrorCode.CLOSED);
    expectCode(() => log.slice(0), ErrorCode.CLOSED);
    expectCode(() => log.offsetForTime(0), ErrorCode.CLOSED);
    expectCode(() => log.seal(), ErrorCode.CLOSED);
    expectCode(() => log.retain(0), ErrorCode.CLOSED);
    expectCode(() => log.stats(), ErrorCode.CLOSED);
    await expectRejectCode(log.flush(), ErrorCode.CLOSED);
    // Closing again is harmless; the final offsets stay readable.
    await log.close();
    expect(log.endOffset).toBe(end);
    expect(log.durableOffset).toBe(end);
  });

  it('answers CLOSED while the close is in progress, and close() waits for the data', async () => {
    const dir = tmpDir();
    const log = await Log.open(dir, { segmentBytes: 65536 });
    log.append('before close');
    const pendingFlush = log.flush();
    const closing = log.close();
    expect(log.closed).toBe(true);
    expectCode(() => log.append('x'), ErrorCode.CLOSED);
    expectCode(() => log.read(0), ErrorCode.CLOSED);
    await expectRejectCode(log.flush(), ErrorCode.CLOSED);
    expect(log.close()).toBe(closing);
    await closing;
    expect(await pendingFlush).toBeGreaterThanOrEqual(1);
    const again = await openLog({}, dir);
    expect(again.read(0).map((r) => r.value!.toString())).toEqual(['before close']);
  });

  it('keeps unsealed appends made in the same tick as close()', async () => {
    const dir = tmpDir();
    const log = await Log.open(dir, { segmentBytes: 65536 });
    log.append('a');
    log.append('b');
    await log.close();
    const again = await openLog({}, dir);
    expect(again.recovery.cleanShutdown).toBe(true);
    expect(again.read(0).map((r) => r.value!.toString())).toEqual(['a', 'b']);
  });
});
