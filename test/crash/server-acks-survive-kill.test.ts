/**
 * Method: `sluice serve` runs in a child process with topics at sync 'always'; a kafkajs producer
 * (acks -1, no retries, so nothing is sent twice) sends batches as fast as they are acknowledged,
 * and the server is killed with SIGKILL while batches are in flight. The data directory is then
 * opened in-process (recovery runs) and every message the server acknowledged must be there,
 * exactly once; unacknowledged ones may or may not be. Three rounds, killed after 10, 40 and 120
 * acknowledged batches.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import * as path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { afterEach, describe, expect, it } from 'vitest';
import { Broker } from '../../lib/broker/broker';
import { tmpDir } from '../helpers/tmp';
import { SLUICE_BIN } from '../helpers/sluice-cli';

const ROOT = path.resolve(__dirname, '..', '..');
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

function serve(data: string): Promise<{ child: ChildProcess; address: string; exited: Promise<unknown> }> {
  const child = spawn(process.execPath, [...SLUICE_BIN, 'serve', '--data', data, '--listen', '127.0.0.1:0', '--sync', 'always'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  // Listened for from the start: the child may be gone before the senders have all stopped.
  const exited = new Promise((r) => child.once('exit', r));
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d;
      const m = /listening on (\S+)/.exec(out);
      if (m) resolve({ child, address: m[1], exited });
    });
    child.on('exit', () => reject(new Error(`server exited: ${out}`)));
  });
}

describe('the server killed while a producer sends with acks -1', () => {
  it.each([10, 40, 120])('keeps every acknowledged message exactly once (killed after %i acknowledged batches)', async (killAfter) => {
    const data = tmpDir();
    const { child, address, exited } = await serve(data);
    const producer = new Kafka({ brokers: [address], logLevel: logLevel.NOTHING, retry: { retries: 0 }, requestTimeout: 5000 }).producer({ retry: { retries: 0 }, allowAutoTopicCreation: true });
    await producer.connect();
    const acked: string[] = [];
    let next = 0;
    let killed = false;
    const senders = Array.from({ length: 4 }, async () => {
      while (!killed) {
        const values = Array.from({ length: 10 }, () => `m-${next++}`);
        try {
          await producer.send({ topic: 'durable', acks: -1, messages: values.map((value) => ({ value })) });
          acked.push(...values);
          if (acked.length >= killAfter * 10 && !killed) {
            killed = true;
            child.kill('SIGKILL');
          }
        } catch {
          return; // the server is gone: whatever this batch did is not acknowledged
        }
      }
    });
    await Promise.all(senders);
    await exited;
    await producer.disconnect().catch(() => {});
    expect(acked.length).toBeGreaterThanOrEqual(killAfter * 10);

    const broker = await Broker.open(data);
    try {
      const counts = new Map<string, number>();
      const c = broker.consumer({ group: 'verify', topics: 'durable', model: 'offset' });
      const end = broker.describeTopic('durable').partitions.reduce((s, p) => s + p.endOffset, 0);
      let seen = 0;
      while (seen < end) {
        for (const m of await c.poll(1000)) {
          seen++;
          const v = m.rawValue!.toString();
          counts.set(v, (counts.get(v) ?? 0) + 1);
        }
      }
      await c.close();
      for (const v of acked) expect(counts.get(v), v).toBe(1);
      for (const [v, n] of counts) expect(n, `${v} stored twice`).toBe(1);
    } finally {
      await broker.close();
    }
  }, 60_000);
});
