/**
 * Durability under failure, through the public API. Scenarios that need fault injection (a failing
 * fsync, a full disk when a segment is reserved or its reservation grows, a power loss) run in a child process started with
 * SLUICE_FAULT_INJECTION=1 (test/helpers/durability-faults-child.cjs), which reports what it saw as
 * JSON; this file asserts on that report and then reopens the directory itself to check what is on
 * disk. The sync policies need no faults and run here. Waiting is by polling with generous
 * deadlines: the tests assert what eventually happens, never how fast.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, Log, type LogOptions } from '../../lib/index';
import { nextTick, tmpDir } from '../helpers/tmp';

const CHILD = path.join(__dirname, '..', 'helpers', 'durability-faults-child.cjs');
const { EIO, ENOSPC } = os.constants.errno;
const DEADLINE_MS = 60_000;

// The child's JSON report, asserted on field by field.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Report = any;

function runScenario(scenario: string, dir: string): Promise<Report> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, scenario, dir], {
      env: { ...process.env, SLUICE_FAULT_INJECTION: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code !== 0) reject(new Error(`scenario ${scenario} exited with ${code ?? signal}: ${err}`));
      else resolve(JSON.parse(out));
    });
  });
}

const open: Log[] = [];
afterEach(async () => {
  for (const log of open.splice(0)) await log.close();
});

async function openLog(dir: string, options: LogOptions): Promise<Log> {
  const log = await Log.open(dir, options);
  open.push(log);
  return log;
}

/** Every record from startOffset to the end, as [offset, value]; checks contiguity on the way. */
function readAll(log: Log): Array<[number, string | null]> {
  const out: Array<[number, string | null]> = [];
  let offset = log.startOffset;
  while (offset < log.highWatermark) {
    const records = log.read(offset);
    expect(records.length).toBeGreaterThan(0);
    for (const r of records) {
      expect(r.offset).toBe(offset++);
      out.push([r.offset, r.value === null ? null : r.value.toString()]);
    }
  }
  return out;
}

