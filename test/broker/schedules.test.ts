/**
 * Schedules (broker/schedule/): `every` and `cron` firings, each a message stamped with its due
 * time and named by its headers; durable across a restart without firing a time twice; missed
 * firings per policy ('once' fires one for all of them, 'skip' none); replacing and removing;
 * clear errors for bad definitions. Time is a ManualClock: nothing sleeps.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock, SluiceError, type Broker, type OffsetMessage } from '../../lib/index';
import { tmpDir } from '../helpers/tmp';
import { closeBroker, drain, eventually, openBroker, SMALL } from './broker-fixtures';

const T0 = Date.UTC(2027, 0, 4, 8, 0, 0); // a Monday, 08:00 UTC

async function setup(dir = tmpDir('sluice-schedule-'), clock = new ManualClock(T0)) {
  const b = await openBroker({ clock }, dir);
  if (!b.listTopics().includes('ticks')) await b.createTopic('ticks', { ...SMALL, partitions: 3 });
  return { b, clock, dir };
}

/** The due times (sluice.schedule.at) of every message in "ticks", by schedule name. */
async function firings(b: Broker): Promise<{ name: string; at: number; timestamp: number; value: string }[]> {
  const c = b.consumer({ group: `check-${Math.random()}`, topics: 'ticks', start: 'earliest' });
  const got = (await drain(c)) as OffsetMessage[];
  await c.close();
  const header = (m: OffsetMessage, k: string) => m.headers.find((h) => h.key === k)?.value?.toString();
  return got
    .map((m) => ({ name: header(m, 'sluice.schedule')!, at: Number(header(m, 'sluice.schedule.at')), timestamp: m.timestamp, value: String(m.value) }))
    .sort((a, b) => a.at - b.at);
}

/** Waits until the firing for `at` is recorded and its message readable (markers come after the commit point). */
async function firedFor(b: Broker, name: string, at: number): Promise<void> {
  await eventually(() => b.listSchedules().find((s) => s.name === name)?.lastFiredFor === at, `${name} firing for ${at}`);
  for (let i = 0; i < 1000; i++) {
    const f = await firings(b);
    if (f.some((x) => x.name === name && x.at === at) || b.listSchedules().find((s) => s.name === name)?.missed === 'skip') return;
  }
  throw new Error(`the message of ${name} for ${at} never became readable`);
}

