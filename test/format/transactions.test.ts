/**
 * Transactions in the Log's files, read back by the independent decoder (./kafka-decoder.ts) as
 * Kafka's tools would: transactional batches carry their producer and attributes bit 4, markers
 * are control batches (bits 4 and 5) of one record whose key is [version 0, type] and value
 * [version 0, coordinator epoch], and the .txnindex file holds Kafka's 34-byte entries. Through
 * the Log: readRecords passes over markers and aborted transactions (nextOffset moves on), stops
 * at upTo, and abortedTransactions lists what a Kafka fetch reports; all of it survives a reopen.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Log } from '../../lib/index';
import { tmpDir } from '../helpers/tmp';
import { decodeLogFile, segmentName } from './kafka-decoder';

const open: Log[] = [];
afterEach(async () => {
  for (const log of open.splice(0)) if (!log.closed) await log.close();
});

async function openLog(dir: string): Promise<Log> {
  const log = await Log.open(dir, { segmentBytes: 1 << 20, sync: 'always' });
  open.push(log);
  return log;
}

function values(log: Log, from = 0, upTo?: number): { values: string[]; next: number } {
  const out: string[] = [];
  let next = from;
  for (let guard = 0; next < log.highWatermark && guard < 10_000; guard++) {
    const r = log.readRecords(next, upTo === undefined ? { maxRecords: 2 } : { maxRecords: 2, upTo });
    if (r.records.length === 0 && r.nextOffset === next) break;
    for (const rec of r.records) out.push(rec.value!.toString());
    next = r.nextOffset;
  }
  return { values: out, next };
}

function parseTxnIndex(buf: Buffer) {
  const out = [];
  for (let p = 0; p + 34 <= buf.length; p += 34) {
    out.push({
      version: buf.readInt16BE(p),
      producerId: Number(buf.readBigInt64BE(p + 2)),
      firstOffset: Number(buf.readBigInt64BE(p + 10)),
      lastOffset: Number(buf.readBigInt64BE(p + 18)),
      lastStableOffset: Number(buf.readBigInt64BE(p + 26)),
    });
  }
  return out;
}

describe('transactions in the log', () => {
  it('writes Kafka transactional batches, markers and the aborted-transaction index', async () => {
    const dir = tmpDir();
    const log = await openLog(dir);
    log.append('plain-0');
    const a = log.appendBatch(['a-0', 'a-1', { value: 'a-2', key: 'k' }], { producerId: 11, producerEpoch: 2, baseSequence: 0, transactional: true });
    const b = log.appendBatch(['b-0', 'b-1'], { producerId: 12, producerEpoch: 0, baseSequence: 0, transactional: true });
    log.append('plain-1');
    const commit = log.appendMarker({ producerId: 11, producerEpoch: 2, commit: true, coordinatorEpoch: 5 });
    const abort = log.appendMarker({ producerId: 12, commit: false, firstOffset: b, lastStableOffset: b });
    log.append('plain-2');
    await log.confirm(log.endOffset - 1);
    expect([a, b, commit, abort]).toEqual([1, 4, 7, 8]);

    const file = decodeLogFile(fs.readFileSync(path.join(dir, segmentName(0, '.log'))));
    const batches = file.batches.map((x) => ({ base: x.baseOffset, attributes: x.attributes, producerId: x.producerId, epoch: x.producerEpoch, sequence: x.baseSequence, count: x.recordsCount, crcOk: x.crc === x.computedCrc }));
    expect(batches).toEqual([
      { base: 0, attributes: 0, producerId: -1, epoch: -1, sequence: -1, count: 1, crcOk: true },
      { base: 1, attributes: 0x10, producerId: 11, epoch: 2, sequence: 0, count: 3, crcOk: true },
      { base: 4, attributes: 0x10, producerId: 12, epoch: 0, sequence: 0, count: 2, crcOk: true },
      { base: 6, attributes: 0, producerId: -1, epoch: -1, sequence: -1, count: 1, crcOk: true },
      { base: 7, attributes: 0x30, producerId: 11, epoch: 2, sequence: -1, count: 1, crcOk: true },
      { base: 8, attributes: 0x30, producerId: 12, epoch: 0, sequence: -1, count: 1, crcOk: true },
      { base: 9, attributes: 0, producerId: -1, epoch: -1, sequence: -1, count: 1, crcOk: true },
    ]);
    const commitRecord = file.batches[4].records[0];
    expect([...commitRecord.key!]).toEqual([0, 0, 0, 1]); // version 0, type 1 = commit
    expect([...commitRecord.value!]).toEqual([0, 0, 0, 0, 0, 5]); // version 0, coordinator epoch 5
    expect([...file.batches[5].records[0].key!]).toEqual([0, 0, 0, 0]); // type 0 = abort

    expect(parseTxnIndex(fs.readFileSync(path.join(dir, '00000000000000000000.txnindex')))).toEqual([{ version: 0, producerId: 12, firstOffset: 4, lastOffset: 8, lastStableOffset: 4 }]);
    expect(log.abortedTransactions(0, 100)).toEqual([{ producerId: 12, firstOffset: 4, lastOffset: 8, lastStableOffset: 4 }]);
    expect(log.abortedTransactions(9, 100)).toEqual([]);
  });

  it('reads committed: markers and aborted transactions are passed over, upTo stops a read', async () => {
    const dir = tmpDir();
    const log = await openLog(dir);
    log.append('p0');
    const a = log.appendBatch(['a0', 'a1'], { producerId: 1, producerEpoch: 0, transactional: true });
    const b = log.appendBatch(['b0', 'b1', 'b2'], { producerId: 2, producerEpoch: 0, transactional: true });
    log.append('p1');
    await log.visible();
    // Neither transaction is decided: a reader held at the first open one sees only what is before.
    expect(values(log, 0, a)).toEqual({ values: ['p0'], next: a });
    log.appendMarker({ producerId: 2, commit: false, firstOffset: b });
    log.appendMarker({ producerId: 1, commit: true });
    log.append('p2');
    await log.confirm(log.endOffset - 1);
    expect(values(log)).toEqual({ values: ['p0', 'a0', 'a1', 'p1', 'p2'], next: log.endOffset });
    // From inside the aborted run: no record, but the read moves on.
    const r = log.readRecords(b + 1, { maxRecords: 1 });
    expect(r.records.map((x) => x.value!.toString())).toEqual(['p1']);
    expect(log.read(b, { maxRecords: 1 })[0].offset).toBe(b + 3);
    await log.close();
    const again = await openLog(dir);
    expect(values(again)).toEqual({ values: ['p0', 'a0', 'a1', 'p1', 'p2'], next: again.endOffset });
    expect(again.abortedTransactions(0, again.endOffset)).toHaveLength(1);
  });

  it('refuses bad producer and marker fields with clear errors', async () => {
    const log = await openLog(tmpDir());
    expect(() => log.appendBatch(['x'], { producerId: -1, producerEpoch: 0 })).toThrow(RangeError);
    expect(() => log.appendBatch(['x'], { producerId: 1, producerEpoch: 40000 })).toThrow(/producerEpoch/);
    expect(() => log.appendBatch(['x'], { producerId: 1, producerEpoch: 0, colour: 1 } as never)).toThrow(/unknown/);
    expect(() => log.appendMarker({ producerId: 1 } as never)).toThrow(/commit/);
    expect(() => log.appendMarker({ producerId: 1.5, commit: true })).toThrow(RangeError);
    expect(() => log.readRecords(0, { upTo: -1 })).toThrow(RangeError);
    expect(log.endOffset).toBe(0);
  });
});
