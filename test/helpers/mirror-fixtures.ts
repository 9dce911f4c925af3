/**
 * For `sluice mirror` tests: a `sluice serve` child on 127.0.0.1 port 0, seeded source data, and
 * a topic's records read back from a data directory (read-only) with the mirror's own headers
 * set apart.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import * as path from 'node:path';
import { Broker } from '../../lib/broker/broker';
import { MIRROR_HEADERS } from '../../lib/broker/codec/reserved-headers';
import { SLUICE_BIN } from './sluice-cli';

const ROOT = path.resolve(__dirname, '..', '..');
export const BIN = SLUICE_BIN;

export interface Served {
  address: string;
  child: ChildProcess;
  stop: () => Promise<void>;
}

/** `sluice serve --data dir` on a free loopback port; stop() sends SIGTERM and waits for the exit. */
export function serve(dir: string): Promise<Served> {
  const child = spawn(process.execPath, [...BIN, 'serve', '--data', dir, '--listen', '127.0.0.1:0'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (\S+)/.exec(out);
      if (m) resolve({ address: m[1], child, stop });
    });
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', () => reject(new Error(`serve exited before listening: ${out}`)));
  });
}

export interface Seeded {
  key: string | null;
  value: Buffer | null;
  headers: [string, Buffer | null][];
  timestamp: number;
}

/** `n` records of varied shape: null keys and values, duplicate and null headers, old timestamps. */
export function seeded(n: number, tag = ''): Seeded[] {
  return Array.from({ length: n }, (_, i) => ({
    key: i % 7 === 0 ? null : `key-${i % 13}`,
    value: i % 11 === 0 ? null : Buffer.from(`${tag}value-${i}`),
    headers: [
      ['seq', Buffer.from(String(i))],
      ['dup', Buffer.from('a')],
      ['dup', null],
      ['bin', Buffer.from([0, 255, i & 255])],
    ],
    timestamp: 1_600_000_000_000 + i * 1000,
  }));
}

export async function seed(dir: string, topic: string, partitions: number, records: Seeded[]): Promise<void> {
  const b = await Broker.open(dir);
  try {
    await b.createTopic(topic, { partitions });
    // Spread over the partitions by sequence, so that every partition gets nulls and keys.
    await b.sendBatch(
      topic,
      records.map((r, i) => ({ ...r, partition: i % partitions, headers: r.headers as [string, Buffer | null][] })),
    );
  } finally {
    await b.close();
  }
}

export interface Stored {
  partition: number;
  offset: number;
  timestamp: number;
  key: string | null;
  value: string | null;
  /** The record's headers without the mirror's. */
  headers: [string, string | null][];
  /** sluice.mirror.source: `<source-id>/<topic>/<partition>/<offset>`, or null. */
  source: string | null;
}

/** Every committed record of `topic` in the data directory `dir` (opened read-only). */
export async function storedRecords(dir: string, topic: string): Promise<Stored[]> {
  const b = await Broker.open(dir, { readOnly: true });
  try {
    const out: Stored[] = [];
    for (const { partition } of b.describeTopic(topic).partitions) {
      const access = b.partition(topic, partition);
      for (let at = access.offsets().startOffset; at < access.offsets().lastStableOffset; ) {
        const { records, nextOffset } = access.read(at, 1000);
        for (const r of records) {
          const mine = r.headers.filter((h) => h.key === MIRROR_HEADERS.source);
          out.push({
            partition,
            offset: r.offset,
            timestamp: r.timestamp,
            key: r.key?.toString('latin1') ?? null,
            value: r.value?.toString('latin1') ?? null,
            headers: r.headers.filter((h) => !(Object.values(MIRROR_HEADERS) as string[]).includes(h.key)).map((h) => [h.key, h.value?.toString('latin1') ?? null]),
            source: mine.length > 0 ? mine[mine.length - 1].value!.toString() : null,
          });
        }
        if (nextOffset <= at) break;
        at = nextOffset;
      }
    }
    return out;
  } finally {
    await b.close();
  }
}

/** What a record is apart from where it is stored (offset). */
export function content(r: Stored): Omit<Stored, 'offset' | 'source'> {
  return { partition: r.partition, timestamp: r.timestamp, key: r.key, value: r.value, headers: r.headers };
}
