/**
 * `sluice inspect` prints what is on disk, the way Kafka's dump-log tool does: plain batches with
 * their records, a gzip batch decompressed, a transaction's records and its commit and abort
 * markers (control batches) with the aborted-transactions index entry, the offset and time
 * indexes, a batch whose CRC is broken flagged, and the preallocated tail.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { Broker } from '../../lib/broker/broker';
import { Log } from '../../lib/storage/log';
import { encodeBatch } from '../helpers/kafka-batch-encoder';
import { sluice } from '../helpers/sluice-cli';
import { tmpDir } from '../helpers/tmp';

describe('sluice inspect', () => {
  it('batches, records, markers, compressed batches and index entries of a partition', async () => {
    const data = tmpDir('sluice-inspect-');
    const b = await Broker.open(data);
    await b.createTopic('t', { segmentBytes: 1 << 20 });
    await b.send('t', { value: 'plain', key: 'k', headers: { h: 'v' } });
    await b.transaction(async (tx) => void (await tx.send('t', { value: 'committed' })));
    await b.transaction(async (tx) => {
      await tx.send('t', { value: 'aborted' });
      await tx.abort();
    });
    await b.close();
    const log = await Log.open(path.join(data, 'topics', 't', '0'));
    log.appendRaw(encodeBatch([{ value: 'zipped-1' }, { value: 'zipped-2' }], { codec: 1, compress: (r) => zlib.gzipSync(r) }));
    await log.close();

    const out = await sluice(['inspect', '--data', data, '--topic', 't', '--partition', '0', '--records', '--json']);
    expect(out.code).toBe(0);
    const dumps = JSON.parse(out.stdout);
    const segment = dumps.find((d: { kind: string }) => d.kind === 'segment');
    const batches = segment.batches as { control: boolean; transactional: boolean; marker?: string; codec: string; crcValid: boolean; records?: { value: string }[] }[];
    expect(batches.every((x) => x.crcValid)).toBe(true);
    expect(batches.map((x) => (x.control ? `marker:${x.marker}` : `${x.codec}${x.transactional ? ' txn' : ''}:${x.records!.map((r) => r.value).join(',')}`))).toEqual([
      'none:plain',
      'none txn:committed',
      'marker:commit',
      'none txn:aborted',
      'marker:abort',
      'gzip:zipped-1,zipped-2',
    ]);
    expect(segment.tail.zeros).toBe(true);
    const txn = dumps.find((d: { kind: string }) => d.kind === 'aborted transactions index');
    expect(txn.entries).toHaveLength(1);
    expect(txn.entries[0]).toMatchObject({ version: 0, firstOffset: 3, lastOffset: 4 });
    expect(dumps.map((d: { kind: string }) => d.kind)).toContain('time index');

    const text = await sluice(['inspect', path.join(data, 'topics', 't', '0'), '--records']);
    expect(text.stdout).toContain('endTxnMarker: ABORT');
    expect(text.stdout).toContain('compresscodec: gzip');
    expect(text.stdout).toContain('| offset: 0 timestamp:');
    expect(text.stdout).toContain('key: "k" value: "plain" headers: [h="v"]');
  });

  it('flags a batch whose CRC is broken, and refuses what it cannot read', async () => {
    const dir = tmpDir('sluice-inspect-');
    const log = await Log.open(dir, { segmentBytes: 1 << 20 });
    log.appendBatch(['one', 'two']);
    await log.close();
    const file = path.join(dir, fs.readdirSync(dir).find((f) => f.endsWith('.log'))!);
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, Buffer.from([0xff]), 0, 1, 70); // a byte inside the records
    fs.closeSync(fd);
    const out = await sluice(['inspect', file]);
    expect(out.code).toBe(0);
    expect(out.stdout).toContain('isValid: false');
    expect(out.stdout).toContain('PROBLEM: CRC mismatch');
    expect((await sluice(['inspect'])).code).toBe(2);
    expect((await sluice(['inspect', path.join(dir, 'nope')])).code).toBe(1);
  });
});
