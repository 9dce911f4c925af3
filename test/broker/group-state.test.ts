/**
 * Group state survives restarts: the delivery model, committed offsets, acks above the committed
 * offset and delivery counts are replayed from the group-state log; the log is checkpointed into a
 * new generation (a snapshot, then operations) so replay stays bounded, and a checkpoint that
 * crashed before its snapshot was complete is ignored in favour of the previous generation.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { ErrorCode, Log, type AckMessage } from '../../lib/index';
import { GroupState } from '../../lib/broker/group/group-state';
import { tmpDir } from '../helpers/tmp';
import { closeBroker, drain, eventually, openBroker, SMALL, text, values } from './broker-fixtures';

function generations(dir: string): string[] {
  return fs.readdirSync(path.join(dir, 'groups')).sort();
}

/** A broker in `dir` whose ack group "q" acked 3 of 5 messages of topic "t", closed; returns its generation's name. */
async function ackThreeOfFive(dir: string): Promise<string> {
  const b = await openBroker({}, dir);
  await b.createTopic('t', SMALL);
  await b.sendBatch('t', values(5));
  const c = b.consumer({ group: 'q', topics: 't', model: 'ack' });
  for (const m of (await c.poll(3)) as AckMessage[]) await m.ack();
  await closeBroker(b);
  return generations(dir)[0];
}

/** A generation holding only the first chunk of a snapshot, as a crashed checkpoint leaves it. */
async function writePartialGeneration(dir: string, generation: number): Promise<void> {
  const log = await Log.open(path.join(dir, 'groups', String(generation).padStart(20, '0')), { segmentBytes: 65536 });
  log.append(new Packr({ useRecords: false }).pack([2, 0, Buffer.from('partial snapshot')]));
  await log.close();
}

