/**
 * Reports a missing segment. Method: a log of 1000 messages of 200 bytes (64 KiB segments, so
 * several of them) is written and closed cleanly, so its sluice.meta says every offset is durable.
 * Then segment files are deleted by hand (the .log file, or the .log with its index files), as an
 * operator or a faulty cleanup might: the first segment, a middle one, or all of them. Each open
 * must fail with CORRUPT naming the segment file, leave the directory as it was, and do the same
 * read-only; `repair` opens what is left. A log whose retention deleted its oldest segments
 * (the log start offset moved with them) must still open, with every remaining record.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Log, type LogOptions } from '../../lib/index';
import { tmpDir } from '../helpers/tmp';
import { readAll, segmentsOf } from '../helpers/crash-files.cjs';
import { openError } from '../helpers/crashed-log';

const OPTIONS: LogOptions = { segmentBytes: 64 * 1024, indexIntervalBytes: 1024, sync: 'none' };
const COUNT = 1000;

function value(i: number): string {
  return `m${i}`.padEnd(200, '.');
}

async function closedLog(options: LogOptions = OPTIONS): Promise<string> {
  const dir = tmpDir();
  const log = await Log.open(dir, options);
  for (let i = 0; i < COUNT; i++) log.append(value(i));
  if (options.retentionBytes !== undefined) log.retain();
  await log.close();
  return dir;
}

async function expectMissing(dir: string, missingPath: string): Promise<void> {
  const before = fs.readdirSync(dir).sort();
  for (const options of [OPTIONS, { ...OPTIONS, readOnly: true }]) {
    const err = await openError(dir, options);
    expect(err.code).toBe('CORRUPT');
    expect(err.path).toBe(missingPath);
    expect(err.message).toContain(missingPath);
    expect(fs.readdirSync(dir).sort()).toEqual(before);
  }
}

describe('a missing segment', () => {
  it('is CORRUPT when the first segment is gone', async () => {
    const dir = await closedLog();
    const segments = segmentsOf(dir);
    expect(segments.length).toBeGreaterThan(2);
    fs.rmSync(segments[0].log);
    await expectMissing(dir, segments[0].log);
    // Its index files left too: the same.
    fs.rmSync(segments[0].index);
    fs.rmSync(segments[0].timeIndex);
    await expectMissing(dir, segments[0].log);
    // repair accepts the loss: the log starts at the first segment left.
    const log = await Log.open(dir, { ...OPTIONS, repair: true });
    expect([log.startOffset, log.endOffset]).toEqual([segments[1].base, COUNT]);
    expect(readAll(log).map((r) => r.value!.toString())).toEqual(
      Array.from({ length: COUNT - segments[1].base }, (_, i) => value(segments[1].base + i)),
    );
    await log.close();
  });

  it('is CORRUPT when a middle segment is gone', async () => {
    const dir = await closedLog();
    const segments = segmentsOf(dir);
    fs.rmSync(segments[1].log);
    const before = fs.readdirSync(dir).sort();
    for (const options of [OPTIONS, { ...OPTIONS, readOnly: true }]) {
      const err = await openError(dir, options);
      expect(err.code).toBe('CORRUPT');
      // The gap shows in the segment before it, which ends where the missing one began.
      expect(err.path).toBe(segments[0].log);
      expect(err.message).toContain(`next segment starts at ${segments[2].base}`);
      expect(fs.readdirSync(dir).sort()).toEqual(before);
    }
  });

  it('is CORRUPT when every segment is gone', async () => {
    const dir = await closedLog();
    for (const s of segmentsOf(dir)) {
      fs.rmSync(s.log);
      fs.rmSync(s.index);
      fs.rmSync(s.timeIndex);
    }
    await expectMissing(dir, path.join(dir, '00000000000000000000.log'));
  });

  it('is not reported after retention deleted the oldest segments', async () => {
    const dir = await closedLog({ ...OPTIONS, retentionBytes: 100_000 });
    const segments = segmentsOf(dir);
    expect(segments[0].base).toBeGreaterThan(0);
    const log = await Log.open(dir, OPTIONS);
    expect(log.recovery.cleanShutdown).toBe(true);
    expect([log.startOffset, log.endOffset]).toEqual([segments[0].base, COUNT]);
    expect(readAll(log).length).toBe(COUNT - segments[0].base);
    await log.close();
    const reader = await Log.open(dir, { ...OPTIONS, readOnly: true });
    expect(reader.startOffset).toBe(segments[0].base);
    await reader.close();
  });
});
