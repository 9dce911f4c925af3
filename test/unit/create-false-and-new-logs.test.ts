/**
 * Whether an open may create a log. A brand-new log reports `created: true` and a clean shutdown
 * (there is nothing to recover); every later open reports `created: false`. With `create: false` a
 * directory without sluice.meta (missing, empty, or a log whose metadata was removed) is CORRUPT
 * naming the metadata file, and nothing is created or changed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Log, SluiceError, type LogOptions } from '../../lib/index';
import { tmpDir } from '../helpers/tmp';
import { openError } from '../helpers/crashed-log';

const OPTIONS: LogOptions = { segmentBytes: 64 * 1024, sync: 'none' };

function expectNotALog(err: SluiceError, dir: string): void {
  expect(err).toBeInstanceOf(SluiceError);
  expect(err.code).toBe('CORRUPT');
  expect(err.path).toBe(path.join(dir, 'sluice.meta'));
  expect(err.message).toContain(path.join(dir, 'sluice.meta'));
  expect(err.message).toContain('is not a log or its metadata was lost');
}

describe('a new log', () => {
  it('reports created and a clean shutdown, and later opens report neither created nor a rescan', async () => {
    const dir = path.join(tmpDir(), 'new');
    const log = await Log.open(dir, OPTIONS);
    expect(log.recovery).toMatchObject({ created: true, cleanShutdown: true, readOnly: false, segmentsScanned: 0, bytesTruncated: 0 });
    log.append('x');
    await log.close();
    const again = await Log.open(dir, OPTIONS);
    expect(again.recovery).toMatchObject({ created: false, cleanShutdown: true });
    await again.close();
    // Lost metadata is not a new log: the segments are rescanned.
    fs.rmSync(path.join(dir, 'sluice.meta'));
    const rescanned = await Log.open(dir, OPTIONS);
    expect(rescanned.recovery).toMatchObject({ created: false, cleanShutdown: false, segmentsScanned: 1 });
    expect(rescanned.endOffset).toBe(1);
    await rescanned.close();
  });
});

describe('create: false', () => {
  it('refuses a missing or empty directory without creating anything', async () => {
    const base = tmpDir();
    const missing = path.join(base, 'missing');
    expectNotALog(await openError(missing, { ...OPTIONS, create: false }), missing);
    expect(fs.existsSync(missing)).toBe(false);
    const empty = path.join(base, 'empty');
    fs.mkdirSync(empty);
    expectNotALog(await openError(empty, { ...OPTIONS, create: false }), empty);
    expect(fs.readdirSync(empty)).toEqual([]);
  });

  it('refuses a log whose metadata was removed, and opens one that has it', async () => {
    const dir = tmpDir();
    const log = await Log.open(dir, { ...OPTIONS, create: false }).catch((e: SluiceError) => e);
    expect(log).toBeInstanceOf(SluiceError);
    const created = await Log.open(dir, { ...OPTIONS, create: true });
    created.append('kept');
    await created.close();
    const reopened = await Log.open(dir, { ...OPTIONS, create: false });
    expect(reopened.recovery.created).toBe(false);
    expect(reopened.read(0)[0].value!.toString()).toBe('kept');
    await reopened.close();

    fs.rmSync(path.join(dir, 'sluice.meta'));
    const before = fs.readdirSync(dir).sort();
    expectNotALog(await openError(dir, { ...OPTIONS, create: false }), dir);
    expect(fs.readdirSync(dir).sort()).toEqual(before);
    // The default still recovers it by rescanning.
    const recovered = await Log.open(dir, OPTIONS);
    expect(recovered.endOffset).toBe(1);
    await recovered.close();
  });
});
