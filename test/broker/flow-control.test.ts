/**
 * Pull and push flow control: poll() waits for data (or its timeout, abort, or close), pause() and
 * resume() per consumer, topic or partition, AbortSignal to stop a run, a poll or a whole consumer,
 * and close() waiting for the handlers in progress.
 */
import { describe, expect, it } from 'vitest';
import { ErrorCode, ManualClock } from '../../lib/index';
import { drain, eventually, openBroker, SMALL, text, turns, values } from './broker-fixtures';

describe('pull', () => {
  it('waits for a message to arrive', async () => {
    const b = await openBroker();
    await b.createTopic('t', SMALL);
    const c = b.consumer({ group: 'g', topics: 't' });
    const polled = c.poll(10);
    await turns();
    await b.send('t', { value: 'late' });
    expect((await polled).map(text)).toEqual(['late']);
  });

  it('returns nothing after timeoutMs (clock-driven)', async () => {
    const clock = new ManualClock();
    const b = await openBroker({ clock });
    await b.createTopic('t', SMALL);
    const c = b.consumer({ group: 'g', topics: 't' });
    let result: unknown;
    const polled = c.poll(10, { timeoutMs: 1000 }).then((r) => (result = r));
    await turns();
    clock.advance(999);
    await turns();
    expect(result).toBeUndefined();
    clock.advance(1);
    await polled;
    expect(result).toEqual([]);
  });

  it('stops a poll on abort, and ends iteration and polls on close', async () => {
    const b = await openBroker();
    await b.createTopic('t', SMALL);
    const c = b.consumer({ group: 'g', topics: 't' });
    const ac = new AbortController();
    const aborted = c.poll(10, { signal: ac.signal }).catch((e: unknown) => e);
    ac.abort();
    expect(await aborted).toMatchObject({ name: 'AbortError' });
    await b.send('t', { value: 'one' });
    const iterated: string[] = [];
    const loop = (async () => {
      for await (const m of c) iterated.push(text(m));
    })();
    await eventually(() => iterated.length === 1, 'the message');
    const pending = c.poll(10); // waiting for more
    await c.close();
    await loop; // the iteration ended
    expect(iterated).toEqual(['one']);
    expect(await pending).toEqual([]);
    expect(await c.poll(10)).toEqual([]);
  });

  it('closes a consumer when its signal aborts', async () => {
    const b = await openBroker();
    await b.createTopic('t', SMALL);
    const ac = new AbortController();
    const c = b.consumer({ group: 'g', topics: 't', signal: ac.signal });
    const other = b.consumer({ group: 'g', topics: 't' });
    expect(c.assignment()).toHaveLength(1);
    ac.abort();
    await eventually(() => other.assignment().length === 1, 'handover');
    expect(c.closed).toBe(true);
    expect(b.describeGroup('g').members.map((m) => m.name)).toEqual([other.name]);
  });
});

describe('push', () => {
  it('stops a run on abort, leaving the consumer open', async () => {
    const b = await openBroker();
    await b.createTopic('t', SMALL);
    const c = b.consumer({ group: 'g', topics: 't' });
    const ac = new AbortController();
    const seen: string[] = [];
    const running = c.run((m) => void seen.push(text(m)), { signal: ac.signal });
    await b.sendBatch('t', values(3));
    await eventually(() => seen.length === 3, 'first messages');
    ac.abort();
    await running;
    await b.sendBatch('t', values(2, 'after'));
    expect((await drain(c)).map(text)).toEqual(['after0', 'after1']);
  });

  it('refuses to poll while running, or to run twice', async () => {
    const b = await openBroker();
    await b.createTopic('t', SMALL);
    const c = b.consumer({ group: 'g', topics: 't' });
    const running = c.run(() => {});
    await expect(c.poll(1)).rejects.toThrow(TypeError);
    await expect(c.run(() => {})).rejects.toThrow(TypeError);
    await expect(c.run('nope' as never)).rejects.toThrow(TypeError);
    await expect(c.run(() => {}, { concurrency: 0 })).rejects.toThrow(RangeError);
    await c.close();
    await running;
  });

  it('waits in close() for the handlers in progress, and commits what they finished', async () => {
    const b = await openBroker();
    await b.createTopic('t', SMALL);
    await b.sendBatch('t', values(3));
    const c = b.consumer({ group: 'g', topics: 't' });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const finished: string[] = [];
    const running = c.run(async (m) => {
      if (m.offset === 1) await gate;
      finished.push(text(m));
    });
    await eventually(() => finished.length === 1, 'first message');
    let closed = false;
    const closing = c.close().then(() => (closed = true));
    await turns(5);
    expect(closed).toBe(false);
    release();
    await closing;
    await running;
    expect(finished).toEqual(['m0', 'm1']);
    expect(b.describeGroup('g').partitions[0].committedOffset).toBe(2);
  });
});

