/**
 * In-process transactions: sends to several topics, acks and offset commits apply together on
 * commit and not at all on abort; consumers (both models) never read an open or aborted
 * transaction's records, read committed ones in order, and move past markers and aborted records
 * (the ack model's committed offset and lag too); a transaction left open by a broker that
 * stopped is aborted at the next open; bad use is a clear error.
 */
import { describe, expect, it } from 'vitest';
import { ErrorCode, type AckMessage } from '../../lib/index';
import { tmpDir } from '../helpers/tmp';
import { closeBroker, drain, openBroker, SMALL, text } from './broker-fixtures';

describe('broker.transaction', () => {
  it('makes sends to several topics visible together on commit, never before', async () => {
    const b = await openBroker();
    await b.createTopic('a', SMALL);
    await b.createTopic('b', { ...SMALL, partitions: 2 });
    const ca = b.consumer({ group: 'g', topics: 'a', model: 'ack' });
    const cb = b.consumer({ group: 'h', topics: 'b' });
    let seenInside: string[] = [];
    const result = await b.transaction(async (tx) => {
      await tx.send('a', { value: 'a1' });
      await tx.send('b', { value: 'b1', partition: 0 });
      await tx.send('b', { value: 'b2', partition: 1 });
      await b.send('a', { value: 'plain after the transaction began' });
      seenInside = [...(await drain(ca)), ...(await drain(cb))].map(text);
      return 42;
    });
    expect(result).toBe(42);
    expect(seenInside).toEqual([]); // the open transaction holds back even later plain sends
    expect((await drain(ca)).map(text)).toEqual(['a1', 'plain after the transaction began']);
    expect((await drain(cb)).map(text).sort()).toEqual(['b1', 'b2']);
  });

  it('an aborted transaction is never read; consumers go past it, and the ack model commits past it', async () => {
    const b = await openBroker();
    await b.createTopic('t', SMALL);
    const acker = b.consumer({ group: 'q', topics: 't', model: 'ack' });
    const reader = b.consumer({ group: 'l', topics: 't' });
    await expect(
      b.transaction(async (tx) => {
        await tx.send('t', { value: 'never-1' });
        await tx.send('t', { value: 'never-2' });
        throw new Error('changed my mind');
      }),
    ).rejects.toThrow('changed my mind');
    await b.transaction(async (tx) => {
      await tx.send('t', { value: 'x' });
      await tx.abort();
    });
    await b.send('t', { value: 'after' });
    const acked = await drain(acker);
    expect(acked.map(text)).toEqual(['after']);
    await acked[0].ack();
    expect((await drain(reader)).map(text)).toEqual(['after']);
    const part = b.describeGroup('q').partitions[0];
    expect(part.lag).toBe(0);
    expect(part.committedOffset).toBe(b.describeTopic('t').partitions[0].endOffset);
  });

  it('acks and offset commits apply with the commit, and not at all on abort', async () => {
    const b = await openBroker();
    await b.createTopic('in', SMALL);
    await b.createTopic('logs', SMALL);
    await b.createTopic('out', SMALL);
    await b.sendBatch('in', [{ value: 'one' }, { value: 'two' }]);
    await b.sendBatch('logs', [{ value: 'l0' }, { value: 'l1' }]);
    const worker = b.consumer({ group: 'w', topics: 'in', model: 'ack', visibilityTimeoutMs: 60_000 });
    const log = b.consumer({ group: 'o', topics: 'logs', autoCommit: false });
    await drain(log);
    const [one, two] = (await drain(worker)) as AckMessage[];
    await b.transaction(async (tx) => {
      await tx.send('out', { value: `done ${text(one)}` });
      tx.ack(one);
      tx.commit({ group: 'o', topic: 'logs', partition: 0, offset: 2 });
    });
    await expect(
      b.transaction(async (tx) => {
        await tx.send('out', { value: `done ${text(two)}` });
        tx.ack(two);
        throw new Error('failed');
      }),
    ).rejects.toThrow('failed');
    expect(() => one.ack()).toThrow(expect.objectContaining({ code: ErrorCode.ALREADY_ACKED }));
    await two.ack(); // the aborted transaction's ack never happened
    expect(b.describeGroup('w').partitions[0].committedOffset).toBe(2);
    expect(b.describeGroup('o').partitions[0].committedOffset).toBe(2);
    const out = b.consumer({ group: 'r', topics: 'out', start: 'earliest' });
    expect((await drain(out)).map(text)).toEqual(['done one']);
  });

  it('a transaction left open by a broker that stopped is aborted at the next open', async () => {
    const dir = tmpDir('sluice-broker-');
    let b = await openBroker({}, dir);
    await b.createTopic('t', SMALL);
    let release!: () => void;
    const hold = new Promise<void>((r) => (release = r));
    const running = b.transaction(async (tx) => {
      await tx.send('t', { value: 'open' });
      await hold;
    });
    await new Promise((r) => setTimeout(r, 50));
    await closeBroker(b); // the transaction is still open: its partition closes under it
    release();
    await expect(running).rejects.toThrow();
    b = await openBroker({}, dir);
    await b.send('t', { value: 'next' });
    const c = b.consumer({ group: 'g', topics: 't', start: 'earliest' });
    expect((await drain(c)).map(text)).toEqual(['next']);
    await closeBroker(b);
  });

  it('refuses bad use with clear errors', async () => {
    const b = await openBroker();
    await b.createTopic('t', SMALL);
    let kept: Parameters<Parameters<typeof b.transaction>[0]>[0] | undefined;
    await b.transaction(async (tx) => {
      kept = tx;
      await expect(b.transaction(async () => {})).rejects.toMatchObject({ code: ErrorCode.TRANSACTION_NESTED });
      expect(() => tx.commit({ group: 'nope', topic: 't', partition: 0, offset: 0 })).toThrow(expect.objectContaining({ code: ErrorCode.UNKNOWN_GROUP }));
      expect(() => tx.ack({} as AckMessage)).toThrow(TypeError);
    });
    await expect(kept!.send('t', { value: 'late' })).rejects.toMatchObject({ code: ErrorCode.TRANSACTION_ENDED });
    expect(() => kept!.ack({} as AckMessage)).toThrow(expect.objectContaining({ code: ErrorCode.TRANSACTION_ENDED }));
    await expect(b.transaction('no' as never)).rejects.toThrow(TypeError);
  });
});
