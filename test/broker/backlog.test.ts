/**
 * Bounded queues (peak shaving): a topic's backlog is what its slowest group has not consumed
 * (every retained message while no group tracks it). At maxBacklog a send fails with QUEUE_FULL at
 * once, or, asked to wait, is admitted in arrival order when consumers make room, or fails with
 * QUEUE_FULL when its wait runs out (timers driven by a ManualClock, nothing sleeps).
 */
import { describe, expect, it, vi } from 'vitest';
import { ErrorCode, ManualClock, type SendConfirm } from '../../lib/index';
import { closeBroker, drain, openBroker, SMALL, turns, values } from './broker-fixtures';

const FULL = { code: ErrorCode.QUEUE_FULL };

describe('bounded topics', () => {
  it('rejects sends past maxBacklog with QUEUE_FULL while nobody consumes', async () => {
    const b = await openBroker();
    await b.createTopic('t', { ...SMALL, partitions: 2, maxBacklog: 5 });
    await b.sendBatch('t', values(4));
    await b.send('t', { value: 'fifth' });
    await expect(b.send('t', { value: 'sixth' })).rejects.toMatchObject(FULL);
    await expect(b.sendBatch('t', values(2))).rejects.toMatchObject(FULL);
    expect(b.describeTopic('t')).toMatchObject({ messages: 5, backlog: 5 });
  });

  it('admits a batch whole or not at all, and never one larger than maxBacklog', async () => {
    const b = await openBroker();
    await b.createTopic('t', { ...SMALL, maxBacklog: 5 });
    await b.sendBatch('t', values(3));
    await expect(b.sendBatch('t', values(3))).rejects.toMatchObject(FULL);
    expect(b.describeTopic('t').messages).toBe(3);
    await expect(b.sendBatch('t', values(6), { timeoutMs: 1000 })).rejects.toMatchObject(FULL);
    await b.sendBatch('t', values(2));
  });

  it('makes room as the slowest group commits or acks', async () => {
    const b = await openBroker();
    await b.createTopic('t', { ...SMALL, maxBacklog: 4 });
    const fast = b.consumer({ group: 'fast', topics: 't' });
    const slow = b.consumer({ group: 'slow', topics: 't', model: 'ack' });
    await b.sendBatch('t', values(4));
    await drain(fast);
    await fast.commit();
    expect(b.describeTopic('t').backlog).toBe(4); // the slow group has consumed nothing
    await expect(b.send('t', { value: 'x' })).rejects.toMatchObject(FULL);
    const got = await drain(slow);
    await got[2].ack(); // out of order: the lowest unacked is still 0, but message 2 is consumed
    expect(b.describeTopic('t').backlog).toBe(3);
    await b.send('t', { value: 'x' });
    await expect(b.send('t', { value: 'y' })).rejects.toMatchObject(FULL);
    await got[0].ack();
    expect(b.describeTopic('t').backlog).toBe(3);
    await b.send('t', { value: 'y' });
    await expect(b.send('t', { value: 'z' })).rejects.toMatchObject(FULL);
  });

  it('does not let one unacked message hold the backlog full when everything after it was acked', async () => {
    const clock = new ManualClock();
    const b = await openBroker({ clock });
    await b.createTopic('t', { ...SMALL, maxBacklog: 5 });
    const c = b.consumer({ group: 'q', topics: 't', model: 'ack' });
    await b.sendBatch('t', values(5));
    const got = await drain(c);
    let admitted = false;
    const waiting = b.send('t', { value: 'waited' }, { timeoutMs: 60_000 }).then(() => (admitted = true));
    for (const m of got.slice(1)) await m.ack(); // message 0 stays unacked: committed stays 0
    await turns(3);
    expect(admitted).toBe(true); // a waiting send is let in by acks ahead too
    await waiting;
    expect(b.describeTopic('t').backlog).toBe(2);
    expect(b.describeGroup('q')).toMatchObject({ lag: 2, partitions: [expect.objectContaining({ committedOffset: 0, ackedAhead: 4, lag: 2 })] });
    await b.sendBatch('t', values(3, 'more'));
    await expect(b.send('t', { value: 'over' })).rejects.toMatchObject(FULL);
  });

  it('lets a waiting send in when room appears, in arrival order, and times out the others', async () => {
    const clock = new ManualClock();
    const b = await openBroker({ clock });
    await b.createTopic('t', { ...SMALL, maxBacklog: 3 });
    const c = b.consumer({ group: 'g', topics: 't', model: 'ack' });
    await b.sendBatch('t', values(3));
    const order: string[] = [];
    const w1 = b.send('t', { value: 'w1' }, { timeoutMs: 5000 }).then((r) => (order.push('w1'), r));
    const w2 = b.sendBatch('t', values(2, 'w2-'), { timeoutMs: 5000 }).then((r) => (order.push('w2'), r));
    const w3 = b.send('t', { value: 'w3' }, { timeoutMs: 1000 }).catch((e: unknown) => (order.push('w3 failed'), e));
    // A send that does not wait fails at once, even if it would fit, while others wait.
    await turns();
    expect(b.describeTopic('t').waitingSends).toBe(3);
    await expect(b.send('t', { value: 'impatient' })).rejects.toMatchObject(FULL);
    const msgs = await drain(c);
    msgs[0].ack(); // room for one: w1 goes in; w2 needs two and waits
    await vi.waitFor(() => expect(order).toEqual(['w1'])); // confirmed once written
    await turns();
    expect(order).toEqual(['w1']);
    clock.advance(1000); // w3's wait runs out (w2 is ahead of it, so w3 never got a chance)
    await turns();
    expect(order).toEqual(['w1', 'w3 failed']);
    expect(await w3).toMatchObject(FULL);
    msgs[1].ack();
    msgs[2].ack(); // room for two: w2 goes in
    await vi.waitFor(() => expect(order).toEqual(['w1', 'w3 failed', 'w2']));
    expect(((await w1) as SendConfirm).offset).toBe(3);
    expect(((await w2) as SendConfirm[]).map((x) => x.offset)).toEqual([4, 5]);
    clock.advance(10_000);
    const rest = await drain(c);
    expect(rest.map((m) => (m.value as Buffer).toString())).toEqual(['w1', 'w2-0', 'w2-1']);
  });

  it('fails a waiting send with QUEUE_FULL when its wait runs out', async () => {
    const clock = new ManualClock();
    const b = await openBroker({ clock });
    await b.createTopic('t', { ...SMALL, maxBacklog: 1 });
    await b.send('t', { value: 'a' });
    const waiting = b.send('t', { value: 'b' }, { timeoutMs: 250 });
    let settled = false;
    void waiting.catch(() => (settled = true));
    clock.advance(249);
    await turns();
    expect(settled).toBe(false);
    clock.advance(1);
    await expect(waiting).rejects.toMatchObject(FULL);
    expect(b.describeTopic('t').messages).toBe(1);
  });

  it('fails waiting sends when the topic is deleted or the broker closes', async () => {
    const b = await openBroker();
    await b.createTopic('t', { ...SMALL, maxBacklog: 1 });
    await b.createTopic('u', { ...SMALL, maxBacklog: 1 });
    await b.send('t', { value: 'a' });
    await b.send('u', { value: 'a' });
    const onT = b.send('t', { value: 'b' }, { timeoutMs: 60_000 }).catch((e: unknown) => e);
    const onU = b.send('u', { value: 'b' }, { timeoutMs: 60_000 }).catch((e: unknown) => e);
    await b.deleteTopic('t');
    expect(await onT).toMatchObject({ code: ErrorCode.UNKNOWN_TOPIC });
    await closeBroker(b);
    expect(await onU).toMatchObject({ code: ErrorCode.CLOSED });
  });
});
