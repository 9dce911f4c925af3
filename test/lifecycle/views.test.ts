/**
 * Record views outlive what they came from. read() hands out Buffers that are views of the
 * segment's mapping; the mapping stays while any view lives, so a view must keep its bytes after
 * the log is closed, after its segment file was deleted by retention, after the log was reopened
 * and written to, and after the whole directory was removed. Method: keep views, do each of those
 * things, and compare every kept byte with what was appended.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Buffer } from 'node:buffer';
import { afterEach, describe, expect, it } from 'vitest';
import { Log, type LogOptions, type LogRecord } from '../../lib/index';
import { nextTick, tmpDir } from '../helpers/tmp';

const open: Log[] = [];
afterEach(async () => {
  for (const log of open.splice(0)) await log.close();
});

async function openLog(dir: string, options: LogOptions = {}): Promise<Log> {
  const log = await Log.open(dir, { segmentBytes: 65536, ...options });
  open.push(log);
  return log;
}

const valueOf = (o: number): Buffer => Buffer.alloc(120, o & 0xff).fill(`value-${o}|`, 0, 12 + String(o).length);
const keyOf = (o: number): string => `key-${o}`;

async function appendRange(log: Log, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const o = log.endOffset;
    log.append(valueOf(o), { key: keyOf(o), headers: [['h', `header-${o}`]] });
  }
  await log.visible();
}

function readAll(log: Log, from = log.startOffset, to = log.highWatermark): LogRecord[] {
  const out: LogRecord[] = [];
  for (let o = from; o < to; ) {
    const rs = log.read(o);
    out.push(...rs);
    o = rs[rs.length - 1].offset + 1;
  }
  return out;
}

function expectIntact(views: LogRecord[]): void {
  expect(views.length).toBeGreaterThan(0);
  for (const r of views) {
    expect(r.value!.equals(valueOf(r.offset)), `value of ${r.offset}`).toBe(true);
    expect(r.key!.toString()).toBe(keyOf(r.offset));
    expect(r.headers[0].value!.toString()).toBe(`header-${r.offset}`);
  }
}

describe('record views', () => {
  it('stay readable after the log is closed', async () => {
    const dir = tmpDir();
    const log = await openLog(dir);
    await appendRange(log, 1500);
    expect(log.stats().segments).toBeGreaterThan(1);
    const views = readAll(log);
    await log.close();
    expectIntact(views);
  });

  it('stay readable after a reopen rewrites the segment they came from', async () => {
    const dir = tmpDir();
    const log = await openLog(dir);
    await appendRange(log, 200);
    const views = readAll(log);
    await log.close();
    // Another capacity makes the reopen truncate and re-extend the active segment file.
    const again = await openLog(dir, { segmentBytes: 131072 });
    await appendRange(again, 2000);
    expectIntact(views);
    await again.close();
    expectIntact(views);
  });

  it('stay readable after retention deleted their segment', async () => {
    const dir = tmpDir();
    const log = await openLog(dir, { retentionBytes: 65536 });
    await appendRange(log, 300);
    const first = readAll(log);
    expect(first[0].offset).toBe(0);
    await appendRange(log, 2000);
    log.retain(Date.now());
    log.append(valueOf(log.endOffset), { key: keyOf(log.endOffset), headers: [['h', `header-${log.endOffset}`]] });
    await log.flush();
    expect(log.startOffset).toBeGreaterThan(first[first.length - 1].offset);
    expect(fs.existsSync(path.join(dir, '00000000000000000000.log'))).toBe(false);
    expectIntact(first);
    const later = readAll(log);
    await log.close();
    expectIntact(first);
    expectIntact(later);
  });

  it('stay readable after the directory was removed', async () => {
    const dir = tmpDir();
    const log = await openLog(dir);
    await appendRange(log, 1200);
    const views = readAll(log);
    await log.close();
    open.splice(open.indexOf(log), 1);
    fs.rmSync(dir, { recursive: true, force: true });
    expectIntact(views);
  });

  it('never carry a write into the file', async () => {
    const dir = tmpDir();
    const log = await openLog(dir);
    await appendRange(log, 10);
    const [r] = log.read(3, { maxRecords: 1 });
    r.value!.fill(0xee);
    r.key!.fill(0x41);
    await log.close();
    const again = await openLog(dir);
    expectIntact(readAll(again));
    const file = fs.readFileSync(path.join(dir, '00000000000000000000.log'));
    expect(file.includes(valueOf(3))).toBe(true);
  });
});