describe('pause and resume', () => {
  it('pauses a whole consumer, a topic, or one partition', async () => {
    const b = await openBroker();
    await b.createTopic('t', { ...SMALL, partitions: 2 });
    await b.createTopic('u', SMALL);
    const c = b.consumer({ group: 'g', topics: ['t', 'u'] });
    const send = () =>
      b.sendBatch('t', [
        { value: 't0', partition: 0 },
        { value: 't1', partition: 1 },
      ]).then(() => b.send('u', { value: 'u0' }));
    await send();
    c.pause();
    expect(c.describe().paused).toBe(true);
    expect(await drain(c)).toEqual([]);
    c.resume();
    expect((await drain(c)).map(text).sort()).toEqual(['t0', 't1', 'u0']);
    c.pause([{ topic: 't', partition: 1 }, { topic: 'u' }]);
    expect(c.describe().paused).toEqual([{ topic: 'u' }, { topic: 't', partition: 1 }]);
    await send();
    expect((await drain(c)).map(text)).toEqual(['t0']);
    c.resume([{ topic: 'u' }]);
    expect((await drain(c)).map(text)).toEqual(['u0']);
    c.resume();
    expect((await drain(c)).map(text)).toEqual(['t1']);
    expect(() => c.pause('t' as never)).toThrow(TypeError);
    expect(() => c.pause([{ topic: 't', partition: -1 }])).toThrow(RangeError);
    // A topic the consumer does not subscribe to (a typo, say) pauses nothing.
    expect(() => c.pause([{ topic: 't' }, { topic: 'nope' }])).toThrow(expect.objectContaining({ code: 'UNKNOWN_TOPIC' }));
    expect(c.describe().paused).toBe(false);
  });

  it('wakes a paused ack consumer\'s run when resumed', async () => {
    const b = await openBroker();
    await b.createTopic('t', SMALL);
    const c = b.consumer({ group: 'q', topics: 't', model: 'ack' });
    c.pause();
    const seen: string[] = [];
    const running = c.run((m) => void seen.push(text(m)));
    await b.sendBatch('t', values(2));
    await turns(5);
    expect(seen).toEqual([]);
    c.resume();
    await eventually(() => seen.length === 2, 'resumed');
    await c.close();
    await running;
    expect(b.describeGroup('q').lag).toBe(0);
  });
});

describe('consumer options', () => {
  it('refuses bad options and unknown topics', async () => {
    const b = await openBroker();
    await b.createTopic('t', SMALL);
    expect(() => b.consumer(null as never)).toThrow(TypeError);
    expect(() => b.consumer({ group: '', topics: 't' })).toThrow(RangeError);
    expect(() => b.consumer({ group: 'g', topics: [] })).toThrow(TypeError);
    expect(() => b.consumer({ group: 'g', topics: 't', model: 'queue' as never })).toThrow(RangeError);
    expect(() => b.consumer({ group: 'g', topics: 't', maxInFlight: 0 })).toThrow(RangeError);
    expect(() => b.consumer({ group: 'g', topics: 't', start: 'middle' as never })).toThrow(TypeError);
    expect(() => b.consumer({ group: 'g', topics: 't', bogus: 1 } as never)).toThrow(TypeError);
    expect(() => b.consumer({ group: 'g', topics: 't', signal: {} as never })).toThrow(TypeError);
    expect(() => b.consumer({ group: 'g', topics: ['t', 'nope'] })).toThrow(expect.objectContaining({ code: ErrorCode.UNKNOWN_TOPIC }));
    expect(b.listGroups()).toEqual([]);
    const c = b.consumer({ group: 'g', topics: 't' });
    await expect(c.poll(0)).rejects.toThrow(RangeError);
    await expect(c.poll(10, { timeoutMs: -5 })).rejects.toThrow(RangeError);
  });
});
