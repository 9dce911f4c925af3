/**
 * Dead letters (ack model): past maxDeliveries failed deliveries (nacks, throwing handlers,
 * visibility timeouts), or on msg.reject(), a message goes to the dead-letter topic (default
 * `<topic>.dlq`, made on first use) with its key, value, headers and timestamp and the
 * sluice.dlq.* headers, and is acked in the same transaction: the group never gets it again and
 * its committed offset moves on. Time is a ManualClock: nothing sleeps.
 */
import { describe, expect, it } from 'vitest';
import { ErrorCode, ManualClock, type AckMessage, type ConsumedMessage } from '../../lib/index';
import { tmpDir } from '../helpers/tmp';
import { closeBroker, drain, eventually, openBroker, SMALL, text, turns } from './broker-fixtures';

function header(m: ConsumedMessage, key: string): string | undefined {
  return m.headers.find((h) => h.key === key)?.value?.toString();
}

/** The dead letters in `topic`, once there are some (their transaction commits a few turns later). */
async function deadLetters(b: Awaited<ReturnType<typeof openBroker>>, topic = 't.dlq'): Promise<ConsumedMessage[]> {
  await eventually(() => b.listTopics().includes(topic), `topic ${topic}`);
  const c = b.consumer({ group: `read-${topic}`, topics: topic, start: 'earliest' });
  const got: ConsumedMessage[] = [];
  for (const giveUp = Date.now() + 20_000; got.length === 0 && Date.now() < giveUp; ) {
    got.push(...(await drain(c)));
    if (got.length === 0) await new Promise((r) => setTimeout(r, 5));
  }
  await c.close();
  return got;
}

