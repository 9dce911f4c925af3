/**
 * Half messages (txn/half-messages.ts): prepare() stores a message no consumer sees and nothing
 * waits for; commit() delivers it once, rollback() never; one left unresolved is settled by the
 * onTransactionCheck callback after afterMs ('unknown' asks again, maxChecks of them roll it
 * back, a throw is unknown), also after a restart, where it waits for a callback to be
 * registered. Time is a ManualClock: nothing sleeps.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock, SluiceError, type Broker, type HalfMessageCheck, type OffsetMessage } from '../../lib/index';
import { tmpDir } from '../helpers/tmp';
import { closeBroker, drain, eventually, openBroker, SMALL, text } from './broker-fixtures';

async function setup(dir = tmpDir('sluice-half-'), clock = new ManualClock()) {
  const b = await openBroker({ clock }, dir);
  if (!b.listTopics().includes('orders')) await b.createTopic('orders', { ...SMALL, partitions: 2 });
  return { b, clock, dir };
}

async function all(b: Broker): Promise<string[]> {
  const c = b.consumer({ group: `check-${Math.random()}`, topics: 'orders', start: 'earliest' });
  const got = (await drain(c)) as OffsetMessage[];
  await c.close();
  return got.map(text).sort();
}

const ENDED = (e: unknown) => e instanceof SluiceError && e.code === 'TRANSACTION_ENDED';

describe('half messages', () => {
  it('are invisible until committed, hold nothing back, and commit or roll back once', async () => {
    const { b } = await setup();
    const h = await b.prepare('orders', { key: 'o-1', value: 'order 1' });
    const r = await b.prepare('orders', { key: 'o-2', value: 'order 2' });
    await b.send('orders', { key: 'o-1', value: 'plain' });
    expect(await all(b)).toEqual(['plain']);
    expect(b.describe().half).toEqual({ pending: 2 });
    const where = await h.commit();
    expect(where).toMatchObject({ topic: 'orders', partition: h.partition });
    await r.rollback();
    await eventually(() => b.describe().half!.pending === 0);
    expect(await all(b)).toEqual(['order 1', 'plain']);
    await expect(h.commit()).rejects.toSatisfy(ENDED);
    await expect(r.commit()).rejects.toSatisfy(ENDED);
    await expect(r.rollback()).rejects.toSatisfy(ENDED);
  });

  it('an unresolved one is checked after afterMs: commit, rollback, unknown asked again, a throw is unknown', async () => {
    const { b, clock } = await setup();
    const seen: HalfMessageCheck[] = [];
    const answers = new Map<string, string[]>([
      ['commit me', ['unknown', 'commit']],
      ['roll me back', ['rollback']],
      ['throws', ['throw', 'commit']],
    ]);
    b.onTransactionCheck(
      (m) => {
        seen.push(m);
        const a = answers.get(String(m.value))!.shift()!;
        if (a === 'throw') throw new Error('database unreachable');
        return a as 'commit';
      },
      { afterMs: 1000, everyMs: 500 },
    );
    for (const v of answers.keys()) await b.prepare('orders', { value: v });
    clock.advance(999);
    await new Promise((r) => setTimeout(r, 20));
    expect(seen).toHaveLength(0);
    clock.advance(1);
    await eventually(() => seen.length === 3, 'the first checks');
    expect(seen.map((m) => m.checks)).toEqual([0, 0, 0]);
    await eventually(() => b.describe().half!.pending === 2, 'the rollback');
    clock.advance(500);
    await eventually(() => b.describe().half!.pending === 0, 'the second checks');
    expect(seen.slice(3).map((m) => [String(m.value), m.checks])).toEqual([
      ['commit me', 1],
      ['throws', 1],
    ]);
    expect(await all(b)).toEqual(['commit me', 'throws']);
  });

  it('is rolled back after maxChecks answers of unknown', async () => {
    const { b, clock } = await setup();
    let asked = 0;
    b.onTransactionCheck(() => (asked++, 'unknown'), { afterMs: 100, everyMs: 100, maxChecks: 3 });
    await b.prepare('orders', { value: 'never known' });
    for (let i = 0; i < 3; i++) {
      clock.advance(100);
      await eventually(() => asked === i + 1, `check ${i + 1}`);
    }
    await eventually(() => b.describe().half!.pending === 0, 'the rollback');
    expect(await all(b)).toEqual([]);
  });

  it('survives a restart: found again, checked once a callback is registered', async () => {
    const { b, clock, dir } = await setup();
    await b.prepare('orders', { value: 'from before the crash' });
    const done = await b.prepare('orders', { value: 'committed before' });
    await done.commit();
    await closeBroker(b);
    clock.advance(60_000);
    const again = await openBroker({ clock }, dir);
    expect(again.describe().half).toEqual({ pending: 1 });
    await new Promise((r) => setTimeout(r, 20));
    expect(await all(again)).toEqual(['committed before']);
    const seen: HalfMessageCheck[] = [];
    again.onTransactionCheck((m) => (seen.push(m), 'commit'));
    await eventually(() => again.describe().half!.pending === 0, 'the check');
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ topic: 'orders', checks: 0 });
    expect(await all(again)).toEqual(['committed before', 'from before the crash']);
  });

  it('a commit() during a check-back waits for it, then commits if the check did not resolve it', async () => {
    const { b, clock } = await setup();
    let answer!: (a: 'unknown') => void;
    let asked = false;
    b.onTransactionCheck(() => {
      asked = true;
      return new Promise((r) => (answer = r));
    }, { afterMs: 100, everyMs: 100_000 });
    const h = await b.prepare('orders', { value: 'racing' });
    clock.advance(100);
    await eventually(() => asked, 'the check');
    const committing = h.commit();
    answer('unknown');
    expect(await committing).toMatchObject({ topic: 'orders' });
    expect(await all(b)).toEqual(['racing']);
  });

  it('bad input is a clear error', async () => {
    const { b } = await setup();
    await expect(b.prepare('nope', { value: 'x' })).rejects.toSatisfy((e: unknown) => e instanceof SluiceError && e.code === 'UNKNOWN_TOPIC');
    await expect(b.prepare('orders', { value: 'x', delayMs: 5 })).rejects.toThrow(/no delayMs, deliverAt or id/);
    await expect(b.prepare('orders', { value: 'x', headers: { 'sluice.half.topic': 'y' } })).rejects.toThrow(/reserved/);
    expect(() => b.onTransactionCheck('no' as never)).toThrow(/takes a function/);
    expect(() => b.onTransactionCheck(() => 'commit', { afterMs: -1 })).toThrow(/afterMs/);
    expect(() => b.onTransactionCheck(() => 'commit', { every: 5 } as never)).toThrow(/every/);
  });
});
