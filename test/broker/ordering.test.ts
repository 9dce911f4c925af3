/**
 * Order: within a partition messages are delivered (and, in the offset model, processed) in offset
 * order, so messages with the same key arrive in the order they were sent, even with handlers that
 * finish at different times and several partitions processed at once.
 */
import { describe, expect, it } from 'vitest';
import type { AckMessage, ConsumedMessage } from '../../lib/index';
import { eventually, openBroker, SMALL, text } from './broker-fixtures';

const KEYS = 13;
const N = 1200;

/** A deterministic pseudo-random sequence, so that failures replay. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

async function sendKeyed(b: Awaited<ReturnType<typeof openBroker>>, seed: number): Promise<void> {
  const rnd = prng(seed);
  const seq = new Array<number>(KEYS).fill(0);
  // Single sends and batches mixed, keys in a random order.
  for (let sent = 0; sent < N; ) {
    const n = 1 + Math.floor(rnd() * 50);
    const batch = [];
    for (let i = 0; i < n && sent < N; i++, sent++) {
      const k = Math.floor(rnd() * KEYS);
      batch.push({ key: `k${k}`, value: `k${k}:${seq[k]++}` });
    }
    if (batch.length === 1) await b.send('t', batch[0]);
    else await b.sendBatch('t', batch);
  }
}

function checkOrder(got: ConsumedMessage[]): void {
  const lastOffset = new Map<number, number>();
  const lastSeq = new Map<string, number>();
  for (const m of got) {
    expect(m.offset).toBeGreaterThan(lastOffset.get(m.partition) ?? -1);
    lastOffset.set(m.partition, m.offset);
    const [k, s] = text(m).split(':');
    expect(m.key?.toString()).toBe(k);
    expect(Number(s)).toBe((lastSeq.get(k) ?? -1) + 1);
    lastSeq.set(k, Number(s));
  }
}

describe('ordering', () => {
  it('processes each partition in order with concurrent partitions and uneven async handlers (offset model)', async () => {
    const seed = 1234;
    const b = await openBroker();
    await b.createTopic('t', { ...SMALL, partitions: 4 });
    const c = b.consumer({ group: 'g', topics: 't', fetchMax: 17 });
    const got: ConsumedMessage[] = [];
    const rnd = prng(seed + 1);
    const running = c.run(
      async (m) => {
        for (let i = Math.floor(rnd() * 4); i > 0; i--) await new Promise((r) => setImmediate(r));
        got.push(m);
      },
      { concurrency: 4 },
    );
    await sendKeyed(b, seed);
    await eventually(() => got.length === N, 'every message');
    checkOrder(got);
    await c.close();
    await running;
  });

  it('delivers in order to a pull consumer, and to a one-at-a-time ack consumer', async () => {
    const b = await openBroker();
    await b.createTopic('t', { ...SMALL, partitions: 3 });
    await sendKeyed(b, 99);
    const pull = b.consumer({ group: 'pull', topics: 't', fetchMax: 10 });
    const pulled: ConsumedMessage[] = [];
    for await (const m of pull) {
      pulled.push(m);
      if (pulled.length === N) break;
    }
    checkOrder(pulled);
    const q = b.consumer({ group: 'q', topics: 't', model: 'ack', maxInFlight: 7 });
    const acked: AckMessage[] = [];
    const running = q.run((m) => {
      acked.push(m);
    });
    await eventually(() => acked.length === N, 'every message acked');
    checkOrder(acked);
    await q.close();
    await running;
  });
});
