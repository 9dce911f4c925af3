/**
 * confirm() and flush() through the public API, in one process: both forms of confirm, the order in
 * which confirms settle, the offsets it refuses, its behaviour once the log is closed, what flush()
 * resolves with, and a hundred thousand confirms pending at once. Failures of the flusher and
 * power loss are in test/integration/durability-faults.test.ts and test/crash/.
 */
import { Buffer } from 'node:buffer';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, Log, SluiceError, type Confirm, type LogOptions, type SyncPolicy } from '../../lib/index';
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

const POLICIES: SyncPolicy[] = ['always', 'interval', 'none'];

/** The error a call produced, thrown at once or as a rejection. */
async function failureOf(call: () => unknown): Promise<unknown> {
  try {
    await call();
  } catch (e) {
    return e;
  }
  return undefined;
}

/** Appends `n` small messages and returns their offsets. */
function appendMany(log: Log, n: number): number[] {
  const offsets: number[] = [];
  for (let i = 0; i < n; i++) offsets.push(log.append(`m${i}`));
  return offsets;
}

describe('confirm', () => {
  it('resolves a promise with the offset and durable: true under sync always', async () => {
    const log = await openLog({ sync: 'always' });
    const o = log.append('a');
    const c = await log.confirm(o);
    expect(c).toEqual({ offset: o, durable: true });
    expect(log.durableOffset).toBeGreaterThan(o);
  });

  it.each(['interval', 'none'] as const)('resolves with durable: false once the message is visible under sync %s', async (sync) => {
    // A one-hour interval: nothing is flushed unless asked, so the confirm can only mean visible.
    const log = await openLog({ sync, syncIntervalMs: sync === 'interval' ? 3_600_000 : undefined });
    log.append('x');
    await log.flush();
    const o = log.append('a');
    const c = await log.confirm(o);
    expect(c).toEqual({ offset: o, durable: false });
    expect(log.highWatermark).toBeGreaterThan(o);
    expect(log.durableOffset).toBe(o);
    expect(log.read(o).map((r) => r.value?.toString())).toEqual(['a']);
  });

  it.each(POLICIES)('calls back with (null, confirm) in the callback form under sync %s', async (sync) => {
    const log = await openLog({ sync });
    const o = log.append('a');
    const c = await new Promise<Confirm | null>((resolve, reject) => {
      const ret = log.confirm(o, (err, confirm) => (err !== null ? reject(err) : resolve(confirm)));
      expect(ret).toBeUndefined();
    });
    expect(c).not.toBeNull();
    expect(c!.offset).toBe(o);
    if (sync === 'always') expect(c!.durable).toBe(true);
  });

  it.each(POLICIES)('settles confirms for increasing offsets in offset order under sync %s', async (sync) => {
    const log = await openLog({ sync, batchBytesMax: 4096 });
    const settled: number[] = [];
    const all: Promise<void>[] = [];
    // Spread over several batches and ticks, so that settling spans seals and flush rounds.
    for (let round = 0; round < 20; round++) {
      for (const o of appendMany(log, 50)) {
        all.push(
          new Promise((resolve, reject) =>
            log.confirm(o, (err, c) => {
              if (err !== null) return reject(err);
              settled.push(c!.offset);
              resolve();
            }),
          ),
        );
      }
      if (round % 3 === 0) await nextTick();
    }
    await Promise.all(all);
    expect(settled.length).toBe(1000);
    expect(settled).toEqual([...settled].sort((a, b) => a - b));
  });

  it.each(POLICIES)('settles confirms in offset order when batches fill up within one tick (sync %s)', async (sync) => {
    // 400-byte values and 1000-byte batches: the engine seals two batches during these appends,
    // so some confirmed offsets are with the writer thread already and the last one is still in
    // the open batch.
    const log = await openLog({ sync, batchBytesMax: 1000 });
    const offsets: number[] = [];
    for (let i = 0; i < 5; i++) offsets.push(log.append(Buffer.alloc(400, i)));
    expect(log.highWatermark).toBeLessThan(log.endOffset);
    const settled: number[] = [];
    await Promise.all(offsets.map((o) => log.confirm(o).then((c) => settled.push(c.offset))));
    expect(settled).toEqual(offsets);
  });

  it("settles confirms in offset order when the flusher publishes a durable offset between two confirm calls (sync 'always')", async () => {
    const log = await openLog({ sync: 'always', batchBytesMax: 1000 });
    const settled: number[] = [];
    const first = log.append(Buffer.alloc(400, 1));
    // Still in the open batch: this confirm has to wait for the flusher.
    const waits = log.confirm(first).then((c) => settled.push(c.offset));
    const second = log.append(Buffer.alloc(400, 2));
    log.append(Buffer.alloc(400, 3)); // seals [first, second] and submits it to the flusher
    // Without yielding to the event loop, let the flusher thread make both durable.
    const deadline = Date.now() + 30_000;
    while (log.durableOffset <= second && Date.now() < deadline);
    expect(log.durableOffset).toBeGreaterThan(second);
    const then = log.confirm(second).then((c) => settled.push(c.offset));
    await Promise.all([waits, then]);
    expect(settled).toEqual([first, second]);
  });

  it.each(['always', 'interval'] as const)('settles confirms registered out of order in offset order under sync %s', async (sync) => {
    const log = await openLog({ sync });
    const offsets = appendMany(log, 200);
    const shuffled = [...offsets].reverse();
    for (let i = 0; i < shuffled.length; i += 7) [shuffled[i], shuffled[shuffled.length - 1 - i]] = [shuffled[shuffled.length - 1 - i], shuffled[i]];
    const settled: number[] = [];
    await Promise.all(shuffled.map((o) => log.confirm(o).then((c) => settled.push(c.offset))));
    expect(settled).toEqual(offsets);
  });

  it('refuses an offset that has not been appended with a RangeError', async () => {
    const log = await openLog({ sync: 'always' });
    appendMany(log, 3);
    const end = log.endOffset;
    expect(end).toBe(3);
    // Callback form: thrown at once, and the callback is never called.
    let called = false;
    expect(() => log.confirm(end, () => (called = true))).toThrow(RangeError);
    expect(() => log.confirm(end + 1000, () => (called = true))).toThrow(/has not been appended/);
    // Promise form: a RangeError, whether thrown or as a rejection.
    const err = await failureOf(() => log.confirm(end));
    expect(err).toBeInstanceOf(RangeError);
    expect(String((err as Error).message)).toContain(String(end));
    // The last appended offset is fine, sealed or not.
    await expect(log.confirm(end - 1)).resolves.toEqual({ offset: end - 1, durable: true });
    await nextTick();
    expect(called).toBe(false);
  });

  it('refuses offsets that are not non-negative integers: TypeError for a wrong type, RangeError for a bad number', async () => {
    const log = await openLog();
    log.append('a');
    for (const bad of [-1, 0.5, NaN, 2 ** 53]) expect(await failureOf(() => log.confirm(bad as number))).toBeInstanceOf(RangeError);
    for (const bad of ['0', null]) expect(await failureOf(() => log.confirm(bad as number))).toBeInstanceOf(TypeError);
    expect(() => log.confirm(0, 'not a function' as never)).toThrow(TypeError);
  });

  it.each(POLICIES)('resolves a confirm of a durable offset after close under sync %s', async (sync) => {
    const log = await openLog({ sync });
    const offsets = appendMany(log, 10);
    await log.flush();
    await log.close();
    expect(log.durableOffset).toBe(10);
    await expect(log.confirm(offsets[4])).resolves.toEqual({ offset: offsets[4], durable: true });
    const c = await new Promise<Confirm | null>((resolve, reject) => log.confirm(9, (err, confirm) => (err !== null ? reject(err) : resolve(confirm))));
    expect(c).toEqual({ offset: 9, durable: true });
  });

  it.each(POLICIES)('resolves confirms still pending at close as durable under sync %s (close flushes)', async (sync) => {
    const log = await openLog({ sync, syncIntervalMs: sync === 'interval' ? 3_600_000 : undefined });
    const offsets = appendMany(log, 100);
    const confirms = offsets.map((o) => log.confirm(o));
    const closing = log.close();
    const results = await Promise.all(confirms);
    await closing;
    expect(results.map((c) => c.offset)).toEqual(offsets);
    // Under 'always' each waited for the flush; otherwise some may have settled (not yet durable)
    // before close flushed, but none may claim more than the truth.
    if (sync === 'always') expect(results.every((c) => c.durable)).toBe(true);
    expect(log.durableOffset).toBe(100);
  });

  it.each(POLICIES)('does not confirm, after close, an offset that was never appended (sync %s)', async (sync) => {
    const log = await openLog({ sync });
    appendMany(log, 5);
    await log.close();
    // The message at offset 5 does not exist: a confirm must not report it as written.
    // (Thrown at once or rejected, either is a refusal.)
    const outcome = await Promise.resolve()
      .then(() => log.confirm(5))
      .then(
        (c) => ({ resolved: c }),
        (e: unknown) => ({ rejected: e }),
      );
    expect(outcome).not.toHaveProperty('resolved');
    let called: unknown = null;
    try {
      log.confirm(5, (err, c) => (called = err ?? c));
    } catch (e) {
      called = e;
    }
    await nextTick();
    expect(called).not.toEqual({ offset: 5, durable: false });
    expect(called).not.toBeNull();
  });
});

