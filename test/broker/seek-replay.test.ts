/**
 * The offset model's log features: commits (automatic after processing, or by hand), seek to an
 * offset or a time to replay or skip, where a new group starts (earliest, latest, a time), and
 * committed offsets surviving a restart.
 */
import { describe, expect, it } from 'vitest';
import { ErrorCode, ManualClock } from '../../lib/index';
import { tmpDir } from '../helpers/tmp';
import { closeBroker, drain, eventually, openBroker, SMALL, text, turns, values } from './broker-fixtures';

async function timed(clock: ManualClock) {
  const b = await openBroker({ clock });
  await b.createTopic('t', { ...SMALL, partitions: 2 });
  // Ten messages per partition, one clock second apart: m0 at t0, m1 at t0+1000, ...
  for (let i = 0; i < 10; i++) {
    await b.sendBatch('t', [
      { value: `p0-${i}`, partition: 0 },
      { value: `p1-${i}`, partition: 1 },
    ]);
    clock.advance(1000);
  }
  return b;
}

describe('seek and replay (offset model)', () => {
  it('replays from an offset, and skips ahead', async () => {
    const clock = new ManualClock(1_000_000);
    const b = await timed(clock);
    const c = b.consumer({ group: 'g', topics: 't' });
    expect(await drain(c)).toHaveLength(20);
    c.seek({ topic: 't', partition: 1, offset: 7 });
    expect((await drain(c)).map(text)).toEqual(['p1-7', 'p1-8', 'p1-9']);
    c.seek({ topic: 't', offset: 8 }); // every partition held
    expect((await drain(c)).map(text).sort()).toEqual(['p0-8', 'p0-9', 'p1-8', 'p1-9']);
    c.seek({ topic: 't', partition: 0, offset: 1_000 }); // clamped to the end
    expect(await drain(c)).toEqual([]);
    c.seek({ topic: 't', partition: 0, offset: 0 });
    expect((await drain(c)).map(text)).toEqual(Array.from({ length: 10 }, (_, i) => `p0-${i}`));
  });

  it('replays from a time', async () => {
    const clock = new ManualClock(1_000_000);
    const b = await timed(clock);
    const c = b.consumer({ group: 'g', topics: 't' });
    await drain(c);
    c.seek({ topic: 't', timestamp: 1_000_000 + 6500 });
    expect((await drain(c)).map(text).sort()).toEqual(['p0-7', 'p0-8', 'p0-9', 'p1-7', 'p1-8', 'p1-9']);
    c.seek({ topic: 't', partition: 0, timestamp: 0 });
    expect(await drain(c)).toHaveLength(10);
    c.seek({ topic: 't', partition: 0, timestamp: 9_999_999_999 }); // after everything: the end
    expect(await drain(c)).toEqual([]);
  });

  it('starts a new group at the earliest, the latest, or a time', async () => {
    const clock = new ManualClock(1_000_000);
    const b = await timed(clock);
    const early = b.consumer({ group: 'early', topics: 't' });
    const late = b.consumer({ group: 'late', topics: 't', start: 'latest' });
    const mid = b.consumer({ group: 'mid', topics: 't', start: { timestamp: 1_000_000 + 8000 } });
    expect(await drain(early)).toHaveLength(20);
    expect(await drain(late)).toEqual([]);
    expect((await drain(mid)).map(text).sort()).toEqual(['p0-8', 'p0-9', 'p1-8', 'p1-9']);
    await b.send('t', { value: 'new', partition: 0 });
    expect((await drain(late)).map(text)).toEqual(['new']);
    // The start position only applies to a group's first subscription.
    await b.consumer({ group: 'fresh', topics: 't' }).close();
    const again = b.consumer({ group: 'fresh', topics: 't', start: 'latest' });
    expect(b.describeGroup('fresh').partitions.map((p) => p.committedOffset)).toEqual([0, 0]);
    expect(await drain(again)).toHaveLength(21);
  });

  it('commits automatically after processing and resumes there after a restart', async () => {
    const dir = tmpDir('sluice-broker-');
    let b = await openBroker({}, dir);
    await b.createTopic('t', SMALL);
    await b.sendBatch('t', values(10));
    let c = b.consumer({ group: 'g', topics: 't' });
    const first = await c.poll(4); // m0..m3 handed out, not yet processed
    expect(first.map(text)).toEqual(['m0', 'm1', 'm2', 'm3']);
    expect(b.describeGroup('g').partitions[0].committedOffset).toBe(0);
    await c.poll(2); // m0..m3 processed: committed 4; m4, m5 in progress
    expect(b.describeGroup('g').partitions[0].committedOffset).toBe(4);
    await closeBroker(b); // closing the consumer counts its last poll (m4, m5) as processed
    b = await openBroker({}, dir);
    c = b.consumer({ group: 'g', topics: 't' });
    expect((await drain(c)).map(text)).toEqual(['m6', 'm7', 'm8', 'm9']);
  });

  it('commits only by hand when autoCommit is off', async () => {
    const dir = tmpDir('sluice-broker-');
    let b = await openBroker({}, dir);
    await b.createTopic('t', SMALL);
    await b.sendBatch('t', values(10));
    let c = b.consumer({ group: 'g', topics: 't', autoCommit: false });
    const ms = await drain(c);
    expect(ms).toHaveLength(10);
    expect(b.describeGroup('g').partitions[0].committedOffset).toBe(0);
    expect(await c.commit(ms[5])).toEqual({ durable: true });
    expect(b.describeGroup('g').partitions[0].committedOffset).toBe(6);
    c.commit([{ topic: 't', partition: 0, offset: 7 }]);
    await closeBroker(b);
    b = await openBroker({}, dir);
    c = b.consumer({ group: 'g', topics: 't', autoCommit: false });
    expect((await drain(c)).map(text)).toEqual(['m7', 'm8', 'm9']);
  });

  it('commits by hand from inside a run() handler', async () => {
    const b = await openBroker();
    await b.createTopic('t', SMALL);
    await b.sendBatch('t', values(5));
    const c = b.consumer({ group: 'g', topics: 't', autoCommit: false });
    const committed: number[] = [];
    const running = c.run((m) => {
      if (m.offset === 1) c.commit(); // what was processed before this message: offset 1
      if (m.offset === 3) c.commit(m); // this message too: offset 4
      committed.push(b.describeGroup('g').partitions[0].committedOffset);
    });
    await eventually(() => committed.length === 5, 'every message');
    await c.close();
    await running;
    expect(committed).toEqual([0, 1, 1, 4, 4]);
    expect(b.describeGroup('g').partitions[0].committedOffset).toBe(4);
  });

  it('retries a failed handler from the failed message, after retryDelayMs', async () => {
    const clock = new ManualClock();
    const b = await openBroker({ clock });
    await b.createTopic('t', SMALL);
    await b.sendBatch('t', values(4));
    const c = b.consumer({ group: 'g', topics: 't' });
    const calls: string[] = [];
    let fail = true;
    const running = c.run(
      (m) => {
        calls.push(text(m));
        if (text(m) === 'm2' && fail) {
          fail = false;
          throw new Error('boom');
        }
      },
      { retryDelayMs: 500, onError: () => {} },
    );
    await turns(5);
    expect(calls).toEqual(['m0', 'm1', 'm2']);
    expect(b.describeGroup('g').partitions[0]).toMatchObject({ committedOffset: 2, redeliveries: 1 });
    clock.advance(500);
    await turns(5);
    expect(calls).toEqual(['m0', 'm1', 'm2', 'm2', 'm3']);
    expect(b.describeGroup('g').partitions[0].committedOffset).toBe(4);
    await c.close();
    await running;
  });

  it('keeps consuming after a seek made while an async handler ran, when that handler then throws', async () => {
    const b = await openBroker();
    await b.createTopic('t', SMALL);
    await b.sendBatch('t', values(5));
    const c = b.consumer({ group: 'g', topics: 't' });
    const seen: number[] = [];
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const running = c.run(
      async (m) => {
        seen.push(m.offset);
        if (seen.length === 1) {
          await held;
          throw new Error('boom');
        }
      },
      { retryDelayMs: 0, onError: () => {} },
    );
    await eventually(() => seen.length === 1, 'the first message');
    c.seek({ topic: 't', offset: 0 });
    release();
    await eventually(() => seen.length === 6, 'the replay after the seek');
    expect(seen).toEqual([0, 0, 1, 2, 3, 4]);
    await b.send('t', { value: 'later' });
    await eventually(() => seen.length === 7, 'a message sent later');
    expect(seen[6]).toBe(5);
    await c.close();
    await running;
    expect(b.describeGroup('g').partitions[0].committedOffset).toBe(6);
  });

  it('does not let a commit of a message received before a seek undo the seek', async () => {
    const b = await openBroker();
    await b.createTopic('t', SMALL);
    await b.sendBatch('t', values(5));
    const c = b.consumer({ group: 'g', topics: 't' });
    const before = await drain(c);
    expect(before).toHaveLength(5);
    c.seek({ topic: 't', offset: 1 });
    await c.commit(before[4]);
    expect(b.describeGroup('g').partitions[0].committedOffset).toBe(1);
    await c.commit([before[3], { topic: 't', partition: 0, offset: 2 }]); // entries still count
    expect(b.describeGroup('g').partitions[0].committedOffset).toBe(2);
    c.seek({ topic: 't', offset: 1 });
    const after = await drain(c);
    expect(after.map(text)).toEqual(['m1', 'm2', 'm3', 'm4']);
    await c.commit(after[1]);
    expect(b.describeGroup('g').partitions[0].committedOffset).toBe(3);
  });

  it('commits what a pull consumer polled last when it closes (autoCommit), and not without autoCommit', async () => {
    const b = await openBroker();
    await b.createTopic('t', SMALL);
    await b.sendBatch('t', values(5));
    await turns();
    const c = b.consumer({ group: 'g', topics: 't' });
    expect((await c.poll(3)).map(text)).toEqual(['m0', 'm1', 'm2']);
    await c.close();
    expect(b.describeGroup('g').partitions[0].committedOffset).toBe(3);
    const next = b.consumer({ group: 'g', topics: 't' });
    expect((await drain(next)).map(text)).toEqual(['m3', 'm4']);

    const manual = b.consumer({ group: 'h', topics: 't', autoCommit: false });
    expect(await manual.poll(3)).toHaveLength(3);
    await manual.close();
    expect(b.describeGroup('h').partitions[0].committedOffset).toBe(0);
  });

  it('refuses seeks and commits on partitions it does not hold, and bad arguments', async () => {
    const b = await openBroker();
    await b.createTopic('t', { ...SMALL, partitions: 2 });
    await b.createTopic('u', SMALL);
    const c1 = b.consumer({ group: 'g', topics: 't' });
    const c2 = b.consumer({ group: 'g', topics: 't' });
    const p2 = c2.assignment()[0].partition;
    expect(() => c1.seek({ topic: 't', partition: p2, offset: 0 })).toThrow(expect.objectContaining({ code: ErrorCode.NOT_ASSIGNED, message: `t/${p2} is not assigned to consumer ${c1.name}` }));
    expect(() => c1.seek({ topic: 'u', offset: 0 })).toThrow(expect.objectContaining({ code: ErrorCode.NOT_ASSIGNED }));
    expect(() => c1.seek({ topic: 'nope', offset: 0 })).toThrow(expect.objectContaining({ code: ErrorCode.UNKNOWN_TOPIC }));
    expect(() => c1.commit({ topic: 't', partition: p2, offset: 0 })).toThrow(expect.objectContaining({ code: ErrorCode.NOT_ASSIGNED }));
    expect(() => c1.seek({ topic: 't', offset: -1 })).toThrow(RangeError);
    expect(() => c1.seek({ topic: 't' })).toThrow(TypeError);
    expect(() => c1.seek({ topic: 't', offset: 1, timestamp: 1 })).toThrow(TypeError);
    expect(() => c1.seek(null as never)).toThrow(TypeError);
    expect(() => c1.commit({ topic: 't', partition: 0, offset: 1.5 })).toThrow(RangeError);
    expect(() => c1.commit('x' as never)).toThrow(TypeError);
    expect(b.describeGroup('g').partitions.map((p) => p.committedOffset)).toEqual([0, 0]);
  });
});
