/**
 * Durations above 2^31 - 1 ms (the most Node's setTimeout takes; longer ones fire at once) work
 * for their whole range: the broker chains timers. Each case runs on the system clock with fake
 * timers (vi.useFakeTimers) so that a timer firing early is seen, and on a ManualClock.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ErrorCode, ManualClock } from '../../lib/index';
import { withLongTimers, systemClock, TIMER_MS_MAX } from '../../lib/broker/time/clock';
import { drain, openBroker, SMALL, turns } from './broker-fixtures';

const DAY = 86_400_000;
const LONG = 1e10; // about 116 days

afterEach(() => {
  vi.useRealTimers();
});

describe('long timers', () => {
  it('fire after their whole delay, not at once, and can be cleared', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const clock = withLongTimers(systemClock);
    let fired = 0;
    clock.setTimeout(() => fired++, LONG);
    const cleared = clock.setTimeout(() => fired++, LONG);
    clock.clearTimeout(cleared);
    vi.advanceTimersByTime(TIMER_MS_MAX + 1);
    expect(fired).toBe(0);
    vi.advanceTimersByTime(LONG - TIMER_MS_MAX - 10);
    expect(fired).toBe(0);
    vi.advanceTimersByTime(20);
    expect(fired).toBe(1);
  });

  it('work on a ManualClock too', () => {
    const manual = new ManualClock();
    const clock = withLongTimers(manual);
    let fired = 0;
    clock.setTimeout(() => fired++, LONG);
    manual.advance(LONG - 1);
    expect(fired).toBe(0);
    manual.advance(1);
    expect(fired).toBe(1);
  });
});

describe('duration options', () => {
  it('send({timeoutMs: 1e10}) on the system clock waits, it does not fail at once', async () => {
    const b = await openBroker();
    await b.createTopic('t', { ...SMALL, maxBacklog: 1 });
    await b.send('t', { value: 'a' });
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    let settled: unknown = 'pending';
    b.send('t', { value: 'b' }, { timeoutMs: LONG }).then(
      () => (settled = 'sent'),
      (e) => (settled = e),
    );
    vi.advanceTimersByTime(10 * DAY);
    await turns();
    expect(settled).toBe('pending');
    vi.useRealTimers();
  });

  it('send({timeoutMs: 1e10}) on a full topic waits that long, not 3 ms', async () => {
    const clock = new ManualClock();
    const b = await openBroker({ clock });
    await b.createTopic('t', { ...SMALL, maxBacklog: 1 });
    await b.send('t', { value: 'a' });
    let settled: unknown = 'pending';
    b.send('t', { value: 'b' }, { timeoutMs: LONG }).then(
      () => (settled = 'sent'),
      (e) => (settled = e),
    );
    clock.advance(100 * DAY);
    await turns();
    expect(settled).toBe('pending');
    clock.advance(LONG);
    await turns();
    expect(settled).toMatchObject({ code: ErrorCode.QUEUE_FULL, message: expect.stringContaining(`waited ${LONG} ms`) });
  });

  it('nack({delayMs: 1e10}) redelivers after that long, not at once', async () => {
    const clock = new ManualClock();
    const b = await openBroker({ clock });
    await b.createTopic('t', SMALL);
    const c = b.consumer({ group: 'g', topics: 't', model: 'ack', visibilityTimeoutMs: 2 * LONG });
    await b.send('t', { value: 'a' });
    const [m] = await drain(c);
    m.nack({ delayMs: LONG });
    clock.advance(LONG / 2);
    expect(await drain(c)).toHaveLength(0);
    clock.advance(LONG / 2);
    const again = await drain(c);
    expect(again.map((x) => x.deliveryCount)).toEqual([2]);
  });

  it('poll(1, {timeoutMs: 1e10}) waits with one timer, not a spinning one', async () => {
    const clock = new ManualClock();
    const b = await openBroker({ clock });
    await b.createTopic('t', SMALL);
    const c = b.consumer({ group: 'g', topics: 't' });
    let result: unknown;
    void c.poll(1, { timeoutMs: LONG }).then((r) => (result = r));
    await turns();
    expect(clock.pending).toBeLessThanOrEqual(2);
    clock.advance(LONG - 1);
    await turns();
    expect(result).toBeUndefined();
    clock.advance(1);
    await turns();
    expect(result).toEqual([]);
  });

  it('rejects durations that are not finite non-negative numbers, naming the option and its limit', async () => {
    const b = await openBroker();
    await b.createTopic('t', SMALL);
    const c = b.consumer({ group: 'g', topics: 't' });
    await expect(b.send('t', { value: 'a' }, { timeoutMs: Infinity })).rejects.toThrow(RangeError);
    await expect(b.send('t', { value: 'a' }, { timeoutMs: -1 })).rejects.toThrow(/timeoutMs must be between 0 and 9007199254740991 ms, got -1/);
    await expect(b.send('t', { value: 'a' }, { timeoutMs: '5' as unknown as number })).rejects.toThrow(TypeError);
    await expect(c.poll(1, { timeoutMs: Infinity })).rejects.toThrow(RangeError);
    await expect(c.run(() => {}, { retryDelayMs: Infinity })).rejects.toThrow(RangeError);
  });
});
