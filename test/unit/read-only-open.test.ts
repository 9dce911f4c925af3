/**
 * A read-only open: a reader beside the writer. It takes no lock, so it opens while another Log
 * holds the directory; it sees the data as of its open and never changes a file; every write
 * throws READ_ONLY; close() only lets go. Crash images are covered by
 * test/crash/read-only-open-changes-nothing.test.ts.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Log, SluiceError, type LogOptions } from '../../lib/index';
import { nextTick, tmpDir } from '../helpers/tmp';

const OPTIONS: LogOptions = { segmentBytes: 64 * 1024, indexIntervalBytes: 1024, sync: 'none' };

/** 200 bytes, so that 600 messages take several 64 KiB segments. */
function value(i: number): string {
  return `m${i}`.padEnd(200, '.');
}

function values(log: Log, from = log.startOffset): string[] {
  const out: string[] = [];
  for (let next = from; next < log.highWatermark; ) {
    const got = log.read(next);
    for (const r of got) out.push(r.value!.toString());
    next = got[got.length - 1].offset + 1;
  }
  return out;
}

function expectReadOnly(fn: () => unknown): void {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(thrown).toBeInstanceOf(SluiceError);
  expect((thrown as SluiceError).code).toBe('READ_ONLY');
}

describe('read-only open', () => {
  it('opens while another Log holds the directory and reads what was there at its open', async () => {
    const dir = tmpDir();
    const writer = await Log.open(dir, OPTIONS);
    for (let i = 0; i < 600; i++) writer.append(value(i));
    await writer.flush();
    await expect(Log.open(dir, OPTIONS)).rejects.toMatchObject({ code: 'LOCKED' });

    const reader = await Log.open(dir, { ...OPTIONS, readOnly: true });
    expect(reader.recovery).toMatchObject({ readOnly: true, created: false, cleanShutdown: false });
    expect([reader.startOffset, reader.endOffset, reader.highWatermark]).toEqual([0, 600, 600]);
    expect(reader.durableOffset).toBe(600);
    expect(reader.stats().segments).toBeGreaterThan(1);
    const read = values(reader);
    expect(read.length).toBe(600);
    read.forEach((v, i) => expect(v).toBe(value(i)));
    expect(reader.offsetForTime(0)).toBe(0);
    const slice = reader.slice(0);
    expect(slice).not.toBeNull();
    fs.closeSync(slice!.fd);

    // The writer goes on; the reader keeps its view, and a new reader sees the new data.
    writer.append('later');
    await writer.flush();
    expect(reader.endOffset).toBe(600);
    const second = await Log.open(dir, { ...OPTIONS, readOnly: true });
    expect(second.endOffset).toBe(601);
    expect(second.read(600)[0].value!.toString()).toBe('later');
    await second.close();
    await reader.close();
    expect(reader.closed).toBe(true);
    expect(() => reader.read(0)).toThrow(/closed/);

    // The writer never noticed.
    writer.append('after the readers');
    await writer.flush();
    await writer.close();
    const again = await Log.open(dir, OPTIONS);
    expect(again.endOffset).toBe(602);
    await again.close();
  });

  it('refuses every write with READ_ONLY', async () => {
    const dir = tmpDir();
    const writer = await Log.open(dir, OPTIONS);
    writer.append('x');
    await writer.close();
    const reader = await Log.open(dir, { ...OPTIONS, readOnly: true, sync: 'always' });
    expect(reader.recovery).toMatchObject({ readOnly: true, cleanShutdown: true, segmentsLoaded: 1 });
    expectReadOnly(() => reader.append('y'));
    expectReadOnly(() => reader.append('y', { key: 'k' }));
    expectReadOnly(() => reader.appendBatch(['y', 'z']));
    expectReadOnly(() => reader.appendBatch([]));
    expectReadOnly(() => reader.seal());
    expectReadOnly(() => reader.retain());
    await expect(reader.flush()).rejects.toMatchObject({ code: 'READ_ONLY' });
    await expect(reader.confirm(0)).resolves.toEqual({ offset: 0, durable: true });
    await nextTick();
    expect(reader.endOffset).toBe(1);
    await reader.close();
    await reader.close();
    // After close a write is CLOSED, as for any closed log.
    expect(() => reader.append('y')).toThrow(expect.objectContaining({ code: 'CLOSED' }));
  });

  it('never creates anything: a missing directory or an empty one is an error', async () => {
    const base = tmpDir();
    const missing = path.join(base, 'missing');
    await expect(Log.open(missing, { readOnly: true })).rejects.toMatchObject({ code: 'IO', errno: expect.any(Number) });
    expect(fs.existsSync(missing)).toBe(false);

    const empty = path.join(base, 'empty');
    fs.mkdirSync(empty);
    const err = await Log.open(empty, { readOnly: true }).then(
      () => null,
      (e: SluiceError) => e,
    );
    expect(err).toBeInstanceOf(SluiceError);
    expect(err!.code).toBe('CORRUPT');
    expect(err!.path).toBe(path.join(empty, 'sluice.meta'));
    expect(fs.readdirSync(empty)).toEqual([]);

    // A closed log opened read-only gains no file (not even the lock file) and loses none.
    const dir = path.join(base, 'log');
    const writer = await Log.open(dir, OPTIONS);
    writer.append('x');
    await writer.close();
    fs.rmSync(path.join(dir, '.lock'));
    const before = fs.readdirSync(dir).sort();
    const reader = await Log.open(dir, { readOnly: true });
    expect(reader.endOffset).toBe(1);
    await reader.close();
    expect(fs.readdirSync(dir).sort()).toEqual(before);
  });

  it('validates readOnly and create like the other options', async () => {
    const dir = tmpDir();
    await expect(Log.open(dir, { readOnly: 'yes' as unknown as boolean })).rejects.toThrow(TypeError);
    await expect(Log.open(dir, { create: 1 as unknown as boolean })).rejects.toThrow(/create must be a boolean/);
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});