describe('flush', () => {
  it.each(POLICIES)('resolves with a durable offset at or past the end offset under sync %s', async (sync) => {
    const log = await openLog({ sync, syncIntervalMs: sync === 'interval' ? 3_600_000 : undefined });
    appendMany(log, 1000);
    const end = log.endOffset;
    const durable = await log.flush();
    expect(durable).toBeGreaterThanOrEqual(end);
    expect(log.durableOffset).toBeGreaterThanOrEqual(end);
    expect(log.highWatermark).toBe(end);
    // Nothing new: resolves at once with the same offset.
    await expect(log.flush()).resolves.toBeGreaterThanOrEqual(end);
  });

  it('rejects with CLOSED once the log is closed', async () => {
    const log = await openLog();
    await log.close();
    const err = await failureOf(() => log.flush());
    expect(err).toBeInstanceOf(SluiceError);
    expect((err as SluiceError).code).toBe(ErrorCode.CLOSED);
  });
});

describe('close(failPendingWith)', () => {
  it.each(POLICIES)('rejects every pending confirm and visible() wait with the given error, under sync %s', async (sync) => {
    const log = await Log.open(tmpDir(), { segmentBytes: 1 << 20, sync });
    const offsets = appendMany(log, 5);
    const gone = new SluiceError('topic t was deleted', ErrorCode.UNKNOWN_TOPIC);
    const confirms = offsets.map((o) => failureOf(() => log.confirm(o)));
    const visible = failureOf(() => log.visible());
    const closed = log.close(gone);
    for (const c of confirms) expect(await c).toBe(gone);
    expect(await visible).toBe(gone);
    await closed;
    // Once closed, the log is closed: later calls are told so, not given the delete's error.
    expect(((await failureOf(() => log.flush())) as SluiceError).code).toBe(ErrorCode.CLOSED);
  });

  it('refuses a failPendingWith that is not an Error', async () => {
    const log = await openLog();
    expect(() => log.close('deleted' as never)).toThrow(TypeError);
  });
});

