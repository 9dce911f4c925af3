/**
 * The ack model (queue style): per-message ack() and nack({delayMs}), acks in any order (the
 * committed position is the lowest unacked offset), a per-member limit on messages in flight, a
 * visibility timeout after which an unacked message is delivered again, and a delivery count on
 * every message. Time is a ManualClock: nothing sleeps.
 */
import { describe, expect, it } from 'vitest';
import { ErrorCode, ManualClock, type AckMessage } from '../../lib/index';
import { drain, eventually, openBroker, SMALL, text, turns, values } from './broker-fixtures';

async function setup(n = 10, options: { maxInFlight?: number; visibilityTimeoutMs?: number } = {}) {
  const clock = new ManualClock();
  const b = await openBroker({ clock });
  await b.createTopic('t', SMALL);
  await b.sendBatch('t', values(n));
  const c = b.consumer({ group: 'q', topics: 't', model: 'ack', ...options });
  await turns();
  return { clock, b, c };
}

describe('ack model', () => {
  it('takes acks in any order; the committed offset is the lowest unacked', async () => {
    const { b, c } = await setup(6);
    const ms = await c.poll(10);
    expect(ms.map((m) => m.deliveryCount)).toEqual([1, 1, 1, 1, 1, 1]);
    const part = () => b.describeGroup('q').partitions[0];
    await ms[3].ack();
    await ms[1].ack();
    expect(part()).toMatchObject({ committedOffset: 0, ackedAhead: 2, inFlight: 4, lag: 4 }); // acked ahead is consumed
    const confirm = await ms[0].ack();
    expect(confirm).toEqual({ durable: true });
    expect(part()).toMatchObject({ committedOffset: 2, ackedAhead: 1, inFlight: 3, lag: 3 });
    ms[2].ack();
    expect(part()).toMatchObject({ committedOffset: 4, ackedAhead: 0, lag: 2 });
    ms[5].ack();
    ms[4].ack();
    expect(part()).toMatchObject({ committedOffset: 6, ackedAhead: 0, inFlight: 0, lag: 0 });
  });

  it('keeps each member under maxInFlight', async () => {
    const { c } = await setup(10, { maxInFlight: 3 });
    const first = await c.poll(100);
    expect(first.map(text)).toEqual(['m0', 'm1', 'm2']);
    expect(await c.poll(100, { timeoutMs: 0 })).toEqual([]);
    first[1].ack();
    const next = await c.poll(100, { timeoutMs: 0 });
    expect(next.map(text)).toEqual(['m3']);
    first[0].nack();
    first[2].ack();
    expect((await c.poll(100, { timeoutMs: 0 })).map(text)).toEqual(['m0', 'm4']);
    expect(c.describe().inFlight).toBe(3);
  });

  it('redelivers a message whose visibility timeout ran out, with its delivery count up', async () => {
    const { clock, b, c } = await setup(3, { visibilityTimeoutMs: 1000 });
    const [m0, m1, m2] = await c.poll(10);
    m1.ack();
    clock.advance(999);
    expect(await c.poll(10, { timeoutMs: 0 })).toEqual([]);
    clock.advance(1);
    const again = await c.poll(10, { timeoutMs: 0 });
    expect(again.map((m) => [text(m), m.deliveryCount])).toEqual([
      ['m0', 2],
      ['m2', 2],
    ]);
    expect(b.describeGroup('q').partitions[0]).toMatchObject({ redeliveries: 2, inFlight: 2 });
    // The first delivery of m0 is late, but its work was done: its ack stands, and the second
    // delivery's ack is then a double ack.
    m0.ack();
    expect(() => again[0].ack()).toThrow(expect.objectContaining({ code: ErrorCode.ALREADY_ACKED }));
    // A nack of the expired first delivery of m2 changes nothing (it is already back in play).
    m2.nack();
    again[1].ack();
    expect(b.describeGroup('q').partitions[0]).toMatchObject({ committedOffset: 3, inFlight: 0, pendingRedelivery: 0 });
    clock.advance(10_000);
    expect(await c.poll(10, { timeoutMs: 0 })).toEqual([]);
  });

  it('redelivers a nacked message at once, or after its delay', async () => {
    const { clock, b, c } = await setup(2);
    const [m0, m1] = await c.poll(10);
    m0.nack();
    const [again] = await c.poll(10, { timeoutMs: 0 });
    expect([text(again), again.deliveryCount]).toEqual(['m0', 2]);
    m1.nack({ delayMs: 500 });
    again.nack({ delayMs: 100 });
    expect(b.describeGroup('q').partitions[0].pendingRedelivery).toBe(2);
    expect(await c.poll(10, { timeoutMs: 0 })).toEqual([]);
    clock.advance(100);
    expect((await c.poll(10, { timeoutMs: 0 })).map((m) => [text(m), m.deliveryCount])).toEqual([['m0', 3]]);
    clock.advance(399);
    expect(await c.poll(10, { timeoutMs: 0 })).toEqual([]);
    clock.advance(1);
    expect((await c.poll(10, { timeoutMs: 0 })).map((m) => [text(m), m.deliveryCount])).toEqual([['m1', 2]]);
    expect(() => m1.nack({ delayMs: -1 })).toThrow(RangeError);
    expect(() => m1.nack('soon' as never)).toThrow(TypeError);
  });

  it('acks after a handler succeeds and nacks (retry after retryDelayMs) when it throws', async () => {
    const { clock, b, c } = await setup(3);
    const calls: [string, number][] = [];
    const errors: unknown[] = [];
    const running = c.run(
      (m) => {
        calls.push([text(m), m.deliveryCount]);
        if (text(m) === 'm1' && m.deliveryCount === 1) throw new Error('boom');
      },
      { retryDelayMs: 2000, onError: (e) => errors.push(e) },
    );
    await turns(5);
    expect(calls).toEqual([
      ['m0', 1],
      ['m1', 1],
      ['m2', 1],
    ]);
    expect(errors).toHaveLength(1);
    expect(b.describeGroup('q').partitions[0]).toMatchObject({ committedOffset: 1, ackedAhead: 1, pendingRedelivery: 1 });
    clock.advance(2000);
    await turns(5);
    expect(calls.at(-1)).toEqual(['m1', 2]);
    expect(b.describeGroup('q').partitions[0]).toMatchObject({ committedOffset: 3, inFlight: 0, lag: 0 });
    await c.close();
    await running;
  });

  it('lets a handler ack or nack itself, and then leaves the message alone', async () => {
    const { b, c } = await setup(2);
    const running = c.run(async (m) => {
      if (text(m) === 'm0') await m.ack();
      else if (m.deliveryCount === 1) m.nack({ delayMs: 60_000 });
    });
    await eventually(() => b.describeGroup('q').partitions[0].pendingRedelivery === 1, 'the nack');
    expect(b.describeGroup('q').partitions[0]).toMatchObject({ committedOffset: 1, pendingRedelivery: 1, inFlight: 0 });
    await c.close();
    await running;
  });

  it('refuses to ack twice, to ack after a nack, and to nack after an ack, changing nothing', async () => {
    const { b, c } = await setup(3);
    const [m0, m1] = await c.poll(2);
    m0.ack();
    const before = JSON.stringify(b.describeGroup('q'));
    expect(() => m0.ack()).toThrow(expect.objectContaining({ code: ErrorCode.ALREADY_ACKED }));
    expect(() => m0.nack()).toThrow(expect.objectContaining({ code: ErrorCode.ALREADY_ACKED }));
    expect(() => c.ack(m0)).toThrow(expect.objectContaining({ code: ErrorCode.ALREADY_ACKED }));
    expect(JSON.stringify(b.describeGroup('q'))).toBe(before);
    m1.nack({ delayMs: 1000 });
    expect(() => m1.ack()).toThrow(expect.objectContaining({ code: ErrorCode.ALREADY_ACKED }));
    expect(() => m1.nack()).toThrow(expect.objectContaining({ code: ErrorCode.ALREADY_ACKED }));
    expect(b.describeGroup('q').partitions[0]).toMatchObject({ committedOffset: 1, pendingRedelivery: 1, inFlight: 0 });
  });

  it('refuses a message of another group, or of the other model', async () => {
    const { b, c } = await setup(2);
    const other = b.consumer({ group: 'other', topics: 't', model: 'ack' });
    const log = b.consumer({ group: 'log', topics: 't' });
    const [mine] = await c.poll(1);
    const [theirs] = await other.poll(1);
    const before = JSON.stringify([b.describeGroup('q'), b.describeGroup('other')]);
    expect(() => c.ack(theirs)).toThrow(expect.objectContaining({ code: ErrorCode.WRONG_GROUP }));
    expect(() => c.nack(theirs)).toThrow(expect.objectContaining({ code: ErrorCode.WRONG_GROUP }));
    expect(() => other.ack(mine)).toThrow(expect.objectContaining({ code: ErrorCode.WRONG_GROUP }));
    expect(() => log.ack(mine)).toThrow(expect.objectContaining({ code: ErrorCode.WRONG_MODEL }));
    const [offsetMsg] = await log.poll(1);
    expect(() => c.ack(offsetMsg as unknown as AckMessage)).toThrow(TypeError);
    expect(() => c.ack({ offset: 0 } as unknown as AckMessage)).toThrow(TypeError);
    expect(() => c.commit()).toThrow(expect.objectContaining({ code: ErrorCode.WRONG_MODEL }));
    expect(() => c.seek({ topic: 't', offset: 0 })).toThrow(expect.objectContaining({ code: ErrorCode.WRONG_MODEL }));
    expect(JSON.stringify([b.describeGroup('q'), b.describeGroup('other')])).toBe(before);
    await c.ack(mine);
    await theirs.ack();
  });

  it('gives a closing consumer\'s messages in flight back at once', async () => {
    const { b, c } = await setup(4);
    const ms = await c.poll(4);
    ms[0].ack();
    const d = b.consumer({ group: 'q', topics: 't', model: 'ack' });
    await c.close();
    const again = await drain(d);
    expect(again.map((m) => [text(m), m.deliveryCount])).toEqual([
      ['m1', 2],
      ['m2', 2],
      ['m3', 2],
    ]);
    // An ack that arrives from the closed consumer's delivery still counts.
    ms[1].ack();
    expect(() => again[0].ack()).toThrow(expect.objectContaining({ code: ErrorCode.ALREADY_ACKED }));
  });
});

