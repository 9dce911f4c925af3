/**
 * broker.explain(): for a message in each state it can be in for a group, set up through the
 * public API (ManualClock: nothing sleeps), the state, its details and a reason naming them.
 * Also after a restart and on a read-only open (from the durable state alone), and bad queries.
 */
import { describe, expect, it } from 'vitest';
import { Broker, ErrorCode, ManualClock, type AckMessage } from '../../lib/index';
import { tmpDir } from '../helpers/tmp';
import { closeBroker, drain, eventually, openBroker, SMALL, turns } from './broker-fixtures';

const T0 = 1_700_000_000_000;

async function setup(model: 'ack' | 'offset' = 'ack', extra: object = {}) {
  const clock = new ManualClock(T0);
  const b = await openBroker({ clock });
  await b.createTopic('t', { ...SMALL, ...extra });
  const c = b.consumer({ group: 'g', topics: 't', model, ...(model === 'ack' ? { visibilityTimeoutMs: 30_000 } : {}) } as never);
  return { clock, b, c };
}

describe('broker.explain', () => {
  it('partition states: not written, in an open transaction, a marker, deleted by retention', async () => {
    const { b } = await setup('offset');
    await b.sendBatch('t', [{ value: 'a' }]);
    expect(b.explain({ topic: 't', partition: 0, offset: 5, group: 'g' })).toMatchObject({ state: 'not-written', offsets: { endOffset: 1 } });
    let inside: string | undefined;
    await b.transaction(async (tx) => {
      await tx.send('t', { value: 'in tx' });
      // 'not-visible' until the batch is sealed (a busy machine may take more than a few turns).
      await eventually(() => b.explain({ topic: 't', partition: 0, offset: 1, group: 'g' }).state !== 'not-visible', 'the transactional batch sealed');
      inside = b.explain({ topic: 't', partition: 0, offset: 1, group: 'g' }).state;
    });
    expect(inside).toBe('in-transaction');
    const marker = (): string => b.explain({ topic: 't', partition: 0, offset: 2, group: 'g' }).state;
    await eventually(() => marker() !== 'not-visible' && marker() !== 'not-written', 'the commit marker sealed');
    expect(marker()).toBe('not-a-message'); // the commit marker

    await b.createTopic('r', { segmentBytes: 64 * 1024, retentionBytes: 128 * 1024 });
    b.consumer({ group: 'g', topics: 'r' });
    const filler = Buffer.alloc(1000, 1);
    for (let i = 0; i < 10; i++) await b.sendBatch('r', Array.from({ length: 50 }, () => ({ value: filler })));
    const e = b.explain({ topic: 'r', partition: 0, offset: 0, group: 'g' });
    expect(e.state).toBe('deleted');
    expect(e.reason).toContain('retention');
  });

  it('not subscribed; unknown group, topic and partition; bad queries', async () => {
    const { b } = await setup();
    await b.createTopic('other', SMALL);
    await b.send('other', { value: 'x' });
    await turns();
    expect(b.explain({ topic: 'other', partition: 0, offset: 0, group: 'g' }).state).toBe('not-subscribed');
    expect(() => b.explain({ topic: 't', partition: 0, offset: 0, group: 'nobody' })).toThrow(expect.objectContaining({ code: ErrorCode.UNKNOWN_GROUP }));
    expect(() => b.explain({ topic: 'nope', partition: 0, offset: 0, group: 'g' })).toThrow(expect.objectContaining({ code: ErrorCode.UNKNOWN_TOPIC }));
    expect(() => b.explain({ topic: 't', partition: 3, offset: 0, group: 'g' })).toThrow(RangeError);
    expect(() => b.explain({ topic: 't', partition: 0, offset: -1, group: 'g' })).toThrow(RangeError);
    expect(() => b.explain({ topic: 't', partition: 0, offset: 0, delayId: 1, group: 'g' })).toThrow(TypeError);
    expect(() => b.explain({ topic: 't', delayId: 99, group: 'g' })).toThrow(expect.objectContaining({ code: ErrorCode.UNKNOWN_MESSAGE }));
  });

  it('ack model: waiting (how many ahead, who holds it, paused), in flight, retry wait, acked with its time', async () => {
    const { clock, b, c } = await setup('ack');
    await b.sendBatch('t', [{ value: 'a' }, { value: 'b' }, { value: 'c' }]);
    await turns();
    let e = b.explain({ topic: 't', partition: 0, offset: 2, group: 'g' });
    expect(e).toMatchObject({ state: 'waiting', ahead: 2, position: { model: 'ack', committedOffset: 0, member: expect.any(String), paused: false, members: 1 } });
    c.pause();
    expect(b.explain({ topic: 't', partition: 0, offset: 2, group: 'g' }).reason).toContain('paused');
    c.resume();

    const [m] = (await c.poll(1, { timeoutMs: 0 })) as AckMessage[];
    e = b.explain({ topic: 't', partition: 0, offset: 0, group: 'g' });
    expect(e).toMatchObject({ state: 'in-flight', deliveryCount: 1, deliveredAt: T0, visibleAgainAt: T0 + 30_000 });
    expect(e.reason).toContain(e.member!);
    expect(b.explain({ topic: 't', partition: 0, offset: 2, group: 'g' }).ahead).toBe(1);

    m.nack({ delayMs: 5000, error: 'db down' } as never);
    e = b.explain({ topic: 't', partition: 0, offset: 0, group: 'g' });
    expect(e).toMatchObject({ state: 'retry-wait', dueAt: T0 + 5000, failures: 1 });

    clock.advance(5000);
    await turns();
    expect(b.explain({ topic: 't', partition: 0, offset: 0, group: 'g' }).state).toBe('redelivery-ready');
    const again = (await c.poll(10, { timeoutMs: 0 })) as AckMessage[];
    clock.advance(1000);
    for (const x of again) await x.ack();
    await turns();
    e = b.explain({ topic: 't', partition: 0, offset: 0, group: 'g' });
    expect(e).toMatchObject({ state: 'acked', passedAt: T0 + 6000 });
  });

  it('ack model: held back by per-key order behind the earlier message of its key', async () => {
    const { b } = await setup('ack');
    const c2 = b.consumer({ group: 'k', topics: 't', model: 'ack' });
    await b.sendBatch('t', [{ key: 'A', value: '1' }, { key: 'A', value: '2' }]);
    const seen: AckMessage[] = [];
    let finish!: () => void;
    const held = new Promise<void>((r) => (finish = r));
    const running = c2.run(async (m) => {
      seen.push(m as AckMessage);
      await held; // not finished yet: its key stays held
    }, { concurrency: 2, orderBy: 'key' });
    await eventually(() => seen.length === 1, 'the first message');
    await turns();
    const e = b.explain({ topic: 't', partition: 0, offset: 1, group: 'k' });
    expect(e).toMatchObject({ state: 'key-order', behind: 0 });
    finish();
    await eventually(() => seen.length === 2, 'the second message, once the first is done');
    await c2.close();
    await running;
  });

  it('ack model: dead-lettered (where and why), expired, filtered', async () => {
    const clock = new ManualClock(T0);
    const b = await openBroker({ clock });
    await b.createTopic('t', SMALL);
    const c = b.consumer({ group: 'g', topics: 't', model: 'ack', maxDeliveries: 1, filter: "kind = 'keep'" });
    const plain = b.consumer({ group: 'e', topics: 't', model: 'ack' });
    await b.sendBatch('t', [
      { value: 'dies', headers: { kind: 'keep' } },
      { value: 'old', headers: { kind: 'keep' }, ttlMs: 1000 },
      { value: 'skipped', headers: { kind: 'drop' } },
    ]);
    const [m] = (await c.poll(1, { timeoutMs: 0 })) as AckMessage[];
    m.nack();
    clock.advance(2000);
    await drain(c);
    for (const x of (await drain(plain)) as AckMessage[]) await x.ack();
    const explainG = (offset: number) => b.explain({ topic: 't', partition: 0, offset, group: 'g' });
    await eventually(() => explainG(0).state === 'dead-lettered' && explainG(1).state === 'dead-lettered', 'both dead letters committed');
    expect(explainG(0)).toMatchObject({ deadLetter: { topic: 't.dlq', partition: 0, reason: 'max-deliveries', deliveries: 1 } });
    // An expired message goes to the dead letters of a group that has them...
    expect(explainG(1)).toMatchObject({ deadLetter: { topic: 't.dlq', reason: 'expired' } });
    // ...and is passed over by one that has none.
    expect(b.explain({ topic: 't', partition: 0, offset: 1, group: 'e' })).toMatchObject({ state: 'expired', expiredAt: T0 + 1000 });
    expect(explainG(2)).toMatchObject({ state: 'filtered', position: { filter: "kind = 'keep'" } });
    expect(b.explain({ topic: 't', partition: 0, offset: 2, group: 'e' }).state).toBe('acked');
  });

  it('offset model: in flight with its member, processed not committed, committed', async () => {
    const { b, c } = await setup('offset');
    await b.sendBatch('t', [{ value: 'a' }, { value: 'b' }]);
    await turns();
    const manual = b.consumer({ group: 'm', topics: 't', autoCommit: false });
    await c.poll(1, { timeoutMs: 0 });
    expect(b.explain({ topic: 't', partition: 0, offset: 0, group: 'g' })).toMatchObject({ state: 'in-flight', member: expect.any(String) });
    await c.poll(1, { timeoutMs: 0 }); // the first is processed and auto-committed
    await turns();
    expect(b.explain({ topic: 't', partition: 0, offset: 0, group: 'g' }).state).toBe('committed');
    await manual.poll(1, { timeoutMs: 0 });
    await manual.poll(1, { timeoutMs: 0 });
    expect(b.explain({ topic: 't', partition: 0, offset: 0, group: 'm' }).state).toBe('processed');
  });

  it('a delayed message: delayed until its due time, then explained where it was moved', async () => {
    const { clock, b } = await setup('offset');
    const sent = await b.send('t', { value: 'later', delayMs: 60_000 });
    expect(sent.delayId).toBe(0);
    expect(b.explain({ topic: 't', delayId: sent.delayId!, group: 'g' })).toMatchObject({ state: 'delayed', dueAt: T0 + 60_000, offset: -1 });
    clock.advance(60_000);
    await eventually(() => !['delayed', 'in-transaction'].includes(b.explain({ topic: 't', delayId: 0, group: 'g' }).state), 'moved');
    const e = b.explain({ topic: 't', delayId: 0, group: 'g' });
    expect(e.offset).toBeGreaterThanOrEqual(0);
    expect(e).toMatchObject({ state: 'waiting', delayId: 0 });
  });

  it('after a restart and on a read-only open: from the durable state (delivered before: redelivered; failures kept)', async () => {
    const dir = tmpDir('sluice-explain-');
    const clock = new ManualClock(T0);
    let b = await openBroker({ clock }, dir);
    await b.createTopic('t', SMALL);
    const c = b.consumer({ group: 'g', topics: 't', model: 'ack' });
    await b.sendBatch('t', [{ value: 'a' }, { value: 'b' }]);
    const [m] = (await c.poll(1, { timeoutMs: 0 })) as AckMessage[];
    m.nack({ delayMs: 10_000 });
    await turns();
    await closeBroker(b);
    const ro = await Broker.open(dir, { readOnly: true, clock });
    try {
      const e = ro.explain({ topic: 't', partition: 0, offset: 0, group: 'g' });
      expect(e).toMatchObject({ state: 'retry-wait', dueAt: T0 + 10_000, failures: 1 });
      expect(e.notes.join(' ')).toContain('read-only');
      expect(ro.explain({ topic: 't', partition: 0, offset: 1, group: 'g' })).toMatchObject({ state: 'waiting', position: { member: null, members: 0 } });
    } finally {
      await ro.close();
    }
    b = await openBroker({ clock }, dir);
    expect(b.explain({ topic: 't', partition: 0, offset: 0, group: 'g' }).state).toBe('retry-wait');
  });
});