describe('group state', () => {
  it('keeps acks above the committed offset and delivery counts across a restart', async () => {
    const dir = tmpDir('sluice-broker-');
    let b = await openBroker({}, dir);
    await b.createTopic('t', SMALL);
    await b.sendBatch('t', values(8));
    let c = b.consumer({ group: 'q', topics: 't', model: 'ack' });
    const ms = await c.poll(8);
    await ms[1].ack();
    await ms[4].ack();
    ms[3].nack();
    const [m3] = await c.poll(1);
    expect(m3.deliveryCount).toBe(2);
    await closeBroker(b); // m0, m2, m3 (delivered twice), m5..m7 never acked
    b = await openBroker({}, dir);
    expect(b.describeGroup('q')).toMatchObject({ model: 'ack', partitions: [expect.objectContaining({ committedOffset: 0, ackedAhead: 2 })] });
    c = b.consumer({ group: 'q', topics: 't', model: 'ack' });
    const again = await drain(c);
    expect(again.map((m) => [text(m), m.deliveryCount])).toEqual([
      ['m0', 2],
      ['m2', 2],
      ['m3', 3],
      ['m5', 2],
      ['m6', 2],
      ['m7', 2],
    ]);
    for (const m of again) m.ack();
    expect(b.describeGroup('q').partitions[0]).toMatchObject({ committedOffset: 8, ackedAhead: 0, lag: 0 });
    await expect(() => b.consumer({ group: 'q', topics: 't' })).toThrow(expect.objectContaining({ code: ErrorCode.GROUP_MODEL_MISMATCH }));
  });

  it('checkpoints into new generations and replays to the same state', async () => {
    const dir = tmpDir('sluice-broker-');
    let b = await openBroker({ groupCheckpointBytes: 2048 }, dir);
    await b.createTopic('t', { ...SMALL, partitions: 3 });
    const c = b.consumer({ group: 'q', topics: 't', model: 'ack', maxInFlight: 50 });
    const o = b.consumer({ group: 'log', topics: 't' });
    for (let round = 0; round < 40; round++) {
      await b.sendBatch('t', values(30, `r${round}-`));
      const got = await drain(c);
      // Ack out of order; nack every seventh once (it comes back in the next round).
      for (const m of got.reverse()) {
        if (m.offset % 7 === 3 && m.deliveryCount === 1) m.nack();
        else await m.ack();
      }
      await drain(o);
    }
    await eventually(() => b.describe().groupLog.checkpoints >= 3, 'checkpoints');
    await eventually(() => generations(dir).length === 1, 'old generations removed');
    const before = b.describeGroup('q').partitions.map(({ member, inFlight, pendingRedelivery, ...p }) => p);
    const logBefore = b.describeGroup('log').partitions.map((p) => p.committedOffset);
    const generation = b.describe().groupLog.generation;
    expect(generation).toBeGreaterThan(0);
    expect(generations(dir)).toEqual([String(generation).padStart(20, '0')]);
    await closeBroker(b);
    b = await openBroker({ groupCheckpointBytes: 2048 }, dir);
    const after = b.describeGroup('q').partitions.map(({ member, inFlight, pendingRedelivery, ...p }) => p);
    expect(after).toEqual(before);
    expect(b.describeGroup('log').partitions.map((p) => p.committedOffset)).toEqual(logBefore);
  });

  it('a snapshot carries failures, retry times and unfinished transactions', () => {
    const s = new GroupState();
    const g = s.createGroup('q', 'ack', 1);
    const [p] = s.initTopic(g, 't', [0]);
    s.delivered(p, 3);
    s.failed(p, 1, 5000);
    s.failed(p, 1, 9000);
    s.failed(p, 2, 0);
    s.addTransactionPartition(7, 0, 't', 0, 3);
    const copy = new GroupState();
    copy.restore(new Packr({ useRecords: false, mapsAsObjects: true }).unpack(new Packr({ useRecords: false, mapsAsObjects: true }).pack(s.snapshot())));
    const q = copy.groups.get('q')!.topics.get('t')![0];
    expect([...q.failures]).toEqual([[1, 2], [2, 1]]);
    expect([...q.retryAt]).toEqual([[1, 9000]]);
    expect(copy.transactions.get(7)).toMatchObject({ producerId: 7, committed: false, partitions: [{ topic: 't', partition: 0, first: 3 }] });
    // Replaying the operations gives the same.
    const replayed = new GroupState();
    for (const op of s.takeOps()) replayed.apply(op);
    expect([...replayed.groups.get('q')!.topics.get('t')![0].retryAt]).toEqual([[1, 9000]]);
    expect(replayed.transactions.has(7)).toBe(true);
  });

  it('a snapshot and a replay carry the Kafka transactional ids', () => {
    const s = new GroupState();
    s.setTransactionalId('a', 11, 0, 60_000, 100);
    s.setTransactionalId('b', 12, 3, 5_000, 200);
    s.setTransactionalId('a', 11, 1, 60_000, 300); // re-initialised: the next epoch
    s.openTransactionalId('a', 350);
    s.endTransactionalId('a', true, 400);
    s.openTransactionalId('b', 250);
    s.setTransactionalId('gone', 13, 0, 1000, 0);
    s.dropTransactionalId('gone');
    const packr = new Packr({ useRecords: false, mapsAsObjects: true });
    const copy = new GroupState();
    copy.restore(packr.unpack(packr.pack(s.snapshot())));
    const replayed = new GroupState();
    for (const op of s.takeOps()) replayed.apply(op);
    for (const state of [copy, replayed]) {
      expect(state.transactionalIds.get('a')).toMatchObject({ producerId: 11, epoch: 1, timeoutMs: 60_000, atMs: 400, lastEnd: 'commit' });
      expect(state.transactionalIds.get('a')!.open).toBe(false);
      expect(state.transactionalIds.get('b')).toMatchObject({ producerId: 12, epoch: 3, timeoutMs: 5_000, lastEnd: null, open: true });
      expect(state.transactionalIds.get('gone')).toBeUndefined();
      expect(state.transactionalIds.ofProducer(12)?.id).toBe('b');
      expect(state.transactionalIds.ofProducer(13)).toBeUndefined();
    }
    // No ids: the snapshot stays as before (readable by older code).
    expect(new GroupState().snapshot()).toEqual({ v: 1, groups: [] });
  });

  it('ignores a checkpoint that crashed before its snapshot was complete', async () => {
    const dir = tmpDir('sluice-broker-');
    const current = await ackThreeOfFive(dir);
    await writePartialGeneration(dir, Number(current) + 1);
    const b = await openBroker({}, dir);
    expect(b.describeGroup('q').partitions[0].committedOffset).toBe(3);
    expect(generations(dir)).toEqual([current]);
  });

  it('refuses to start every group over when no generation is complete, unless only the first one was being created', async () => {
    const dir = tmpDir('sluice-broker-');
    const current = await ackThreeOfFive(dir);
    // The complete generation is gone and a later checkpoint is half-written: the commits are lost.
    await writePartialGeneration(dir, Number(current) + 1);
    fs.rmSync(path.join(dir, 'groups', current), { recursive: true });
    await expect(openBroker({}, dir)).rejects.toMatchObject({ code: ErrorCode.CORRUPT, path: path.join(dir, 'groups') });
    expect(generations(dir)).toEqual([String(Number(current) + 1).padStart(20, '0')]); // left for inspection
    // A new directory whose first open crashed while writing generation 0 (before broker.json
    // and before any topic): nothing was ever committed, so it starts empty.
    const fresh = tmpDir('sluice-broker-');
    fs.mkdirSync(path.join(fresh, 'groups'), { recursive: true });
    await writePartialGeneration(fresh, 0);
    const b = await openBroker({}, fresh);
    expect(b.listGroups()).toEqual([]);
    await closeBroker(b);
  });

  it('is CORRUPT, not a silent start-over, for every way the group state can vanish while topics exist', async () => {
    const cases: Array<[string, (dir: string, current: string) => void]> = [
      ['groups/ removed', (dir) => fs.rmSync(path.join(dir, 'groups'), { recursive: true })],
      ['every generation removed', (dir) => fs.rmSync(path.join(dir, 'groups'), { recursive: true }) ?? fs.mkdirSync(path.join(dir, 'groups'))],
      ['the files of the current generation removed', (dir, current) => {
        for (const f of fs.readdirSync(path.join(dir, 'groups', current))) fs.rmSync(path.join(dir, 'groups', current, f), { recursive: true });
      }],
      ['the current generation removed, an older one left', (dir, current) => {
        fs.renameSync(path.join(dir, 'groups', current), path.join(dir, 'groups', String(Number(current) - 1).padStart(20, '0')));
      }],
      ['broker.json and every generation removed', (dir) => {
        fs.rmSync(path.join(dir, 'broker.json'));
        fs.rmSync(path.join(dir, 'groups'), { recursive: true });
      }],
    ];
    for (const [what, damage] of cases) {
      const dir = tmpDir('sluice-broker-');
      const current = await ackThreeOfFive(dir);
      damage(dir, current);
      await expect(openBroker({}, dir), what).rejects.toMatchObject({ code: ErrorCode.CORRUPT, path: expect.stringContaining(path.join(dir, 'groups')) });
    }
  });

  it('drops the progress of topics that are gone (a delete that crashed half-way)', async () => {
    const dir = tmpDir('sluice-broker-');
    let b = await openBroker({}, dir);
    await b.createTopic('gone', SMALL);
    await b.createTopic('kept', SMALL);
    await b.consumer({ group: 'g', topics: ['gone', 'kept'] }).close();
    await closeBroker(b);
    // What a delete does first (its commit point): the directory moves to the trash.
    fs.renameSync(path.join(dir, 'topics', 'gone'), path.join(dir, 'trash', `gone.${Date.now()}.1.abc`));
    b = await openBroker({}, dir);
    expect(fs.readdirSync(path.join(dir, 'trash'))).toEqual([]);
    expect(b.describeGroup('g').partitions.map((p) => p.topic)).toEqual(['kept']);
    await b.createTopic('gone', SMALL);
    await b.send('gone', { value: 'fresh' });
    const c = b.consumer({ group: 'g', topics: 'gone' });
    expect((await drain(c)).map(text)).toEqual(['fresh']);
  });

  it('is CORRUPT when a topic with group progress lost its directory, or partitions the group state knows', async () => {
    const dir = tmpDir('sluice-broker-');
    const b = await openBroker({}, dir);
    await b.createTopic('t', { ...SMALL, partitions: 2 });
    await b.consumer({ group: 'g', topics: 't' }).close();
    await closeBroker(b);
    const moved = `${dir}-t`;
    fs.renameSync(path.join(dir, 'topics', 't'), moved);
    await expect(openBroker({}, dir)).rejects.toMatchObject({ code: ErrorCode.CORRUPT, path: path.join(dir, 'topics', 't') });
    fs.renameSync(moved, path.join(dir, 'topics', 't'));
    // A hand-edited topic.json with a partition (and its directory) fewer than the group state
    // knows. (More is a growth the group state had not heard of: open completes it.)
    const file = path.join(dir, 'topics', 't', 'topic.json');
    const meta = JSON.parse(fs.readFileSync(file, 'utf8'));
    meta.config.partitions = 1;
    fs.writeFileSync(file, JSON.stringify(meta));
    fs.rmSync(path.join(dir, 'topics', 't', '1'), { recursive: true });
    await expect(openBroker({}, dir)).rejects.toMatchObject({ code: ErrorCode.CORRUPT });
    fs.rmSync(moved, { recursive: true, force: true });
  });

  it('under groupSync always, a commit confirm with nothing new to write still waits for the last write to be durable', async () => {
    const b = await openBroker({ groupSync: 'always' });
    await b.createTopic('t', SMALL);
    await b.sendBatch('t', values(3));
    const c = b.consumer({ group: 'g', topics: 't', autoCommit: false });
    expect(await drain(c)).toHaveLength(3);
    const first = c.commit();
    await new Promise((r) => process.nextTick(r)); // the commit's record is written, its sync not done
    const again = c.commit(); // nothing new: the confirm of the record on its way to disk
    expect(await again).toEqual({ durable: true });
    expect(await first).toEqual({ durable: true });
    await c.close();
  });

  it('under groupSync always, changes made in every tick while a sync is in flight are all confirmed durable and replay in order', async () => {
    const dir = tmpDir('sluice-broker-');
    // Small checkpoints: some of the held changes are covered by a checkpoint's snapshot instead.
    let b = await openBroker({ groupSync: 'always', groupCheckpointBytes: 256 }, dir);
    await b.createTopic('t', SMALL);
    await b.sendBatch('t', values(120));
    const q = b.consumer({ group: 'q', topics: 't', model: 'ack' });
    const o = b.consumer({ group: 'o', topics: 't', autoCommit: false });
    const acked = (await drain(q)) as AckMessage[];
    const read = await drain(o);
    expect(acked).toHaveLength(120);
    const confirms: PromiseLike<{ durable: boolean }>[] = [];
    for (let i = 0; i < 120; i++) {
      // One ack (every third message left unacked) and one commit per tick, none awaited before the next.
      if (i % 3 !== 1) confirms.push(acked[i].ack());
      confirms.push(o.commit(read[i]));
      await new Promise((r) => process.nextTick(r));
    }
    for (const c of await Promise.all(confirms)) expect(c).toEqual({ durable: true });
    await q.close();
    await o.close();
    await closeBroker(b);
    b = await openBroker({}, dir);
    expect(b.describeGroup('o')).toMatchObject({ partitions: [expect.objectContaining({ committedOffset: 120 })] });
    expect(b.describeGroup('q')).toMatchObject({ partitions: [expect.objectContaining({ committedOffset: 1, ackedAhead: 79 })] });
    const again = b.consumer({ group: 'q', topics: 't', model: 'ack' });
    expect((await drain(again)).map(text)).toEqual(Array.from({ length: 40 }, (_, k) => `m${3 * k + 1}`));
  });

  it('lists and deletes groups, not while they have members', async () => {
    const dir = tmpDir('sluice-broker-');
    let b = await openBroker({}, dir);
    await b.createTopic('t', SMALL);
    await b.sendBatch('t', values(3));
    const c = b.consumer({ group: 'a', topics: 't', model: 'ack' });
    b.consumer({ group: 'b', topics: 't' });
    expect(b.listGroups()).toEqual(['a', 'b']);
    await expect(b.deleteGroup('a')).rejects.toMatchObject({ code: ErrorCode.GROUP_ACTIVE });
    await expect(b.deleteGroup('zzz')).rejects.toMatchObject({ code: ErrorCode.UNKNOWN_GROUP });
    expect(() => b.describeGroup('zzz')).toThrow(expect.objectContaining({ code: ErrorCode.UNKNOWN_GROUP }));
    await drain(c);
    await c.close();
    await b.deleteGroup('a');
    expect(b.listGroups()).toEqual(['b']);
    await closeBroker(b);
    b = await openBroker({}, dir);
    expect(b.listGroups()).toEqual(['b']);
    // A group of the same name starts afresh, with either model.
    const again = b.consumer({ group: 'a', topics: 't' });
    expect(await drain(again)).toHaveLength(3);
  });
});

