/**
 * Per-key order with parallelism (ack model, run(handler, {concurrency, orderBy: 'key'})):
 * messages of one key are handled one at a time and in offset order, a failed one keeps its
 * place (the key's next message waits for its retry), and different keys run at once.
 */
import { describe, expect, it } from 'vitest';
import { eventually, openBroker, SMALL, text } from './broker-fixtures';

describe('orderBy key', () => {
  it('one message per key at a time, in order, retries keeping their place; keys in parallel', async () => {
    const b = await openBroker();
    await b.createTopic('t', SMALL);
    const keys = ['a', 'b', 'c', 'd'];
    const sent: { key: string; value: string }[] = [];
    for (let i = 0; i < 6; i++) for (const k of keys) sent.push({ key: k, value: `${k}${i}` });
    await b.sendBatch('t', sent);
    const c = b.consumer({ group: 'q', topics: 't', model: 'ack', maxInFlight: 64 });
    const busy = new Map<string, number>();
    const done: Record<string, string[]> = {};
    let running = 0;
    let maxRunning = 0;
    let overlapSameKey = false;
    let failedOnce = false;
    const run = c.run(
      async (msg) => {
        const key = msg.key!.toString();
        if ((busy.get(key) ?? 0) > 0) overlapSameKey = true;
        busy.set(key, (busy.get(key) ?? 0) + 1);
        running++;
        maxRunning = Math.max(maxRunning, running);
        await new Promise((r) => setTimeout(r, 2 + (text(msg).charCodeAt(0) % 3)));
        running--;
        busy.set(key, busy.get(key)! - 1);
        if (text(msg) === 'b1' && !failedOnce) {
          failedOnce = true;
          throw new Error('b1 fails once');
        }
        (done[key] ??= []).push(text(msg));
      },
      { concurrency: 8, orderBy: 'key', retryDelayMs: 20, onError: () => {} },
    );
    await eventually(() => Object.values(done).reduce((n, v) => n + v.length, 0) === sent.length, 'every message handled');
    await c.close();
    await run;
    expect(overlapSameKey).toBe(false);
    for (const k of keys) expect(done[k]).toEqual([0, 1, 2, 3, 4, 5].map((i) => `${k}${i}`));
    expect(failedOnce).toBe(true);
    expect(maxRunning).toBeGreaterThan(1);
    expect(b.describeGroup('q').partitions[0]).toMatchObject({ lag: 0, inFlight: 0 });
  });

  it('refuses an unknown orderBy; keyless messages are not held', async () => {
    const b = await openBroker();
    await b.createTopic('t', SMALL);
    await b.sendBatch('t', [{ key: 'x', value: 'x0' }, { key: 'x', value: 'x1' }, { value: 'free' }]);
    const c = b.consumer({ group: 'q', topics: 't', model: 'ack' });
    await expect(c.run(() => {}, { orderBy: 'nope' as never })).rejects.toThrow(TypeError);
    const order: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const handled = c.run(
      async (m) => {
        order.push(text(m));
        if (text(m) === 'x0') await gate; // x1 must wait for it; 'free' must not
      },
      { concurrency: 4, orderBy: 'key' },
    );
    await eventually(() => order.includes('free'));
    expect(order).not.toContain('x1');
    release();
    await eventually(() => order.length === 3);
    await c.close();
    await handled;
    expect(order.indexOf('x0')).toBeLessThan(order.indexOf('x1'));
  });
});
