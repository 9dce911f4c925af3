/**
 * Retention: a topic's retention limits reach every partition Log; a group that had not consumed
 * messages retention deleted goes on from the first message left (both models), and the backlog
 * only counts what is still retained.
 */
import { describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../../lib/index';
import { drain, openBroker, text, turns } from './broker-fixtures';

const SEGMENT = 64 * 1024;

describe('retention', () => {
  it('deletes old segments and moves lagging groups past them', async () => {
    const b = await openBroker();
    await b.createTopic('t', { segmentBytes: SEGMENT, retentionBytes: 2 * SEGMENT });
    const log = b.consumer({ group: 'log', topics: 't' });
    const q = b.consumer({ group: 'q', topics: 't', model: 'ack' });
    await b.sendBatch('t', [{ value: 'early-0' }, { value: 'early-1' }]);
    const [early] = await q.poll(1); // in flight when its segment goes
    const filler = Buffer.alloc(1000, 1);
    for (let i = 0; i < 10; i++) await b.sendBatch('t', Array.from({ length: 50 }, () => ({ value: filler })));
    await b.send('t', { value: 'last' });
    const d = b.describeTopic('t');
    const start = d.partitions[0].startOffset;
    expect(start).toBeGreaterThan(2);
    expect(d.backlog).toBe(d.partitions[0].endOffset - start);
    const fromLog = await drain(log);
    expect(fromLog[0].offset).toBe(start);
    expect(text(fromLog.at(-1)!)).toBe('last');
    const fromQ = await drain(q);
    expect(fromQ[0].offset).toBe(start);
    for (const m of fromQ) m.ack();
    expect(b.describeGroup('q').lag).toBe(0);
    expect(b.describeGroup('log').lag).toBe(0);
    expect(early.offset).toBe(0);
  });

  it('makes room in a full bounded topic as retention deletes messages, for waiting sends too', async () => {
    const clock = new ManualClock();
    const b = await openBroker({ clock });
    await b.createTopic('t', { segmentBytes: SEGMENT, retentionMs: 5000, maxBacklog: 4 });
    await b.sendBatch('t', [{ value: 'a' }, { value: 'b' }, { value: 'c' }, { value: 'd' }]);
    await expect(b.send('t', { value: 'x' })).rejects.toMatchObject({ code: 'QUEUE_FULL' });
    let admitted = false;
    const waiting = b.send('t', { value: 'waited' }, { timeoutMs: 60_000 }).then(() => (admitted = true));
    clock.advance(4000);
    await turns();
    expect(admitted).toBe(false); // nothing expired yet
    clock.advance(3000); // a..d are 7 s old, past retentionMs: deleted, and the waiting send gets in
    await vi.waitFor(() => expect(admitted).toBe(true)); // confirmed once the writer thread wrote it
    await waiting;
    expect(b.describeTopic('t')).toMatchObject({ messages: 1, backlog: 1 });
    // A send that does not wait also finds room retention can make.
    await b.sendBatch('t', [{ value: 'e' }, { value: 'f' }, { value: 'g' }]);
    await expect(b.send('t', { value: 'y' })).rejects.toMatchObject({ code: 'QUEUE_FULL' });
    clock.advance(6000);
    await b.send('t', { value: 'y' });
    expect(text((await drain(b.consumer({ group: 'g', topics: 't' })))[0])).toBe('y');
  });
});
