/**
 * broker.resetGroup: a group's position in a topic moves to earliest, latest, an offset or a
 * time, in both delivery models; what it had delivered or acked past the new position is
 * forgotten (a rewind delivers again, a skip never); refused while the group has members; the
 * new position survives a restart.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock, SluiceError, type AckMessage } from '../../lib/index';
import { tmpDir } from '../helpers/tmp';
import { closeBroker, drain, openBroker, SMALL, text, values } from './broker-fixtures';

describe('resetGroup', () => {
  it('ack model: rewind to earliest delivers everything again, acks past it forgotten; latest skips', async () => {
    const dir = tmpDir('sluice-reset-');
    const b = await openBroker({}, dir);
    await b.createTopic('t', { ...SMALL, partitions: 2 });
    await b.sendBatch('t', values(6).map((m, i) => ({ ...m, partition: i % 2 })));
    let c = b.consumer({ group: 'g', topics: 't', model: 'ack' });
    for (const m of (await drain(c)) as AckMessage[]) await m.ack();
    await expect(b.resetGroup('g', 't', 'earliest')).rejects.toSatisfy((e: unknown) => e instanceof SluiceError && e.code === 'GROUP_ACTIVE');
    await c.close();
    expect(await b.resetGroup('g', 't', 'earliest')).toEqual([
      { partition: 0, offset: 0 },
      { partition: 1, offset: 0 },
    ]);
    expect(b.describeGroup('g').lag).toBe(6);
    await closeBroker(b);
    const again = await openBroker({}, dir);
    c = again.consumer({ group: 'g', topics: 't', model: 'ack' });
    const got = (await drain(c)) as AckMessage[];
    expect(got.map(text).sort()).toEqual(['m0', 'm1', 'm2', 'm3', 'm4', 'm5']);
    await c.close();
    await again.resetGroup('g', 't', 'latest');
    expect(again.describeGroup('g').lag).toBe(0);
  });

  it('offset model: to an offset (clamped) and to a time', async () => {
    const clock = new ManualClock();
    const b = await openBroker({ clock });
    await b.createTopic('t', SMALL);
    await b.sendBatch('t', values(3, 'early'));
    clock.advance(60_000);
    const later = clock.now();
    await b.sendBatch('t', values(2, 'late'));
    const c = b.consumer({ group: 'g', topics: 't' });
    await drain(c);
    await c.close();
    expect(await b.resetGroup('g', 't', { offset: 1 })).toEqual([{ partition: 0, offset: 1 }]);
    expect(await b.resetGroup('g', 't', { offset: 99 })).toEqual([{ partition: 0, offset: 5 }]);
    expect(await b.resetGroup('g', 't', { timestamp: later })).toEqual([{ partition: 0, offset: 3 }]);
    const c2 = b.consumer({ group: 'g', topics: 't' });
    expect((await drain(c2)).map(text)).toEqual(['late0', 'late1']);
  });

  it('bad input is a clear error', async () => {
    const b = await openBroker();
    await b.createTopic('t', SMALL);
    await b.createTopic('u', SMALL);
    (await b.consumer({ group: 'g', topics: 't' }).close());
    await expect(b.resetGroup('nope', 't', 'earliest')).rejects.toSatisfy((e: unknown) => e instanceof SluiceError && e.code === 'UNKNOWN_GROUP');
    await expect(b.resetGroup('g', 'u', 'earliest')).rejects.toSatisfy((e: unknown) => e instanceof SluiceError && e.code === 'UNKNOWN_TOPIC');
    await expect(b.resetGroup('g', 't', { offset: -1 })).rejects.toThrow(/reset target must be/);
    await expect(b.resetGroup('g', 't', 'first' as never)).rejects.toThrow(/reset target must be/);
  });
});
