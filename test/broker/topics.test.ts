/**
 * Topic administration: create, list, describe and delete; Kafka's naming rule; per-topic config
 * validated, defaulted and kept across restarts; a crashed creation leaves nothing behind.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Broker, ErrorCode } from '../../lib/index';
import { tmpDir } from '../helpers/tmp';
import { closeBroker, drain, openBroker, SMALL, turns, values } from './broker-fixtures';

describe('topics', () => {
  it('creates, lists, describes and deletes topics', async () => {
    const b = await openBroker();
    const d = await b.createTopic('orders', { ...SMALL, partitions: 3, maxBacklog: 100, sync: 'always', retentionMs: 60_000 });
    expect(d.name).toBe('orders');
    expect(d.partitions.map((p) => p.partition)).toEqual([0, 1, 2]);
    expect(d.config).toMatchObject({ partitions: 3, maxBacklog: 100, sync: 'always', retentionMs: 60_000, retentionBytes: null });
    await b.createTopic('audit.log_v2-x', SMALL);
    expect(b.listTopics()).toEqual(['audit.log_v2-x', 'orders']);
    await b.sendBatch('orders', values(5));
    const after = b.describeTopic('orders');
    expect(after.messages).toBe(5);
    expect(after.backlog).toBe(5);
    await b.deleteTopic('orders');
    expect(b.listTopics()).toEqual(['audit.log_v2-x']);
    expect(fs.existsSync(path.join(b.dir, 'topics', 'orders'))).toBe(false);
    expect(() => b.describeTopic('orders')).toThrow(expect.objectContaining({ code: ErrorCode.UNKNOWN_TOPIC }));
  });

  it('opens a topic.json written before a setting existed, with its default', async () => {
    const dir = tmpDir('sluice-broker-');
    let b = await openBroker({}, dir);
    await b.createTopic('t');
    await closeBroker(b);
    const file = path.join(dir, 'topics', 't', 'topic.json');
    const meta = JSON.parse(fs.readFileSync(file, 'utf8'));
    delete meta.config.messageTtlMs; // as written before TTLs
    fs.writeFileSync(file, JSON.stringify(meta));
    b = await openBroker({}, dir);
    expect(b.describeTopic('t').config.messageTtlMs).toBeNull();
    await closeBroker(b);
  });

  it('applies the default config', async () => {
    const b = await openBroker();
    const d = await b.createTopic('t');
    expect(d.config).toEqual({
      partitions: 1,
      sync: 'interval',
      syncIntervalMs: 1000,
      retentionBytes: null,
      retentionMs: null,
      maxBacklog: null,
      segmentBytes: 64 * 1024 * 1024,
      messageBytesMax: null,
      messageTtlMs: null,
      dedupWindowMs: 120_000,
      dedupWindowCount: 100_000,
    });
  });

  it('validates names with Kafka rule', async () => {
    const b = await openBroker();
    for (const bad of ['', '.', '..', 'a/b', 'a b', 'é', 'x'.repeat(250), 'a\u0000b']) {
      await expect(b.createTopic(bad, SMALL)).rejects.toThrow(RangeError);
    }
    for (const bad of [undefined, 42, null, {}]) await expect(b.createTopic(bad as never)).rejects.toThrow(TypeError);
    await b.createTopic('x'.repeat(249), SMALL);
    await b.createTopic('A-z_0.9', SMALL);
    expect(b.listTopics()).toHaveLength(2);
  });

  it('validates the config', async () => {
    const b = await openBroker();
    await expect(b.createTopic('t', { partitions: 0 })).rejects.toThrow(RangeError);
    await expect(b.createTopic('t', { partitions: 1.5 })).rejects.toThrow(RangeError);
    await expect(b.createTopic('t', { partitions: 100_000 })).rejects.toThrow(RangeError);
    await expect(b.createTopic('t', { sync: 'sometimes' as never })).rejects.toThrow(RangeError);
    await expect(b.createTopic('t', { maxBacklog: -1 })).rejects.toThrow(RangeError);
    await expect(b.createTopic('t', { segmentBytes: 1000 })).rejects.toThrow(RangeError);
    await expect(b.createTopic('t', { bogus: 1 } as never)).rejects.toThrow(TypeError);
    await expect(b.createTopic('t', 'config' as never)).rejects.toThrow(TypeError);
    expect(b.listTopics()).toEqual([]);
  });

  it('refuses a second topic of the same name, even while the first is being created', async () => {
    const b = await openBroker();
    const first = b.createTopic('t', SMALL);
    await expect(b.createTopic('t', SMALL)).rejects.toMatchObject({ code: ErrorCode.TOPIC_EXISTS });
    await first;
    await expect(b.createTopic('t', SMALL)).rejects.toMatchObject({ code: ErrorCode.TOPIC_EXISTS });
  });

  it('keeps topics, their config and their messages across a restart', async () => {
    const dir = tmpDir('sluice-broker-');
    let b = await openBroker({}, dir);
    await b.createTopic('a', { ...SMALL, partitions: 2, maxBacklog: 7 });
    await b.createTopic('b', SMALL);
    await b.sendBatch('a', values(4));
    await closeBroker(b);
    b = await openBroker({}, dir);
    expect(b.listTopics()).toEqual(['a', 'b']);
    expect(b.describeTopic('a').config).toMatchObject({ partitions: 2, maxBacklog: 7 });
    const c = b.consumer({ group: 'g', topics: 'a' });
    expect((await drain(c)).map((m) => (m.value as Buffer).toString()).sort()).toEqual(['m0', 'm1', 'm2', 'm3']);
  });

  it('forgets a topic whose creation crashed before topic.json was written (its marker says so)', async () => {
    const dir = tmpDir('sluice-broker-');
    let b = await openBroker({}, dir);
    await b.createTopic('kept', SMALL);
    await closeBroker(b);
    fs.mkdirSync(path.join(dir, 'topics', 'half', '0'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'topics', 'half', '.creating'), '');
    fs.writeFileSync(path.join(dir, 'topics', 'half', '0', 'junk'), 'x');
    b = await openBroker({}, dir);
    expect(b.listTopics()).toEqual(['kept']);
    expect(fs.existsSync(path.join(dir, 'topics', 'half'))).toBe(false);
    await b.createTopic('half', SMALL);
  });

  it('never deletes a directory it cannot account for: CORRUPT with its path, the data left in place', async () => {
    const dir = tmpDir('sluice-broker-');
    let b = await openBroker({}, dir);
    await b.createTopic('kept', SMALL);
    await b.send('kept', { value: 'x' });
    await closeBroker(b);
    // Someone else's directory, and a topic whose topic.json was lost.
    fs.mkdirSync(path.join(dir, 'topics', 'mine', '0'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'topics', 'mine', '0', 'precious'), 'x');
    await expect(openBroker({}, dir)).rejects.toMatchObject({ code: ErrorCode.CORRUPT, path: path.join(dir, 'topics', 'mine') });
    expect(fs.readFileSync(path.join(dir, 'topics', 'mine', '0', 'precious'), 'utf8')).toBe('x');
    fs.rmSync(path.join(dir, 'topics', 'mine'), { recursive: true });
    fs.rmSync(path.join(dir, 'topics', 'kept', 'topic.json'));
    await expect(openBroker({}, dir)).rejects.toMatchObject({ code: ErrorCode.CORRUPT, path: path.join(dir, 'topics', 'kept') });
    expect(fs.readdirSync(path.join(dir, 'topics', 'kept', '0')).some((f) => f.endsWith('.log'))).toBe(true);
    b = undefined as never;
  });

  it('refuses a topic.json that disagrees with the partition directories as CORRUPT (no TypeError)', async () => {
    const dir = tmpDir('sluice-broker-');
    const b = await openBroker({}, dir);
    await b.createTopic('t', { ...SMALL, partitions: 2 });
    await closeBroker(b);
    const file = path.join(dir, 'topics', 't', 'topic.json');
    const meta = JSON.parse(fs.readFileSync(file, 'utf8'));
    for (const [edit, expected] of [
      [(m: { config: Record<string, unknown> }) => (m.config.partitions = 3), /partition directories 2 are missing/],
      [(m: { config: Record<string, unknown> }) => (m.config.partitions = 1), /"1" is not a partition/],
      [(m: { config: Record<string, unknown> }) => (m.config.segmentBytes = 'x'), /invalid topic config: segmentBytes must be an integer/],
      [(m: { config: Record<string, unknown> }) => delete m.config.sync, /sync is missing/],
    ] as const) {
      const edited = structuredClone(meta);
      edit(edited);
      fs.writeFileSync(file, JSON.stringify(edited));
      await expect(openBroker({}, dir)).rejects.toMatchObject({ code: ErrorCode.CORRUPT, message: expect.stringMatching(expected) });
    }
  });

  it('refuses a damaged topic.json as CORRUPT', async () => {
    const dir = tmpDir('sluice-broker-');
    const b = await openBroker({}, dir);
    await b.createTopic('t', SMALL);
    await closeBroker(b);
    fs.writeFileSync(path.join(dir, 'topics', 't', 'topic.json'), '{"format": 1, "na');
    await expect(openBroker({}, dir)).rejects.toMatchObject({ code: ErrorCode.CORRUPT });
  });

  it('deletes a topic with consumers: they stop getting it, its group progress goes, and the name can be reused', async () => {
    const b = await openBroker();
    await b.createTopic('t', { ...SMALL, partitions: 2 });
    await b.sendBatch('t', values(4));
    const c = b.consumer({ group: 'g', topics: 't', model: 'ack' });
    const got = await drain(c);
    expect(got).toHaveLength(4);
    await b.deleteTopic('t');
    expect(() => got[0].ack()).toThrow(expect.objectContaining({ code: ErrorCode.UNKNOWN_TOPIC }));
    expect(b.describeGroup('g').partitions).toEqual([]);
    expect(c.assignment()).toEqual([]);
    await expect(b.send('t', { value: 'x' })).rejects.toMatchObject({ code: ErrorCode.UNKNOWN_TOPIC });
    await b.createTopic('t', SMALL);
    await b.send('t', { value: 'new' });
    const c2 = b.consumer({ group: 'g2', topics: 't' });
    expect((await drain(c2)).map((m) => (m.value as Buffer).toString())).toEqual(['new']);
  });

  it('ends the waits of consumers whose every topic was deleted with UNKNOWN_TOPIC', async () => {
    const b = await openBroker();
    await b.createTopic('t', SMALL);
    await b.createTopic('u', SMALL);
    const gone = { code: ErrorCode.UNKNOWN_TOPIC };
    const pull = b.consumer({ group: 'p', topics: 't' });
    const polling = pull.poll(10).catch((e: unknown) => e);
    const pusher = b.consumer({ group: 'q', topics: 't', model: 'ack' });
    const running = pusher.run(() => {}, { concurrency: 3 }).catch((e: unknown) => e);
    const iterated = (async () => {
      for await (const _ of b.consumer({ group: 'i', topics: 't' })) void _;
    })().catch((e: unknown) => e);
    const both = b.consumer({ group: 'b', topics: ['t', 'u'] });
    await turns();
    await b.deleteTopic('t');
    expect(await polling).toMatchObject(gone);
    expect(await running).toMatchObject(gone);
    expect(await iterated).toMatchObject(gone);
    await expect(pull.poll(1, { timeoutMs: 0 })).rejects.toMatchObject(gone);
    // A consumer with a topic left goes on.
    await b.send('u', { value: 'still here' });
    expect((await drain(both)).map((m) => String(m.value))).toEqual(['still here']);
    await pull.close();
    await pusher.close();
  });

  it('creates a topic of the name of one still being deleted only once the delete is done', async () => {
    const dir = tmpDir('sluice-broker-');
    let b = await openBroker({}, dir);
    await b.createTopic('t', SMALL);
    await b.send('t', { value: 'old' });
    const deleted = b.deleteTopic('t');
    const created = b.createTopic('t', SMALL);
    await deleted;
    await created;
    await b.send('t', { value: 'new' });
    expect(fs.existsSync(path.join(dir, 'topics', 't', 'topic.json'))).toBe(true);
    await closeBroker(b);
    b = await openBroker({}, dir);
    expect(b.listTopics()).toEqual(['t']);
    const c = b.consumer({ group: 'g', topics: 't' });
    expect((await drain(c)).map((m) => String(m.value))).toEqual(['new']);
  });

  it('is one broker per directory', async () => {
    const dir = tmpDir('sluice-broker-');
    await openBroker({}, dir);
    await expect(Broker.open(dir)).rejects.toMatchObject({ name: 'SluiceError', code: ErrorCode.LOCKED });
  });

  it('refuses everything once closed', async () => {
    const b = await openBroker();
    await b.createTopic('t', SMALL);
    await closeBroker(b);
    expect(() => b.listTopics()).toThrow(expect.objectContaining({ code: ErrorCode.CLOSED }));
    await expect(b.send('t', { value: 'x' })).rejects.toMatchObject({ code: ErrorCode.CLOSED });
    expect(() => b.consumer({ group: 'g', topics: 't' })).toThrow(expect.objectContaining({ code: ErrorCode.CLOSED }));
    await b.close(); // idempotent
  });
});
