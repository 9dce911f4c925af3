/**
 * Retries with backoff (ack model): a failed delivery (a nack without delayMs, a handler that
 * threw, a visibility timeout) waits what the consumer's retryBackoff says for its number of
 * failures (a list, or exponential with a cap), nack({delayMs}) overrides it, a member leaving is
 * not a failure, and a wait survives a restart (a message nacked for ten minutes is not delivered
 * at once after it). Time is a ManualClock: nothing sleeps.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock, type AckMessage } from '../../lib/index';
import { RetryBackoff } from '../../lib/broker/delivery/ack/retry-backoff';
import { tmpDir } from '../helpers/tmp';
import { closeBroker, drain, openBroker, SMALL, text, turns } from './broker-fixtures';

async function setup(options: Record<string, unknown>, clock = new ManualClock(), dir = tmpDir('sluice-broker-')) {
  const b = await openBroker({ clock }, dir);
  if (!b.listTopics().includes('t')) {
    await b.createTopic('t', SMALL);
    await b.send('t', { value: 'm' });
  }
  const c = b.consumer({ group: 'q', topics: 't', model: 'ack', ...options });
  await turns();
  return { clock, b, c, dir };
}

/** Polls until the message comes; returns the ms of clock advanced (in `step`s), or -1 past `limit`. */
async function waitedFor(clock: ManualClock, c: { poll(n: number, o: { timeoutMs: number }): Promise<unknown[]> }, step: number, limit: number): Promise<[number, AckMessage | undefined]> {
  for (let waited = 0; waited <= limit; waited += step) {
    const got = (await drain(c as never)) as AckMessage[];
    if (got.length > 0) return [waited, got[0]];
    clock.advance(step);
    await turns();
  }
  return [-1, undefined];
}

describe('retry backoff', () => {
  it('a list of delays: the n-th failure waits the n-th, the last repeating; nack({delayMs}) overrides', async () => {
    const { clock, c } = await setup({ retryBackoff: [1000, 5000], visibilityTimeoutMs: 3_600_000 });
    let [, m] = await waitedFor(clock, c, 100, 0);
    m!.nack();
    let waited: number;
    [waited, m] = await waitedFor(clock, c, 100, 10_000);
    expect(waited).toBe(1000);
    m!.nack();
    [waited, m] = await waitedFor(clock, c, 100, 10_000);
    expect(waited).toBe(5000);
    m!.nack();
    [waited, m] = await waitedFor(clock, c, 100, 10_000);
    expect(waited).toBe(5000);
    m!.nack({ delayMs: 200 });
    [waited, m] = await waitedFor(clock, c, 100, 10_000);
    expect(waited).toBe(200);
    expect(m!.deliveryCount).toBe(5);
  });

  it('exponential with a cap, for handlers that throw and for visibility timeouts', async () => {
    const { clock, c } = await setup({ retryBackoff: { initialMs: 100, maxMs: 400 }, visibilityTimeoutMs: 1000 });
    const seen: number[] = [];
    const run = c.run(
      (msg) => {
        seen.push(clock.now());
        if ((msg as AckMessage).deliveryCount <= 4) throw new Error('not yet');
      },
      { onError: () => {} },
    );
    for (let i = 0; i < 30 && seen.length < 5; i++) {
      clock.advance(50);
      await turns(4);
    }
    const gaps = seen.slice(1).map((t, i) => t - seen[i]);
    expect(gaps).toEqual([100, 200, 400, 400]);
    await c.close();
    await run;
    // A visibility timeout is a failure too: 1000 ms in flight, then the backoff's first delay.
    const { clock: clock2, c: c2 } = await setup({ retryBackoff: { initialMs: 300, maxMs: 300 }, visibilityTimeoutMs: 1000 });
    const [, first] = await waitedFor(clock2, c2, 100, 0);
    expect(first).toBeDefined();
    const [waited] = await waitedFor(clock2, c2, 100, 5000);
    expect(waited).toBe(1300);
  });

  it('a member leaving is not a failure: its messages go out again at once', async () => {
    const clock = new ManualClock();
    const { b, c } = await setup({ retryBackoff: [60_000] }, clock);
    const [m] = (await drain(c)) as AckMessage[];
    expect(text(m)).toBe('m');
    await c.close();
    const other = b.consumer({ group: 'q', topics: 't', model: 'ack', retryBackoff: [60_000] });
    const again = (await drain(other)) as AckMessage[];
    expect(again.map((x) => x.deliveryCount)).toEqual([2]);
  });

  it('keeps a retry time across a restart, and delivers it once due', async () => {
    const clock = new ManualClock();
    const first = await setup({}, clock);
    const [m] = (await drain(first.c)) as AckMessage[];
    m.nack({ delayMs: 600_000 });
    await turns();
    await closeBroker(first.b);
    clock.advance(1000);
    const { c } = await setup({}, clock, first.dir);
    expect(await drain(c)).toEqual([]); // not at once: 599 s to go
    clock.advance(598_000);
    await turns();
    expect(await drain(c)).toEqual([]);
    clock.advance(1000);
    await turns();
    const due = (await drain(c)) as AckMessage[];
    expect(due.map((x) => [text(x), x.deliveryCount])).toEqual([['m', 2]]);
  });

  it('refuses bad backoffs with clear errors', async () => {
    expect(() => RetryBackoff.parse([])).toThrow(RangeError);
    expect(() => RetryBackoff.parse([10, -1])).toThrow(/retryBackoff\[1\]/);
    expect(() => RetryBackoff.parse({ initialMs: 10, maxMs: 5 })).toThrow(/maxMs/);
    expect(() => RetryBackoff.parse({ initialMs: 10, maxMs: 50, jitter: 2 })).toThrow(RangeError);
    expect(() => RetryBackoff.parse({ initialMs: 10, maxMs: 50, colour: 1 })).toThrow(/unknown/);
    expect(() => RetryBackoff.parse('fast')).toThrow(TypeError);
    const jittered = RetryBackoff.parse({ initialMs: 1000, maxMs: 1000, jitter: 0.5 })!;
    expect(jittered.delayFor(1, () => 0.999)).toBeGreaterThanOrEqual(500);
    expect(jittered.delayFor(1, () => 0)).toBe(1000);
    const { b } = await setup({});
    expect(() => b.consumer({ group: 'x', topics: 't', model: 'ack', retryBackoff: [1, 2.5] })).toThrow(TypeError);
  });
});