describe('schedules', () => {
  it('every: fires at each period, stamped with its due time, in one partition', async () => {
    const { b, clock } = await setup();
    const d = await b.schedule('heartbeat', { every: 60_000, topic: 'ticks', message: { value: 'beat' } });
    expect(d).toMatchObject({ name: 'heartbeat', every: 60_000, cron: null, next: T0 + 60_000, lastFiredFor: null, missed: 'once' });
    for (let i = 1; i <= 3; i++) {
      clock.advance(60_000);
      await firedFor(b, 'heartbeat', T0 + i * 60_000);
    }
    const f = await firings(b);
    expect(f.map((x) => x.at)).toEqual([T0 + 60_000, T0 + 120_000, T0 + 180_000]);
    expect(f.every((x) => x.timestamp === x.at && x.value === 'beat' && x.name === 'heartbeat')).toBe(true);
    expect(b.listSchedules()[0].next).toBe(T0 + 240_000);
  });

  it('cron: seconds field and time zones', async () => {
    const { b, clock } = await setup();
    await b.schedule('ten-seconds', { cron: '*/10 * * * * *', topic: 'ticks', message: { value: 'x', key: 'k' } });
    const berlin = await b.schedule('morning', { cron: '0 9 * * *', timezone: 'Europe/Berlin', topic: 'ticks', message: { value: 'guten Morgen' } });
    expect(berlin.next).toBe(Date.UTC(2027, 0, 5, 8, 0, 0)); // 09:00 in Berlin (CET) is 08:00 UTC, tomorrow
    clock.advance(10_000);
    await firedFor(b, 'ten-seconds', T0 + 10_000);
    clock.advance(10_000);
    await firedFor(b, 'ten-seconds', T0 + 20_000);
    expect((await firings(b)).map((x) => x.at)).toEqual([T0 + 10_000, T0 + 20_000]);
  });

  it('a restart keeps schedules and never fires one time twice; missed firings: once fires one, skip none', async () => {
    const { b, clock, dir } = await setup();
    await b.schedule('once', { every: 1000, topic: 'ticks', message: { value: 'o' } });
    await b.schedule('skip', { every: 1000, topic: 'ticks', message: { value: 's' }, missed: 'skip' });
    clock.advance(1000);
    await firedFor(b, 'once', T0 + 1000);
    await firedFor(b, 'skip', T0 + 1000);
    await closeBroker(b);
    clock.advance(10_500); // down for ten firings
    const again = await openBroker({ clock }, dir);
    await firedFor(again, 'once', T0 + 2000);
    await firedFor(again, 'skip', T0 + 2000);
    const f = await firings(again);
    expect(f.filter((x) => x.name === 'once').map((x) => x.at)).toEqual([T0 + 1000, T0 + 2000]);
    expect(f.filter((x) => x.name === 'skip').map((x) => x.at)).toEqual([T0 + 1000]);
    // Both go on from the next time after now.
    expect(again.listSchedules().map((s) => s.next)).toEqual([T0 + 12_000, T0 + 12_000]);
    clock.advance(500);
    await firedFor(again, 'once', T0 + 12_000);
    await firedFor(again, 'skip', T0 + 12_000);
    expect((await firings(again)).length).toBe(5);
  });

  it('a schedule of the same name is replaced; unschedule stops it', async () => {
    const { b, clock } = await setup();
    await b.schedule('s', { every: 1000, topic: 'ticks', message: { value: 'old' } });
    await b.schedule('s', { every: 5000, topic: 'ticks', message: { value: 'new' } });
    expect(b.listSchedules()).toHaveLength(1);
    clock.advance(1000);
    await new Promise((r) => setTimeout(r, 20));
    expect(await firings(b)).toEqual([]);
    clock.advance(4000);
    await firedFor(b, 's', T0 + 5000);
    expect((await firings(b)).map((x) => x.value)).toEqual(['new']);
    expect(await b.unschedule('s')).toBe(true);
    expect(await b.unschedule('s')).toBe(false);
    clock.advance(60_000);
    await new Promise((r) => setTimeout(r, 20));
    expect((await firings(b)).length).toBe(1);
  });

  it('a name defined twice at once fires once per time; a replacement made while a firing fails is armed', async () => {
    const { b, clock } = await setup();
    await Promise.all([b.schedule('s', { every: 1000, topic: 'ticks', message: { value: 'a' } }), b.schedule('s', { every: 1000, topic: 'ticks', message: { value: 'b' } })]);
    clock.advance(1000);
    await firedFor(b, 's', T0 + 1000);
    await new Promise((r) => setTimeout(r, 50));
    expect((await firings(b)).map((x) => x.at)).toEqual([T0 + 1000]);
    // A full bounded topic makes the firing fail; it is replaced by one into another topic meanwhile.
    await b.createTopic('full', { ...SMALL, maxBacklog: 1 });
    b.consumer({ group: 'holds', topics: 'full' });
    await b.send('full', { value: 'fills it' });
    await b.schedule('f', { every: 1000, topic: 'full', message: { value: 'x' } });
    clock.advance(1000);
    await new Promise((r) => setTimeout(r, 20));
    await b.schedule('f', { every: 1000, topic: 'ticks', message: { value: 'moved' } });
    clock.advance(1000);
    await eventually(() => b.listSchedules().find((x) => x.name === 'f')?.lastFiredFor !== null, 'the replacement fired');
  });

  it('bad definitions are clear errors', async () => {
    const { b } = await setup();
    const m = { value: 'x' };
    await expect(b.schedule('a', { cron: '61 * * * *', topic: 'ticks', message: m })).rejects.toThrow(/invalid cron expression/);
    await expect(b.schedule('a', { cron: '0 9 * * *', timezone: 'Mars/Olympus', topic: 'ticks', message: m })).rejects.toThrow(/invalid cron expression .* or time zone/);
    await expect(b.schedule('a', { every: 1000, cron: '* * * * *', topic: 'ticks', message: m })).rejects.toThrow(/every or cron/);
    await expect(b.schedule('a', { topic: 'ticks', message: m })).rejects.toThrow(/every or cron/);
    await expect(b.schedule('a', { every: 10, topic: 'ticks', message: m })).rejects.toThrow(/at least 100 ms/);
    await expect(b.schedule('a', { every: 1000, topic: 'nope', message: m })).rejects.toSatisfy((e: unknown) => e instanceof SluiceError && e.code === 'UNKNOWN_TOPIC');
    await expect(b.schedule('a', { every: 1000, topic: 'ticks', message: { value: 'x', delayMs: 5 } })).rejects.toThrow(/no delayMs/);
    await expect(b.schedule('a', { every: 1000, topic: 'ticks', message: { value: 'x', partition: 7 } })).rejects.toThrow(/partition 7 does not exist/);
    await expect(b.schedule('bad name!', { every: 1000, topic: 'ticks', message: m })).rejects.toThrow(/invalid schedule name/);
    await expect(b.schedule('a', { every: 1000, topic: 'ticks', message: m, missed: 'all' as never })).rejects.toThrow(/missed/);
    expect(b.listSchedules()).toEqual([]);
  });
});