describe('group state: Kafka groups', () => {
  it('an in-process member of a Kafka group starts its never-committed partitions where its options say', async () => {
    for (const [start, expected] of [['latest', []], ['earliest', ['b', 'c']]] as const) {
      const b = await openBroker();
      await b.createTopic('t', { partitions: 2 });
      await b.sendBatch('t', [{ value: 'a', partition: 0 }, { value: 'b', partition: 1 }, { value: 'c', partition: 1 }]);
      await b.groupOffsets.commit('kafka', [{ topic: 't', partition: 0, offset: 1, metadata: null }]);
      const c = b.consumer({ group: 'kafka', topics: 't', start });
      expect((await drain(c)).map(text)).toEqual(expected);
      await c.close();
      await closeBroker(b);
    }
  });

  it('keeps the metadata of Kafka commits through replay and through a checkpoint', async () => {
    for (const checkpointBytes of [64 * 1024 * 1024, 1]) {
      const dir = tmpDir('sluice-broker-');
      let b = await openBroker({ groupCheckpointBytes: checkpointBytes }, dir);
      await b.createTopic('t', { partitions: 2 });
      await b.groupOffsets.commit('kafka-group', [
        { topic: 't', partition: 0, offset: 0, metadata: 'meta-0' },
        { topic: 't', partition: 1, offset: 0, metadata: null },
      ]);
      await closeBroker(b);
      b = await openBroker({ groupCheckpointBytes: checkpointBytes }, dir);
      expect(b.groupOffsets.fetch('kafka-group', 't', [0, 1])).toEqual([
        { offset: 0, metadata: 'meta-0' },
        { offset: 0, metadata: '' },
      ]);
      await closeBroker(b);
    }
  });
});
