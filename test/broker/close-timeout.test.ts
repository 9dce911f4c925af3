/**
 * close() of a consumer (and of the broker) never hangs on a run() handler that never settles:
 * after closeTimeoutMs (on the broker's clock, a ManualClock here) the handlers are abandoned.
 * Ack model: their messages are delivered again to the group. Offset model: they are not
 * committed, so the next member gets them again. Whatever the abandoned handler does later
 * changes nothing.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock, type AckMessage, type OffsetMessage } from '../../lib/index';
import { closeBroker, drain, eventually, openBroker, SMALL, text, turns, values } from './broker-fixtures';

describe('close timeout', () => {
  it('ack model: abandons a handler that never settles; its message is delivered again', async () => {
    const clock = new ManualClock();
    const b = await openBroker({ clock });
    await b.createTopic('t', SMALL);
    await b.sendBatch('t', values(3));
    const c = b.consumer({ group: 'g', topics: 't', model: 'ack', closeTimeoutMs: 5000 });
    const seen: string[] = [];
    let release!: () => void;
    const stuck = new Promise<void>((r) => (release = r));
    const running = c.run(async (m: AckMessage) => {
      seen.push(text(m));
      if (text(m) === 'm1') await stuck; // never settles until the test says so
    });
    await eventually(() => seen.length === 2, 'the stuck handler');
    let closed = false;
    const closing = c.close().then(() => (closed = true));
    await turns(5);
    expect(closed).toBe(false);
    clock.advance(5000);
    await closing;
    await running;
    const next = b.consumer({ group: 'g', topics: 't', model: 'ack' });
    const again = await drain(next);
    expect(again.map((m) => [text(m), m.deliveryCount])).toEqual([
      ['m1', 2],
      ['m2', 1],
    ]);
    release(); // the abandoned handler finishes late: no ack is made for it
    await turns(5);
    expect(b.describeGroup('g').partitions[0].committedOffset).toBe(1);
  });

  it('offset model: the abandoned message is not committed', async () => {
    const clock = new ManualClock();
    const b = await openBroker({ clock });
    await b.createTopic('t', SMALL);
    await b.sendBatch('t', values(3));
    const c = b.consumer({ group: 'g', topics: 't', closeTimeoutMs: 1000 });
    const seen: string[] = [];
    const running = c.run(async (m: OffsetMessage) => {
      seen.push(text(m));
      if (text(m) === 'm1') await new Promise(() => {});
    });
    await eventually(() => seen.length === 2, 'the stuck handler');
    const closing = c.close();
    clock.advance(1000);
    await closing;
    await running;
    expect(b.describeGroup('g').partitions[0].committedOffset).toBe(1);
    const next = b.consumer({ group: 'g', topics: 't' });
    expect((await drain(next)).map(text)).toEqual(['m1', 'm2']);
  });

  it('broker.close() resolves too, and close({timeoutMs}) overrides the consumer option', async () => {
    const clock = new ManualClock();
    const b = await openBroker({ clock });
    await b.createTopic('t', SMALL);
    await b.send('t', { value: 'x' });
    const c = b.consumer({ group: 'g', topics: 't', model: 'ack' });
    let started = false;
    void c.run(() => {
      started = true;
      return new Promise(() => {});
    });
    await eventually(() => started, 'the handler');
    const closing = closeBroker(b);
    clock.advance(30_000); // the default closeTimeoutMs
    await closing;
    expect(b.closed).toBe(true);
  });

  it('rejects a bad closeTimeoutMs', async () => {
    const b = await openBroker();
    await b.createTopic('t', SMALL);
    expect(() => b.consumer({ group: 'g', topics: 't', closeTimeoutMs: -1 })).toThrow(RangeError);
    const c = b.consumer({ group: 'g', topics: 't' });
    expect(() => c.close({ timeoutMs: 'x' as unknown as number })).toThrow(TypeError);
  });
});
