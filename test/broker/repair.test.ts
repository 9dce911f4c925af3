/**
 * Broker.open with `repair`: a partition with a damaged batch in the middle of its data fails its
 * reads with CORRUPT (path and position); with repair: true it is truncated there, as
 * Log's repair does, `broker.recovery` reports what was cut, the messages before the damage are
 * still delivered, and the group progress past the cut comes down to it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../lib/index';
import { tmpDir } from '../helpers/tmp';
import { closeBroker, drain, openBroker, SMALL, text } from './broker-fixtures';

/** Start positions of the batches in a segment file (batchLength is at +8, big-endian). */
function batchPositions(file: string): number[] {
  const buf = fs.readFileSync(file);
  const out: number[] = [];
  for (let pos = 0; pos + 61 <= buf.length; ) {
    const len = buf.readInt32BE(pos + 8);
    if (len === 0) break;
    out.push(pos);
    pos += 12 + len;
  }
  return out;
}

describe('Broker.open({repair})', () => {
  it('refuses mid-log corruption, and with repair cuts the partition there and says so', async () => {
    const dir = tmpDir('sluice-broker-');
    let b = await openBroker({}, dir);
    await b.createTopic('t', { ...SMALL, partitions: 2, sync: 'always' });
    for (let i = 0; i < 20; i++) await b.send('t', { value: `m${i}`, partition: 0 }); // 20 batches
    await b.send('t', { value: 'other', partition: 1 });
    const c = b.consumer({ group: 'g', topics: 't' });
    expect(await drain(c)).toHaveLength(21);
    await c.close();
    await closeBroker(b);

    const segment = path.join(dir, 'topics', 't', '0', '00000000000000000000.log');
    const positions = batchPositions(segment);
    expect(positions).toHaveLength(20);
    const fd = fs.openSync(segment, 'r+');
    const byte = Buffer.alloc(1);
    fs.readSync(fd, byte, 0, 1, positions[10] + 70);
    byte[0] ^= 0x10;
    fs.writeSync(fd, byte, 0, 1, positions[10] + 70);
    fs.closeSync(fd);

    // After a clean shutdown the segment is trusted at open (its CRCs are checked on first read):
    // the damage shows when a consumer reaches it.
    b = await openBroker({}, dir);
    const reader = b.consumer({ group: 'reader', topics: 't' });
    await expect(drain(reader)).rejects.toMatchObject({ code: ErrorCode.CORRUPT, path: segment, position: positions[10] });
    await closeBroker(b);
    b = await openBroker({ repair: true }, dir);
    const report = b.recovery.partitions;
    expect(report.map((p) => [p.topic, p.partition, p.endOffset])).toEqual([
      ['t', 0, 10],
      ['t', 1, 1],
    ]);
    expect(report[0].bytesTruncated).toBeGreaterThan(0);
    expect(report[1].bytesTruncated).toBe(0);
    expect(b.describeGroup('g').partitions[0].committedOffset).toBe(10);
    const again = b.consumer({ group: 'fresh', topics: 't' });
    expect((await drain(again)).filter((m) => m.partition === 0).map(text)).toEqual(Array.from({ length: 10 }, (_, i) => `m${i}`));
  });
});