describe('many pending confirms', () => {
  it.each(['always', 'interval'] as const)('settles 100k confirms pending at once, in offset order, under sync %s', async (sync) => {
    const log = await openLog({ sync, segmentBytes: 8 << 20 });
    const n = 100_000;
    const first = log.appendBatch(Array.from({ length: n }, (_, i) => `message ${i}`));
    let settled = 0;
    let inOrder = true;
    let last = -1;
    let durable = 0;
    await new Promise<void>((resolve, reject) => {
      for (let o = first; o < first + n; o++) {
        log.confirm(o, (err, c) => {
          if (err !== null) return reject(err);
          if (c!.offset <= last) inOrder = false;
          last = c!.offset;
          if (c!.durable) durable++;
          if (++settled === n) resolve();
        });
      }
    });
    expect(settled).toBe(n);
    expect(inOrder).toBe(true);
    if (sync === 'always') expect(durable).toBe(n);
    expect(log.endOffset).toBe(first + n);
  });

  it('settles 100k confirms in the promise form', async () => {
    const log = await openLog({ sync: 'always', segmentBytes: 8 << 20 });
    const first = log.appendBatch(Array.from({ length: 100_000 }, (_, i) => `p${i}`));
    const results = await Promise.all(Array.from({ length: 100_000 }, (_, i) => log.confirm(first + i)));
    expect(results.length).toBe(100_000);
    expect(results.every((c, i) => c.offset === first + i && c.durable)).toBe(true);
  });
});
