/**
 * Message expiry: per message (`ttlMs`) and per topic (`messageTtlMs`), the earlier holding. An
 * expired message is never delivered: the offset model passes it over; the ack model dead-letters
 * it with reason `expired` when the consumer has a dead-letter setting, else counts it acked.
 * Time is a ManualClock for the broker; nothing sleeps but the dead letters' transaction.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock, type ConsumedMessage } from '../../lib/index';
import { drain, openBroker, SMALL, text, turns } from './broker-fixtures';

function header(m: ConsumedMessage, key: string): string | undefined {
  return m.headers.find((h) => h.key === key)?.value?.toString();
}

describe('TTL', () => {
  it('per message: an expired message is never delivered, in either model', async () => {
    const clock = new ManualClock();
    const b = await openBroker({ clock });
    await b.createTopic('t', SMALL);
    await b.send('t', { value: 'short', ttlMs: 1000 });
    await b.send('t', { value: 'long', ttlMs: 60_000 });
    await b.send('t', { value: 'forever' });
    clock.advance(1000);
    await turns();
    const offset = b.consumer({ group: 'o', topics: 't' });
    const ack = b.consumer({ group: 'a', topics: 't', model: 'ack' });
    expect((await drain(offset)).map(text)).toEqual(['long', 'forever']);
    expect((await drain(ack)).map(text)).toEqual(['long', 'forever']);
    // The expired one counts as consumed for the ack model.
    expect(b.describeGroup('a').partitions[0]).toMatchObject({ inFlight: 2, lag: 2 });
    await expect(b.send('t', { value: 'x', ttlMs: 0 })).rejects.toThrow(RangeError);
    await expect(b.send('t', { value: 'x', headers: { 'sluice.expires': '1' } })).rejects.toThrow(/reserved/);
  });

  it('per topic, and dead-lettered with reason expired where the consumer has a dead-letter setting', async () => {
    const clock = new ManualClock();
    const b = await openBroker({ clock });
    await b.createTopic('t', { ...SMALL, messageTtlMs: 5000 });
    await b.send('t', { value: 'stale', headers: { id: '1' } });
    clock.advance(5000);
    await b.send('t', { value: 'fresh' });
    await turns();
    const c = b.consumer({ group: 'q', topics: 't', model: 'ack', maxDeliveries: 5 });
    expect((await drain(c)).map(text)).toEqual(['fresh']);
    let dead: ConsumedMessage[] = [];
    let reader: ReturnType<typeof b.consumer> | undefined;
    for (const giveUp = Date.now() + 20_000; dead.length === 0 && Date.now() < giveUp; ) {
      if (b.listTopics().includes('t.dlq')) dead = await drain((reader ??= b.consumer({ group: 'r', topics: 't.dlq', start: 'earliest' })));
      if (dead.length === 0) await new Promise((r) => setTimeout(r, 5));
    }
    expect(dead.map(text)).toEqual(['stale']);
    expect(header(dead[0], 'sluice.dlq.reason')).toBe('expired');
    expect(header(dead[0], 'id')).toBe('1');
    expect(b.describeTopic('t').config.messageTtlMs).toBe(5000);
  });
});