async function until(what: string, condition: () => boolean): Promise<void> {
  const deadline = Date.now() + DEADLINE_MS;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function dirFor(): string {
  return path.join(tmpDir('sluice-durability-'), 'log');
}

describe('a failed fsync (EIO)', () => {
  it("rejects pending confirms with IO, then refuses writes with READ_ONLY (sync 'always')", async () => {
    const dir = dirFor();
    const r = await runScenario('sync-eio', dir);
    expect(r.before).toEqual(Array.from({ length: 10 }, (_, i) => ({ offset: i, durable: true })));
    expect(r.durableBefore).toBe(10);
    // Every confirm waiting for the failed flush rejects with the I/O error.
    expect(r.pendingOutcomes).toHaveLength(5);
    for (const o of r.pendingOutcomes) {
      expect(o.value).toBeUndefined();
      expect(o.error).toMatchObject({ name: 'SluiceError', code: ErrorCode.IO, errno: EIO });
      expect(o.error.syscall).toEqual(expect.any(String));
    }
    expect(r.durableAfterFailure).toBe(10);
    // Fail-stop: writes are refused, naming the failure.
    expect(r.appendAfter.error).toMatchObject({ code: ErrorCode.READ_ONLY });
    expect(r.appendAfter.error.message).toMatch(/Input\/output error/);
    expect(r.appendBatchAfter.error).toMatchObject({ code: ErrorCode.READ_ONLY, appended: 0 });
    expect(r.flushAfter.error).toMatchObject({ code: ErrorCode.READ_ONLY });
    // What was durable before stays confirmed; what failed stays failed.
    expect(r.confirmEarlier).toEqual({ value: { offset: 3, durable: true } });
    expect(r.confirmEarlierCallback).toEqual({ error: null, value: { offset: 4, durable: true } });
    expect(r.confirmFailedAgain.error).toMatchObject({ code: ErrorCode.IO, errno: EIO });
    expect(r.readEarlier.value).toEqual(Array.from({ length: 10 }, (_, i) => [i, `v${i}`]));
    // No later flush round succeeds, even with the fault gone.
    expect(r.durableLater).toBe(10);
    expect(r.endOffset).toBe(15);
    expect(r.close.error).toBeUndefined();

    // Reopening recovers (not trusting a clean shutdown) and keeps everything confirmed.
    const log = await openLog(dir, { sync: 'always' });
    expect(log.recovery.cleanShutdown).toBe(false);
    const values = readAll(log);
    expect(values.length).toBeGreaterThanOrEqual(10);
    for (const [o, v] of values) expect(v).toBe(`v${o}`);
    const next = log.append(`v${log.endOffset}`);
    expect(next).toBe(values.length);
    await expect(log.confirm(next)).resolves.toEqual({ offset: next, durable: true });
  });

  it('fails the same way when the write of a sealed batch fails (writePath pwrite)', async () => {
    const dir = dirFor();
    const r = await runScenario('write-eio', dir);
    expect(r.before).toEqual(Array.from({ length: 10 }, (_, i) => ({ offset: i, durable: true })));
    for (const o of r.pendingOutcomes) {
      expect(o.error).toMatchObject({ name: 'SluiceError', code: ErrorCode.IO, errno: EIO, syscall: 'pwrite' });
    }
    // The batch that could not be written never became visible.
    expect(r.highWatermark).toBe(10);
    expect(r.durableOffset).toBe(10);
    expect(r.appendAfter.error).toMatchObject({ code: ErrorCode.READ_ONLY });
    expect(r.readEarlier.value).toEqual(Array.from({ length: 10 }, (_, i) => [i, `v${i}`]));
    expect(r.close.error).toBeUndefined();

    const log = await openLog(dir, { sync: 'always' });
    expect(readAll(log)).toEqual(Array.from({ length: 10 }, (_, i) => [i, `v${i}`]));
    const next = log.append('v10');
    expect(next).toBe(10);
    await expect(log.confirm(next)).resolves.toEqual({ offset: 10, durable: true });
  });

  it('fails the same way when a sync none log writes its sealed batch itself and the pwrite fails', async () => {
    const dir = dirFor();
    const r = await runScenario('write-eio-none', dir);
    expect(r.before).toEqual(Array.from({ length: 10 }, (_, i) => ({ offset: i, durable: false })));
    for (const o of r.pendingOutcomes) {
      expect(o.error).toMatchObject({ name: 'SluiceError', code: ErrorCode.IO, errno: EIO, syscall: 'pwrite' });
    }
    expect(r.highWatermark).toBe(10);
    expect(r.appendAfter.error).toMatchObject({ code: ErrorCode.READ_ONLY });
    expect(r.readEarlier.value).toEqual(Array.from({ length: 10 }, (_, i) => [i, `v${i}`]));
    expect(r.close.error).toBeUndefined();

    const log = await openLog(dir, { sync: 'none' });
    expect(readAll(log)).toEqual(Array.from({ length: 10 }, (_, i) => [i, `v${i}`]));
    expect(log.append('v10')).toBe(10);
    await log.close();
  });

  it('fails an append whose full batch a sync none log could not write with READ_ONLY, and rejects that batch with IO', async () => {
    const r = await runScenario('write-eio-none-full-batch', dirFor());
    expect(r.failedAppend.error).toMatchObject({ code: ErrorCode.READ_ONLY });
    expect(r.pendingCount).toBeGreaterThan(0);
    for (const o of r.pendingOutcomes) {
      expect(o.error).toMatchObject({ name: 'SluiceError', code: ErrorCode.IO, errno: EIO, syscall: 'pwrite' });
    }
    expect(r.highWatermark).toBe(10);
    expect(r.close.error).toBeUndefined();
  });

  it('keeps the confirmed prefix when the power fails after the failed fsync', async () => {
    const r = await runScenario('sync-eio-power-loss', dirFor());
    expect(r.before.every((c: { durable: boolean }) => c.durable)).toBe(true);
    for (const o of r.pendingOutcomes) expect(o.error).toMatchObject({ code: ErrorCode.IO, errno: EIO });
    expect(r.recovery.cleanShutdown).toBe(false);
    expect(r.endOffset).toBeGreaterThanOrEqual(10);
    expect(r.values).toEqual(Array.from({ length: r.endOffset }, (_, i) => [i, `v${i}`]));
    expect(r.appendAfterReopen.value).toBe(r.endOffset);
    expect(r.confirmAfterReopen.value).toEqual({ offset: r.endOffset, durable: true });
  });

  it("rejects flush() with IO and then refuses writes under sync 'interval'", async () => {
    const dir = dirFor();
    const r = await runScenario('sync-eio-interval', dir);
    expect(r.visible).toEqual(Array.from({ length: 5 }, (_, i) => ({ offset: i, durable: false })));
    expect(r.flush.error).toMatchObject({ code: ErrorCode.IO, errno: EIO });
    expect(r.appendAfter.error).toMatchObject({ code: ErrorCode.READ_ONLY });
    expect(r.flushAgain.error).toMatchObject({ code: ErrorCode.READ_ONLY });
    expect(r.durableAfter).toBe(r.durableBefore);
    expect(r.readEarlier.value).toEqual(Array.from({ length: 5 }, (_, i) => [i, `v${i}`]));

    const log = await openLog(dir, { sync: 'always' });
    expect(log.recovery.cleanShutdown).toBe(false);
    for (const [o, v] of readAll(log)) expect(v).toBe(`v${o}`);
  });
});

describe('a full disk when the next segment is reserved (ENOSPC)', () => {
  it('throws NO_SPACE from append, keeps earlier data, and resumes without a gap once space is back', async () => {
    const dir = dirFor();
    const r = await runScenario('allocate-enospc', dir);
    const big = (o: number): string => `v${o}`.padEnd(1000, '.');
    // Appends ran until a roll was needed and the new segment could not be reserved.
    expect(r.confirmed).toBeGreaterThan(0);
    expect(r.allDurable).toBe(true);
    expect(r.endAtFailure).toBe(r.confirmed);
    expect(r.failure).toMatchObject({ name: 'SluiceError', code: ErrorCode.NO_SPACE, errno: ENOSPC });
    expect(r.failure.message).toMatch(/no space left on device/i);
    // While the disk stays full, every append fails the same way and appends nothing.
    expect(r.appendAgain.error).toMatchObject({ code: ErrorCode.NO_SPACE, errno: ENOSPC });
    expect(r.appendBatchAgain.error).toMatchObject({ code: ErrorCode.NO_SPACE, appended: 0 });
    expect(r.endAfterRetries).toBe(r.endAtFailure);
    // A full disk is not a failed flush: what is there stays readable and durable.
    expect(r.readEarlier.value).toEqual({ count: r.endAtFailure, intact: true });
    expect(r.flushWhileFull.value).toBeGreaterThanOrEqual(r.endAtFailure);
    expect(r.confirmEarlier.value).toEqual({ offset: 0, durable: true });
    // Space back: the next append succeeds at the next offset, and the log goes on rolling.
    expect(r.appendAfterDisarm.value).toBe(r.endAtFailure);
    expect(r.confirmAfterDisarm.value).toEqual({ offset: r.endAtFailure, durable: true });
    expect(r.moreOffsets).toEqual([r.endAtFailure + 1, r.endAtFailure + 100]);
    expect(r.segmentsAfter).toBeGreaterThan(r.segmentsAtFailure);
    expect(r.endOffset).toBe(r.endAtFailure + 101);
    expect(r.allReadBack).toBe(true);
    expect(r.countReadBack).toBe(r.endOffset);
    expect(r.close.error).toBeUndefined();
    // The file whose reservation failed was given back.
    expect(fs.readdirSync(dir).filter((n) => n.includes('prepared'))).toEqual([]);

    const log = await openLog(dir, { sync: 'always', segmentBytes: 65536 });
    expect(log.recovery.cleanShutdown).toBe(true);
    const values = readAll(log);
    expect(values.length).toBe(r.endOffset);
    for (const [o, v] of values) expect(v).toBe(big(o));
  });
});

describe('a full disk while the active segment grows its reservation (ENOSPC)', () => {
  it('throws NO_SPACE from the append that needs the next step, not a failed write, and resumes once space is back', async () => {
    const dir = dirFor();
    const r = await runScenario('grow-enospc', dir);
    const big = (o: number): string => `v${o}`.padEnd(1000, '.');
    expect(r.allDurable).toBe(true);
    expect(r.endAtFailure).toBe(r.confirmed);
    expect(r.failure).toMatchObject({ name: 'SluiceError', code: ErrorCode.NO_SPACE, errno: ENOSPC, syscall: 'fallocate' });
    // Inside the first segment: the space ran out at a growth step, with the reserved bytes used
    // up to the last batch that fits (the next one, ~1 KB with its header, did not).
    expect(r.segmentsAtFailure).toBe(1);
    expect(r.fileSizeAtFailure).toBeLessThan(64 << 20);
    expect(r.bytesAtFailure).toBeLessThanOrEqual(r.fileSizeAtFailure);
    expect(r.fileSizeAtFailure - r.bytesAtFailure).toBeLessThan(1100);
    // Still full: the same error, nothing appended; what is there stays readable and durable.
    expect(r.appendAgain.error).toMatchObject({ code: ErrorCode.NO_SPACE, errno: ENOSPC });
    expect(r.appendBatchAgain.error).toMatchObject({ code: ErrorCode.NO_SPACE, appended: 0 });
    expect(r.endAfterRetries).toBe(r.endAtFailure);
    expect(r.readEarlier.value).toEqual({ count: r.endAtFailure, intact: true });
    expect(r.confirmEarlier.value).toEqual({ offset: r.endAtFailure - 1, durable: true });
    // Space back: appends go on at the next offset, and the reservation grows again.
    expect(r.appendAfterDisarm.value).toBe(r.endAtFailure);
    expect(r.endOffset).toBe(r.endAtFailure + 2001);
    expect(r.fileSizeAfter).toBeGreaterThan(r.fileSizeAtFailure);
    expect(r.fileSizeAfter).toBeGreaterThanOrEqual(r.bytesAfter);
    expect(r.countReadBack).toBe(r.endOffset);
    expect(r.allReadBack).toBe(true);
    expect(r.confirmsAfter.every((c: { durable: boolean }) => c.durable)).toBe(true);
    expect(r.flushAfter.value).toBe(r.endOffset);
    expect(r.close.error).toBeUndefined();

    const log = await openLog(dir, { sync: 'always', segmentBytes: 64 << 20 });
    expect(log.recovery.cleanShutdown).toBe(true);
    const values = readAll(log);
    expect(values.length).toBe(r.endOffset);
    for (const [o, v] of values) expect(v).toBe(o === 0 ? 'v0' : big(o));
  });
});

describe('directory entries', () => {
  it("fsyncs a new segment's directory entry before confirming a message in it (sync 'always')", async () => {
    const dir = dirFor();
    const r = await runScenario('dir-entries', dir);
    expect(r.rounds).toHaveLength(8);
    for (const round of r.rounds) {
      // The message confirmed was the first of a segment just rolled.
      expect(round.newestBase).toBe(round.offset);
      expect(round.confirm).toEqual({ offset: round.offset, durable: true });
      expect(round.fileSurvived).toBe(true);
      expect(round.readError).toBeUndefined();
      expect(round.intact).toBe(true);
      expect(round.endAfter).toBeGreaterThanOrEqual(round.offset + 1);
      expect(round.clean).toBe(false);
    }
    const log = await openLog(dir, { sync: 'always', segmentBytes: 65536 });
    const values = readAll(log);
    expect(values.length).toBeGreaterThanOrEqual(r.rounds[7].offset + 1);
    for (const [o, v] of values) expect(v).toBe(`v${o}`.padEnd(2000, '-'));
  });

  it('refuses a power loss after close(), and the next open sees a clean shutdown', async () => {
    const dir = dirFor();
    const r = await runScenario('close-then-power-loss', dir);
    expect(r.confirmed).toBe(50);
    expect(r.powerLoss.error).toMatchObject({ code: ErrorCode.CLOSED });
    expect(r.recovery.cleanShutdown).toBe(true);
    expect(r.recovery.segmentsScanned).toBe(0);
    expect(r.endOffset).toBe(50);
    expect(r.values).toEqual(Array.from({ length: 50 }, (_, i) => [i, `v${i}`]));
  });

  it('keeps confirmed messages through a power loss of an open log, which reopens unclean', async () => {
    const r = await runScenario('power-loss-without-close', dirFor());
    expect(r.confirmed).toBe(50);
    expect(r.recovery.cleanShutdown).toBe(false);
    expect(r.endOffset).toBe(50);
    expect(r.values).toEqual(Array.from({ length: 50 }, (_, i) => [i, `v${i}`]));
  });
});

describe('sync policies', () => {
  it("'always': a confirm resolves only once its message is durable", async () => {
    const log = await openLog(dirFor(), { sync: 'always' });
    for (let i = 0; i < 20; i++) {
      const o = log.append(`v${i}`);
      const c = await log.confirm(o);
      expect(c).toEqual({ offset: o, durable: true });
      expect(log.durableOffset).toBeGreaterThan(o);
    }
  });

  it("'interval': confirms resolve once visible with durable: false, and durableOffset catches up by itself", async () => {
    const log = await openLog(dirFor(), { sync: 'interval', syncIntervalMs: 2000 });
    await log.flush(); // a round just ran: the next waits for the interval
    const start = log.durableOffset;
    const offsets = Array.from({ length: 20 }, (_, i) => log.append(`v${i}`));
    const confirms = await Promise.all(offsets.map((o) => log.confirm(o)));
    expect(confirms).toEqual(offsets.map((o) => ({ offset: o, durable: false })));
    expect(log.highWatermark).toBe(log.endOffset);
    expect(log.durableOffset).toBe(start);
    // No flush(): the interval makes it durable.
    const end = log.endOffset;
    await until('durableOffset reaches the end offset', () => log.durableOffset >= end);
    await expect(log.confirm(offsets[19])).resolves.toEqual({ offset: offsets[19], durable: true });
  });

  it("'none': durableOffset advances only on flush(), a segment roll and close", async () => {
    const dir = dirFor();
    const log = await openLog(dir, { sync: 'none', segmentBytes: 65536 });
    const start = log.durableOffset;
    const offsets = Array.from({ length: 20 }, (_, i) => log.append(`v${i}`));
    const confirms = await Promise.all(offsets.map((o) => log.confirm(o)));
    expect(confirms).toEqual(offsets.map((o) => ({ offset: o, durable: false })));
    // Given ticks and time, nothing makes it durable on its own.
    for (let i = 0; i < 10; i++) await nextTick();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(log.durableOffset).toBe(start);

    await expect(log.flush()).resolves.toBeGreaterThanOrEqual(20);
    expect(log.durableOffset).toBe(20);

    // A roll flushes the segment it leaves.
    let o = log.endOffset;
    while (log.stats().segments === 1) o = log.append(`v${log.endOffset}`.padEnd(1000, '.'));
    await until('durableOffset reaches the rolled segment', () => log.durableOffset >= o);
    expect(log.durableOffset).toBeLessThanOrEqual(o);
    log.append('after the roll');
    await log.confirm(log.endOffset - 1);
    expect(log.durableOffset).toBeLessThan(log.endOffset);

    const end = log.endOffset;
    await log.close();
    expect(log.durableOffset).toBe(end);
    const reopened = await openLog(dir, { sync: 'none', segmentBytes: 65536 });
    expect(reopened.recovery.cleanShutdown).toBe(true);
    expect(reopened.endOffset).toBe(end);
  });
});
