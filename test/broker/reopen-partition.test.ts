/**
 * Broker.reopenPartition: a partition whose Log failed (fail-stop) is reopened in place. The
 * scenario needs fault injection, so it runs in a child process started with
 * SLUICE_FAULT_INJECTION=1 (test/helpers/reopen-partition-child.cjs), which arms a failed fsync on
 * one partition's directory, reopens it (once with its files away, so that the open fails, then
 * with them back after zeroing the batch whose fsync failed, as a disk that lost the page would
 * leave it) and reports what it saw as JSON. This file asserts on that report.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Broker, ErrorCode } from '../../lib/index';
import { tmpDir } from '../helpers/tmp';
import { closeBroker, openBroker } from './broker-fixtures';

const CHILD = path.join(__dirname, '..', 'helpers', 'reopen-partition-child.cjs');

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function runChild(dir: string): Promise<any> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, dir], { env: { ...process.env, SLUICE_FAULT_INJECTION: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`child exited with ${code}: ${err}`))));
  });
}

describe('Broker.reopenPartition', () => {
  it('reopens a failed partition in place: offline while its open fails, then writable, groups brought down to what survived', async () => {
    const r = await runChild(path.join(tmpDir('sluice-reopen-'), 'broker'));
    expect(r.consumedBefore).toEqual(['f0', 'f1', 'f2', 'f3', 'f4']);
    // Nothing to do for a healthy partition; a partition that does not exist is a RangeError.
    expect(r.notFailed).toEqual({ value: null });
    expect(r.badPartition.error).toMatchObject({ name: 'RangeError' });

    // Fail-stop on the one partition; the other topic keeps taking writes.
    expect(r.failedSend.error).toMatchObject({ code: ErrorCode.IO, message: expect.stringContaining('Input/output error') });
    expect(r.sendAfterFailure.error).toMatchObject({ code: ErrorCode.READ_ONLY });
    expect(r.sturdySend.value).toMatchObject({ topic: 'sturdy', offset: 0, durable: true });
    expect(r.failedState).toMatchObject({ failure: expect.stringContaining('fdatasync'), endOffset: 6 });
    expect(r.consumedWhileFailed).toEqual(['unacked']); // written before the fsync failed: visible

    // The open fails (files gone): the partition is offline, says why, and still describes itself.
    expect(r.reopenWithoutFiles.error).toMatchObject({ code: ErrorCode.CORRUPT });
    expect(r.offlineState).toMatchObject({ failure: expect.stringContaining('could not be reopened'), endOffset: 6, messagesIn: 6 });
    expect(r.sendWhileOffline.error).toMatchObject({ code: ErrorCode.READ_ONLY, message: expect.stringContaining('could not be reopened') });
    expect(r.describeWhileOffline).toEqual({ value: 2 });
    expect(r.reopenAllWithoutFiles).toEqual([{ topic: 'fragile', partition: 0, error: expect.objectContaining({ code: ErrorCode.CORRUPT }) }]);

    // Files back, minus the batch whose fsync failed (offset 5): the reopen ends the log before it.
    expect(r.zeroedBaseOffset).toBe(5);
    expect(r.reopened.value).toEqual({
      topic: 'fragile',
      partition: 0,
      failure: expect.stringContaining('fdatasync failed: Input/output error'),
      highWatermarkBefore: 6,
      durableOffsetBefore: 5,
      endOffset: 5,
      lostVisible: 1,
    });
    // Counters never go back (messagesIn counts what was appended), the failure is gone.
    expect(r.reopenedState).toMatchObject({ failure: null, endOffset: 5, messagesIn: 6, bytesIn: r.failedState.bytesIn });
    expect(r.reopenAgain).toEqual({ value: null });
    expect(r.reopenAll).toEqual({ value: [] });
    // The group had committed 6 (past the lost record): brought down to 5, where a member resumes.
    expect(r.committedAfterReopen).toBe(5);
    expect(r.sendAfterReopen.value).toMatchObject({ offset: 5, durable: true });
    expect(r.consumedAfterReopen).toEqual(['after-reopen']);
    expect(r.finalState).toMatchObject({ failure: null, endOffset: 6, messagesIn: 7 });
    expect(r.stored).toEqual(['f0', 'f1', 'f2', 'f3', 'f4', 'after-reopen']);
  });

  it('is refused by a read-only broker and by a closed one', async () => {
    const dir = tmpDir('sluice-reopen-');
    const writer = await openBroker({}, dir);
    await writer.createTopic('t', { segmentBytes: 1 << 20 });
    await closeBroker(writer);
    const reader = await Broker.open(dir, { readOnly: true });
    await expect(reader.reopenPartition('t', 0)).rejects.toMatchObject({ code: ErrorCode.READ_ONLY });
    await expect(reader.reopenFailedPartitions()).rejects.toMatchObject({ code: ErrorCode.READ_ONLY });
    await reader.close();
    const b = await openBroker({}, dir);
    await expect(b.reopenPartition('nope', 0)).rejects.toMatchObject({ code: ErrorCode.UNKNOWN_TOPIC });
    await expect(b.reopenFailedPartitions()).resolves.toEqual([]);
    await closeBroker(b);
    await expect(b.reopenPartition('t', 0)).rejects.toMatchObject({ code: ErrorCode.CLOSED });
  });
});