describe('dead letters', () => {
  it('after maxDeliveries failed deliveries the message goes to <topic>.dlq with its metadata, acked', async () => {
    const b = await openBroker();
    await b.createTopic('t', { ...SMALL, partitions: 2 });
    await b.send('t', { key: 'k1', value: { order: 7 }, headers: { trace: 'abc' }, timestamp: 1_600_000_000_000, partition: 1 });
    const c = b.consumer({ group: 'q', topics: 't', model: 'ack', maxDeliveries: 3 });
    for (let i = 1; i <= 3; i++) {
      const [m] = (await drain(c)) as AckMessage[];
      expect(m.deliveryCount).toBe(i);
      m.nack();
    }
    const [dead] = await deadLetters(b);
    expect(await drain(c)).toEqual([]);
    expect(dead.key?.toString()).toBe('k1');
    expect(dead.value).toEqual({ order: 7 }); // decoded as the original was
    expect(dead.timestamp).toBe(1_600_000_000_000);
    expect(header(dead, 'trace')).toBe('abc');
    expect(dead.partition).toBe(1);
    expect(Object.fromEntries(dead.headers.filter((h) => h.key.startsWith('sluice.dlq.')).map((h) => [h.key, h.value?.toString()]))).toEqual({
      'sluice.dlq.topic': 't',
      'sluice.dlq.partition': '1',
      'sluice.dlq.offset': '0',
      'sluice.dlq.group': 'q',
      'sluice.dlq.reason': 'max-deliveries',
      'sluice.dlq.deliveries': '3',
    });
    expect(b.describeGroup('q').partitions[1]).toMatchObject({ committedOffset: 1, inFlight: 0, lag: 0 });
  });

  it('a throwing handler counts, and its error goes in the dead letter', async () => {
    const b = await openBroker();
    await b.createTopic('t', SMALL);
    await b.send('t', { value: 'poison' });
    const c = b.consumer({ group: 'q', topics: 't', model: 'ack', maxDeliveries: 2 });
    const run = c.run(
      () => {
        throw new TypeError('cannot parse poison');
      },
      { retryDelayMs: 0, onError: () => {} },
    );
    const [dead] = await deadLetters(b);
    expect(header(dead, 'sluice.dlq.error')).toBe('TypeError: cannot parse poison');
    expect(header(dead, 'sluice.dlq.deliveries')).toBe('2');
    await c.close();
    await run;
  });

  it('visibility timeouts count as failed deliveries', async () => {
    const clock = new ManualClock();
    const b = await openBroker({ clock });
    await b.createTopic('t', SMALL);
    await b.send('t', { value: 'slow' });
    const c = b.consumer({ group: 'q', topics: 't', model: 'ack', maxDeliveries: 1, visibilityTimeoutMs: 1000 });
    expect((await drain(c)).map(text)).toEqual(['slow']);
    clock.advance(1000);
    await turns();
    const [dead] = await deadLetters(b);
    expect(text(dead)).toBe('slow');
  });

  it('msg.reject() dead-letters at once with its reason; an explicit deadLetterTopic must exist', async () => {
    const b = await openBroker();
    await b.createTopic('t', SMALL);
    expect(() => b.consumer({ group: 'q', topics: 't', model: 'ack', deadLetterTopic: 'nowhere' })).toThrow(expect.objectContaining({ code: ErrorCode.UNKNOWN_TOPIC }));
    expect(() => b.consumer({ group: 'o', topics: 't', maxDeliveries: 3 })).toThrow(TypeError);
    await b.createTopic('rejects', SMALL);
    await b.send('t', { value: 'bad' });
    const c = b.consumer({ group: 'q', topics: 't', model: 'ack', deadLetterTopic: 'rejects' });
    const [m] = (await drain(c)) as AckMessage[];
    m.reject({ reason: 'invalid-order' });
    expect(() => m.ack()).toThrow(expect.objectContaining({ code: ErrorCode.ALREADY_ACKED }));
    const [dead] = await deadLetters(b, 'rejects');
    expect(header(dead, 'sluice.dlq.reason')).toBe('invalid-order');
    expect(header(dead, 'sluice.dlq.deliveries')).toBe('1');
    expect(b.listTopics()).not.toContain('t.dlq');
    expect(() => m.reject({ reason: '' })).toThrow(TypeError);
  });

  it('a message past its limit before a restart is dead-lettered when next due', async () => {
    const dir = tmpDir('sluice-broker-');
    let b = await openBroker({}, dir);
    await b.createTopic('t', SMALL);
    await b.send('t', { value: 'again' });
    let c = b.consumer({ group: 'q', topics: 't', model: 'ack' });
    for (let i = 0; i < 3; i++) ((await drain(c)) as AckMessage[])[0].nack();
    await turns();
    await closeBroker(b);
    b = await openBroker({}, dir);
    c = b.consumer({ group: 'q', topics: 't', model: 'ack', maxDeliveries: 3 });
    expect(await drain(c)).toEqual([]);
    const [dead] = await deadLetters(b);
    expect(text(dead)).toBe('again');
  });

  it('redrive sends dead letters back exactly once each, by filter and limit, or to another topic', async () => {
    const b = await openBroker();
    await b.createTopic('t', { ...SMALL, partitions: 2 });
    await b.createTopic('elsewhere', SMALL);
    await b.sendBatch('t', [
      { key: 'a', value: 'v-a', headers: { h: '1' } },
      { key: 'b', value: 'v-b' },
      { key: 'c', value: 'v-c' },
      { key: 'd', value: 'v-d' },
    ]);
    const c = b.consumer({ group: 'q', topics: 't', model: 'ack' });
    const first = (await drain(c)) as AckMessage[];
    for (const m of first) m.reject({ reason: text(m) === 'v-d' ? 'keep' : 'retry-me' });
    await eventually(() => b.listTopics().includes('t.dlq') && b.describeTopic('t.dlq').partitions.reduce((n, p) => n + p.lastStableOffset, 0) >= 8);
    await expect(b.redrive('nope')).rejects.toMatchObject({ code: ErrorCode.UNKNOWN_TOPIC });
    await expect(b.redrive('t.dlq', { limit: 0 })).rejects.toThrow(RangeError);
    expect(await b.redrive('t.dlq', { filter: (l) => l.reason === 'retry-me', limit: 2 })).toEqual({ redriven: 2 });
    expect(await b.redrive('t.dlq', { filter: (l) => l.reason === 'retry-me' })).toEqual({ redriven: 1 });
    expect(await b.redrive('t.dlq', { filter: (l) => l.reason === 'retry-me' })).toEqual({ redriven: 0 });
    const back = (await drain(c)) as AckMessage[];
    expect(back.map(text).sort()).toEqual(['v-a', 'v-b', 'v-c']);
    const a = back.find((m) => text(m) === 'v-a')!;
    expect(a.headers).toEqual([{ key: 'h', value: Buffer.from('1') }]);
    expect(a.key?.toString()).toBe('a');
    expect(first.find((m) => text(m) === 'v-a')!.partition).toBe(a.partition); // its original partition
    expect(await b.redrive('t.dlq', { to: 'elsewhere' })).toEqual({ redriven: 1 });
    const other = b.consumer({ group: 'e', topics: 'elsewhere' });
    expect((await drain(other)).map(text)).toEqual(['v-d']);
    expect(b.listGroups()).toContain('sluice.redrive');
  });
});