describe('ack model run() concurrency', () => {
  it('does not let messages time out while they wait for a run() worker busy with a slow handler', async () => {
    const { clock, b, c } = await setup(5, { maxInFlight: 10, visibilityTimeoutMs: 1000 });
    const handled: Array<[string, number]> = [];
    let finish: (() => void) | null = null;
    const running = c.run(
      async (m) => {
        handled.push([text(m), m.deliveryCount]);
        await new Promise<void>((r) => (finish = r));
      },
      { concurrency: 1 },
    );
    for (let i = 0; i < 5; i++) {
      await eventually(() => finish !== null, `handler ${i}`);
      clock.advance(600); // each message takes 600 ms of a 1000 ms visibility timeout
      const f = finish!;
      finish = null;
      f();
    }
    await eventually(() => b.describeGroup('q').lag === 0, 'everything acked');
    expect(handled).toEqual(values(5).map((v) => [v.value, 1]));
    expect(b.describeGroup('q').redeliveries).toBe(0);
    await c.close();
    await running;
  });

  it('processes up to `concurrency` messages at once, each once', async () => {
    const b = await openBroker();
    await b.createTopic('t', { ...SMALL, partitions: 2 });
    await b.sendBatch('t', values(200));
    const c = b.consumer({ group: 'q', topics: 't', model: 'ack', maxInFlight: 40 });
    let active = 0;
    let peak = 0;
    const seen = new Set<string>();
    const running = c.run(
      async (m) => {
        active++;
        peak = Math.max(peak, active);
        seen.add(text(m));
        for (let i = (m.offset * 7) % 5; i >= 0; i--) await new Promise((r) => setImmediate(r));
        active--;
      },
      { concurrency: 4 },
    );
    await eventually(() => seen.size === 200 && b.describeGroup('q').lag === 0, 'everything acked');
    expect(peak).toBe(4);
    await c.close();
    await running;
  });
});
