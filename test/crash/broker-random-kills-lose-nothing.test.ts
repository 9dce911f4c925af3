/**
 * Random kills lose nothing and undo no confirmed ack. Method: a child process
 * (test/helpers/broker-crash-worker.cjs) produces to a three-partition topic and consumes it as an
 * ack-model group at the same time, nacking some messages, with the group state checkpointed every
 * 4 KiB (so kills also land mid-checkpoint); it reports every confirmed send, every ack it starts
 * and every ack whose confirm resolved. The parent kills it with SIGKILL after a seeded random
 * number of confirmed acks, reopens the broker in a new child, and repeats. At the end the parent
 * opens the broker and drains the group, acking. Then:
 *  - every confirmed send is in the topic (read back by a fresh group);
 *  - no value whose ack was confirmed is delivered again;
 *  - every value in the topic that no child started to ack is delivered in the final drain
 *    (nothing unacked is lost);
 * The seed is printed so that a failure can be replayed (SLUICE_TEST_SEED).
 */
import { describe, expect, it } from 'vitest';
import { Broker, type AckMessage } from '../../lib/index';
import { tmpDir } from '../helpers/tmp';
import { absorbWorkerLines, spawnChild } from '../helpers/broker-spawn.cjs';

const RUNS = 8;

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('random kills', () => {
  it('lose no message and undo no confirmed ack', async () => {
    const seed = Number(process.env.SLUICE_TEST_SEED ?? Math.floor(Math.random() * 2 ** 31));
    console.log(`broker-random-kills seed=${seed}`);
    const rnd = prng(seed);
    const dir = tmpDir('sluice-broker-crash-');
    let broker = await Broker.open(dir);
    await broker.createTopic('t', { partitions: 3, segmentBytes: 1 << 20, maxBacklog: 2000 });
    await broker.close();

    const sent = new Set<string>();
    const acking = new Set<string>();
    const acked = new Set<string>();
    for (let run = 0; run < RUNS; run++) {
      const child = spawnChild('broker-crash-worker.cjs', { dir, run, seed: seed + run });
      const target = 5 + Math.floor(rnd() * 1500);
      await child.waitFor((lines: string[]) => lines.filter((l) => l.startsWith('acked ')).length >= target, `${target} acks`);
      await child.kill9();
      absorbWorkerLines(child.lines as string[], { sent, acking, acked });
    }
    expect(acked.size).toBeGreaterThan(0);

    broker = await Broker.open(dir);
    try {
      const all = new Set<string>();
      const audit = broker.consumer({ group: 'audit', topics: 't' });
      const finalDrain: string[] = [];
      const g = broker.consumer({ group: 'g', topics: 't', model: 'ack', maxInFlight: 100_000 });
      for (;;) {
        await new Promise((r) => setImmediate(r));
        const a = await audit.poll(10_000, { timeoutMs: 0 });
        const b = (await g.poll(10_000, { timeoutMs: 0 })) as AckMessage[];
        for (const m of a) all.add((m.value as Buffer).toString());
        for (const m of b) {
          finalDrain.push((m.value as Buffer).toString());
          m.ack();
        }
        if (a.length === 0 && b.length === 0) break;
      }
      for (const v of sent) expect(all.has(v), `confirmed send ${v} is in the topic`).toBe(true);
      for (const v of finalDrain) expect(acked.has(v), `${v} was acked (confirmed) but delivered again`).toBe(false);
      const drained = new Set(finalDrain);
      for (const v of all) if (!acking.has(v)) expect(drained.has(v), `${v} was never acked but is lost`).toBe(true);
      expect(broker.describeGroup('g').lag).toBe(0);
      // The kills landed among checkpoints: the state went through several generations.
      expect(broker.describe().groupLog.generation).toBeGreaterThan(0);
    } finally {
      await broker.close();
    }
  });
});
