/**
 * Adding partitions to a topic: the new partitions take sends at once and survive a restart; the
 * groups tracking the topic (offset and ack models, and Kafka groups' committed offsets) consume
 * them from their start, shared among the members; a growth that crashed before its commit is
 * undone at open, and one whose group state was not yet written is completed at open.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrorCode, Log, type AckMessage } from '../../lib/index';
import { tmpDir } from '../helpers/tmp';
import { closeBroker, drain, openBroker, SMALL, text } from './broker-fixtures';

describe('addPartitions', () => {
  it('adds partitions that take sends and survive a restart', async () => {
    const dir = tmpDir('sluice-broker-');
    let b = await openBroker({}, dir);
    await b.createTopic('t', { ...SMALL, partitions: 2 });
    const d = await b.addPartitions('t', 4);
    expect(d.config.partitions).toBe(4);
    expect(d.partitions.map((p) => p.partition)).toEqual([0, 1, 2, 3]);
    await b.send('t', { value: 'on-3', partition: 3 });
    await expect(b.addPartitions('t', 4)).rejects.toThrow(RangeError);
    await expect(b.addPartitions('t', 2000)).rejects.toThrow(RangeError);
    await expect(b.addPartitions('nope', 3)).rejects.toMatchObject({ code: ErrorCode.UNKNOWN_TOPIC });
    await closeBroker(b);
    b = await openBroker({}, dir);
    expect(b.describeTopic('t').config.partitions).toBe(4);
    expect(b.describeTopic('t').partitions[3].endOffset).toBe(1);
    await closeBroker(b);
  });

  it('groups consume the new partitions from their start, shared among their members', async () => {
    const b = await openBroker();
    await b.createTopic('t', { ...SMALL, partitions: 1 });
    const offsetMembers = [b.consumer({ group: 'o', topics: 't' }), b.consumer({ group: 'o', topics: 't' })];
    const acker = b.consumer({ group: 'a', topics: 't', model: 'ack' });
    await b.send('t', { value: 'before', partition: 0 });
    await b.addPartitions('t', 3);
    await b.send('t', { value: 'p1', partition: 1 });
    await b.send('t', { value: 'p2', partition: 2 });
    const got = (await Promise.all(offsetMembers.map((c) => drain(c)))).map((ms) => ms.map(text).sort());
    expect(got.flat().sort()).toEqual(['before', 'p1', 'p2']);
    expect(offsetMembers.map((c) => c.assignment().length).sort()).toEqual([1, 2]);
    const acked = (await drain(acker)) as AckMessage[];
    for (const m of acked) await m.ack();
    expect(acked.map(text).sort()).toEqual(['before', 'p1', 'p2']);
    expect(b.describeGroup('a').partitions.map((p) => p.committedOffset)).toEqual([1, 1, 1]);
    await b.groupOffsets.commit('kafka', [{ topic: 't', partition: 2, offset: 1, metadata: null }]);
    expect(b.groupOffsets.fetch('kafka', 't', [2])).toEqual([{ offset: 1, metadata: '' }]);
    for (const c of [...offsetMembers, acker]) await c.close();
    await closeBroker(b);
  });

  it('undoes a growth that crashed before its commit, and completes one the group state missed', async () => {
    const dir = tmpDir('sluice-broker-');
    let b = await openBroker({}, dir);
    await b.createTopic('t', { ...SMALL, partitions: 2 });
    const c = b.consumer({ group: 'g', topics: 't' });
    await c.close();
    await closeBroker(b);
    const topicDir = path.join(dir, 'topics', 't');
    // Crashed before the commit: the marker and a partition directory topic.json does not count.
    fs.writeFileSync(path.join(topicDir, '.growing'), '');
    await (await Log.open(path.join(topicDir, '2'), SMALL)).close();
    // ... in the middle of writing topic.json's replacement.
    fs.writeFileSync(path.join(topicDir, 'topic.json.tmp'), '{"half');
    b = await openBroker({}, dir);
    expect(b.describeTopic('t').config.partitions).toBe(2);
    await closeBroker(b);
    expect(fs.readdirSync(topicDir).sort()).toEqual(['0', '1', 'topic.json']);
    // Committed, but the group state never heard: open gives the group the new partition.
    const meta = JSON.parse(fs.readFileSync(path.join(topicDir, 'topic.json'), 'utf8'));
    meta.config.partitions = 3;
    await (await Log.open(path.join(topicDir, '2'), SMALL)).close();
    fs.writeFileSync(path.join(topicDir, 'topic.json'), JSON.stringify(meta));
    b = await openBroker({}, dir);
    expect(b.describeGroup('g').partitions.map((p) => [p.partition, p.committedOffset])).toEqual([
      [0, 0],
      [1, 0],
      [2, 0],
    ]);
    await closeBroker(b);
  });

  it('closes only once a growth in progress is done, which then holds', async () => {
    const dir = tmpDir('sluice-broker-');
    let b = await openBroker({}, dir);
    await b.createTopic('t', { ...SMALL, partitions: 1 });
    const growth = b.addPartitions('t', 12);
    const closed = closeBroker(b);
    const outcome = await growth.then(() => 'added', (e: Error) => e.message);
    await closed;
    b = await openBroker({}, dir);
    const partitions = b.describeTopic('t').config.partitions;
    // Either it committed (and said so) or it did not happen at all: never half.
    expect(outcome === 'added' ? partitions === 12 : partitions === 1).toBe(true);
    expect(fs.readdirSync(path.join(dir, 'topics', 't')).filter((n) => /^\d+$/.test(n))).toHaveLength(partitions);
    await closeBroker(b);
  });
});
