/**
 * Shared setup for the broker tests: brokers in fresh temporary directories (closed after each
 * test, before the directory goes), small segments so that tests reserve little disk, and helpers
 * that let the event loop turn (appends become readable when the Log seals at the end of a tick).
 */
import { afterEach } from 'vitest';
import { Broker, type BrokerOptions, type Consumer, type ConsumedMessage, type TopicConfigInput } from '../../lib/index';
import { tmpDir } from '../helpers/tmp';

/** Per-partition segments of 1 MiB: plenty for tests, little disk reserved. */
export const SMALL: TopicConfigInput = { segmentBytes: 1 << 20 };

const open = new Set<Broker>();

afterEach(async () => {
  for (const b of open) await b.close().catch(() => {});
  open.clear();
});

/** Opens a broker in `dir` (default: a fresh temporary directory), closed after the test. */
export async function openBroker(options: BrokerOptions = {}, dir: string = tmpDir('sluice-broker-')): Promise<Broker> {
  const b = await Broker.open(dir, options);
  open.add(b);
  return b;
}

/** Closes a broker and forgets it (for reopen tests). */
export async function closeBroker(b: Broker): Promise<void> {
  open.delete(b);
  await b.close();
}

/** A few turns of the event loop: seals, wake-ups and group-state writes happen. */
export async function turns(n = 3): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

/** Everything the consumer can get right now (polling without waiting until nothing comes). */
export async function drain<M extends ConsumedMessage>(c: Consumer<M>, max = 1000): Promise<M[]> {
  const out: M[] = [];
  for (;;) {
    await turns(2);
    const batch = await c.poll(max, { timeoutMs: 0 });
    if (batch.length === 0) return out;
    out.push(...batch);
  }
}

/** `n` messages whose values are "<prefix><i>". */
export function values(n: number, prefix = 'm'): { value: string }[] {
  return Array.from({ length: n }, (_, i) => ({ value: `${prefix}${i}` }));
}

export function text(m: ConsumedMessage): string {
  return (m.value as Buffer).toString();
}

/**
 * Turns the event loop until `cond()` holds. The bound only turns a hang into a failure: tests
 * assert what happens, never how fast.
 */
export async function eventually(cond: () => boolean, what = 'condition'): Promise<void> {
  const giveUp = Date.now() + 30_000;
  while (!cond()) {
    if (Date.now() > giveUp) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}
