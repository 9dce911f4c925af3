/**
 * Routing in-process: consumers subscribe by topic pattern ('*' one word, '#' any number), and
 * topics created later that match are consumed without a restart (dead-letter topics are left
 * out); a group's filter delivers only the messages it accepts, and its position moves past the
 * others (lag 0, nothing redelivered after a restart), in both delivery models.
 */
import { describe, expect, it } from 'vitest';
import type { AckMessage, OffsetMessage } from '../../lib/index';
import { tmpDir } from '../helpers/tmp';
import { closeBroker, drain, eventually, openBroker, SMALL, text } from './broker-fixtures';

describe('topic patterns', () => {
  it('consume every matching topic, and topics created later', async () => {
    const b = await openBroker();
    for (const t of ['orders.eu', 'orders.us', 'orders.eu.paid', 'logs', 'logs.app.err', 'other']) await b.createTopic(t, SMALL);
    const orders = b.consumer({ group: 'orders', topics: 'orders.*' });
    const logs = b.consumer({ group: 'logs', topics: ['logs.#', 'other'] });
    for (const t of b.listTopics()) await b.send(t, { value: t });
    expect((await drain(orders)).map(text).sort()).toEqual(['orders.eu', 'orders.us']);
    expect((await drain(logs)).map(text).sort()).toEqual(['logs', 'logs.app.err', 'other']);
    await b.createTopic('orders.asia', SMALL);
    await b.send('orders.asia', { value: 'new' });
    await eventually(() => orders.describe().topics.includes('orders.asia'), 'the new topic taken up');
    expect((await drain(orders)).map(text)).toEqual(['new']);
    expect(b.describeGroup('orders').partitions.map((p) => p.topic).sort()).toEqual(['orders.asia', 'orders.eu', 'orders.us']);
  });

  it('a consumer with only a pattern waits for a topic to match; dead-letter topics are left out', async () => {
    const b = await openBroker();
    const c = b.consumer({ group: 'w', topics: 'jobs.#', model: 'ack', maxDeliveries: 1 });
    expect(await c.poll(10, { timeoutMs: 0 })).toEqual([]);
    await b.createTopic('jobs.mail', SMALL);
    await b.send('jobs.mail', { value: 'send it' });
    const [m] = (await drain(c)) as AckMessage[];
    m.reject({ reason: 'bad address' });
    await eventually(() => b.listTopics().includes('jobs.mail.dlq'), 'the dead-letter topic');
    await b.send('jobs.mail.dlq', { value: 'not for w' });
    expect(await drain(c)).toEqual([]);
    expect(c.describe().topics).toEqual(['jobs.mail']);
  });

  it('a malformed pattern is a clear error', async () => {
    const b = await openBroker();
    expect(() => b.consumer({ group: 'g', topics: 'orders*' })).toThrow(/invalid topic pattern/);
  });
});

describe('filters', () => {
  const sends = [
    { value: 'eu-big', headers: { region: 'eu', amount: '500' } },
    { value: 'eu-small', headers: { region: 'eu', amount: '5' } },
    { value: 'us-big', headers: { region: 'us', amount: '900' } },
    { value: 'none' },
    { value: 'eu-big-2', headers: { region: 'eu', amount: '101' } },
    { value: 'us-tail', headers: { region: 'us' } },
  ];
  const FILTER = "region = 'eu' AND amount > 100";

  it('offset model: only accepted messages are delivered; the position moves past the others', async () => {
    const dir = tmpDir('sluice-filter-');
    const b = await openBroker({}, dir);
    await b.createTopic('pay', SMALL);
    await b.sendBatch('pay', sends);
    const c = b.consumer({ group: 'big-eu', topics: 'pay', filter: FILTER });
    const got = (await drain(c)) as OffsetMessage[];
    expect(got.map(text)).toEqual(['eu-big', 'eu-big-2']);
    await c.close();
    expect(b.describeGroup('big-eu').partitions[0]).toMatchObject({ committedOffset: 6, lag: 0 });
    await closeBroker(b);
    const again = await openBroker({}, dir);
    const c2 = again.consumer({ group: 'big-eu', topics: 'pay', filter: FILTER });
    expect(await drain(c2)).toEqual([]);
  });

  it('ack model: rejected messages count as acked', async () => {
    const b = await openBroker();
    await b.createTopic('pay', { ...SMALL, partitions: 2 });
    await b.sendBatch('pay', sends.map((m) => ({ ...m, partition: 0 })));
    const c = b.consumer({ group: 'q', topics: 'pay', model: 'ack', filter: "region IN ('us') OR amount < 10" });
    const got = (await drain(c)) as AckMessage[];
    expect(got.map(text)).toEqual(['eu-small', 'us-big', 'us-tail']);
    for (const m of got) await m.ack();
    await eventually(() => b.describeGroup('q').partitions[0].lag === 0, 'lag 0');
  });

  it('every member of a group gives the same filter; a malformed one is a clear error', async () => {
    const b = await openBroker();
    await b.createTopic('pay', SMALL);
    b.consumer({ group: 'g', topics: 'pay', filter: FILTER });
    expect(() => b.consumer({ group: 'g', topics: 'pay' })).toThrow(/filters by .*every member gives the same filter/);
    expect(() => b.consumer({ group: 'h', topics: 'pay', filter: "region = 'eu" })).toThrow(/invalid filter/);
  });
});
