/**
 * Broker.open(dir, {readOnly: true}): takes no lock (it opens beside a running broker), changes
 * no byte on disk (every file hashed before and after), describes topics and groups, refuses
 * everything that would write with READ_ONLY, and reports what a normal open would do. Also: a
 * partition whose files were removed is CORRUPT, not silently recreated empty.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Broker, ErrorCode } from '../../lib/index';
import { tmpDir } from '../helpers/tmp';
import { closeBroker, drain, openBroker, SMALL, values } from './broker-fixtures';

function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) {
        out.set(`${p}/`, '');
        walk(p);
      } else out.set(p, `${fs.statSync(p).size}:${createHash('sha256').update(fs.readFileSync(p)).digest('hex')}`);
    }
  };
  walk(dir);
  return out;
}

describe('read-only broker', () => {
  it('opens beside a writer, describes what is there, refuses writes and changes nothing', async () => {
    const dir = tmpDir('sluice-broker-');
    const writer = await openBroker({}, dir);
    await writer.createTopic('t', { ...SMALL, partitions: 2, sync: 'always' });
    await writer.sendBatch('t', values(10));
    const c = writer.consumer({ group: 'g', topics: 't', autoCommit: false });
    await drain(c);
    await c.commit([{ topic: 't', partition: 0, offset: 2 }]);
    await c.close();
    const before = snapshot(dir);
    const reader = await Broker.open(dir, { readOnly: true });
    try {
      expect(reader.listTopics()).toEqual(['t']);
      expect(reader.describeTopic('t').messages).toBe(10);
      expect(reader.describeGroup('g').partitions.map((p) => p.committedOffset)).toEqual([2, 0]);
      expect(reader.recovery.readOnly).toBe(true);
      await expect(reader.createTopic('u')).rejects.toMatchObject({ code: ErrorCode.READ_ONLY });
      await expect(reader.deleteTopic('t')).rejects.toMatchObject({ code: ErrorCode.READ_ONLY });
      await expect(reader.send('t', { value: 'x' })).rejects.toMatchObject({ code: ErrorCode.READ_ONLY });
      expect(() => reader.consumer({ group: 'g', topics: 't' })).toThrow(expect.objectContaining({ code: ErrorCode.READ_ONLY }));
      await expect(reader.deleteGroup('g')).rejects.toMatchObject({ code: ErrorCode.READ_ONLY });
    } finally {
      await reader.close();
    }
    expect(snapshot(dir)).toEqual(before);
    await writer.send('t', { value: 'still writable' }); // the writer kept its lock and works
  });

  it('leaves a crashed creation and the trash alone, and says what a normal open would remove', async () => {
    const dir = tmpDir('sluice-broker-');
    const b = await openBroker({}, dir);
    await b.createTopic('t', SMALL);
    await closeBroker(b);
    fs.mkdirSync(path.join(dir, 'topics', 'half', '0'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'topics', 'half', '.creating'), '');
    const before = snapshot(dir);
    const reader = await Broker.open(dir, { readOnly: true });
    expect(reader.recovery.halfMadeTopics).toEqual([path.join(dir, 'topics', 'half')]);
    expect(reader.listTopics()).toEqual(['t']);
    await reader.close();
    expect(snapshot(dir)).toEqual(before);
  });

  it('creates nothing in a directory that is not a broker', async () => {
    const dir = path.join(tmpDir('sluice-broker-'), 'nothing-here');
    await expect(Broker.open(dir, { readOnly: true })).rejects.toMatchObject({ code: ErrorCode.CORRUPT });
    expect(fs.existsSync(dir)).toBe(false);
  });

  it('a partition whose files were removed is CORRUPT, not recreated empty', async () => {
    const dir = tmpDir('sluice-broker-');
    const b = await openBroker({}, dir);
    await b.createTopic('t', { ...SMALL, partitions: 2 });
    await b.sendBatch('t', values(4));
    await closeBroker(b);
    const partition = path.join(dir, 'topics', 't', '1');
    for (const f of fs.readdirSync(partition)) fs.rmSync(path.join(partition, f));
    await expect(openBroker({}, dir)).rejects.toMatchObject({ code: ErrorCode.CORRUPT, path: path.join(partition, 'sluice.meta') });
    await expect(Broker.open(dir, { readOnly: true })).rejects.toMatchObject({ code: ErrorCode.CORRUPT });
    expect(fs.readdirSync(partition)).toEqual([]);
  });
});
