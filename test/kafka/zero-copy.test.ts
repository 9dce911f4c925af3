/**
 * Zero-copy fetch: records go from the segment file to the socket with sendfile, and the bytes a
 * client reads are exactly those a copying server sends, also when the client stops reading for a
 * while (the socket fills, sendfile stops, probe writes resume it), when several fetches and other
 * requests are pipelined (answered in order), when the segment is deleted during the send, and
 * when the client goes away mid-response (the server stays up and closes what it opened).
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Broker } from '../../lib/broker/broker';
import { Server } from '../../lib/kafka';
import { encodeFetchRequest, encodeMetadataRequest } from '../../lib/kafka/protocol/generated';
import { Writer } from '../../lib/kafka/protocol/writer';
import { frame } from '../helpers/kafka-wire';
import { tmpDir } from '../helpers/tmp';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

const MESSAGES = 40_000;
const VALUE = 500;

async function filledBroker(): Promise<Broker> {
  const broker = await Broker.open(tmpDir());
  cleanup.push(() => broker.close());
  await broker.createTopic('big', { partitions: 1, sync: 'none' });
  const value = Buffer.alloc(VALUE);
  for (let i = 0; i < MESSAGES; i += 1000) {
    const batch = [];
    for (let j = i; j < i + 1000; j++) {
      value.writeUInt32BE(j, 0);
      batch.push({ key: `k${j}`, value: Buffer.from(value) });
    }
    await Promise.all(batch.map((m) => broker.send('big', m)));
  }
  return broker;
}

async function serve(broker: Broker, zeroCopy: boolean): Promise<Server> {
  const server = await Server.start({ broker, port: 0, zeroCopy });
  cleanup.push(() => server.close());
  return server;
}

function fetchFrame(correlationId: number, offset: number, maxBytes: number): Buffer {
  const w = new Writer();
  encodeFetchRequest(w, 4, {
    replicaId: -1,
    maxWaitMs: 0,
    minBytes: 1,
    maxBytes,
    isolationLevel: 0,
    topics: [{ topic: 'big', partitions: [{ partition: 0, fetchOffset: offset, partitionMaxBytes: maxBytes }] }],
  });
  return frame(1, 4, correlationId, w.toBuffer());
}

function metadataFrame(correlationId: number): Buffer {
  const w = new Writer();
  encodeMetadataRequest(w, 1, { topics: [{ name: 'big' }] });
  return frame(3, 1, correlationId, w.toBuffer());
}

/**
 * Sends `requests` at once, reads nothing for `pauseMs`, then reads `count` whole response frames.
 * `onPaused` runs while the client is not reading.
 */
function pipelined(port: number, requests: Buffer[], count: number, pauseMs: number, onPaused?: () => void): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let have = 0;
    const frames: Buffer[] = [];
    const s = net.connect({ port, host: '127.0.0.1' }, () => {
      s.pause();
      s.write(Buffer.concat(requests));
      setTimeout(() => {
        onPaused?.();
        s.resume();
      }, pauseMs);
    });
    s.on('data', (c: Buffer) => {
      chunks.push(c);
      have += c.length;
      // Joins only once a whole frame is there (joining on every chunk would be quadratic).
      for (;;) {
        if (have < 4) return;
        if (chunks[0].length < 4) chunks.splice(0, chunks.length, Buffer.concat(chunks));
        const size = chunks[0].readInt32BE(0);
        if (have < 4 + size) return;
        const all = Buffer.concat(chunks);
        frames.push(all.subarray(0, 4 + size));
        chunks.splice(0, chunks.length, all.subarray(4 + size));
        have -= 4 + size;
        if (frames.length === count) {
          s.destroy();
          resolve(frames);
          return;
        }
      }
    });
    s.on('error', reject);
    s.on('close', () => reject(new Error(`closed after ${frames.length} of ${count} responses`)));
  });
}

/** The record bytes of a Fetch v4 response of one partition: [correlation id, records]. */
function recordsOf(response: Buffer): { correlationId: number; records: Buffer } {
  const correlationId = response.readInt32BE(4);
  // v4: throttle(4) topics(4) name(2+3) partitions(4) index(4) error(2) hw(8) lso(8) aborted(4) records(4 + n)
  let at = 8 + 4 + 4 + 2 + 'big'.length + 4 + 4 + 2 + 8 + 8;
  const aborted = response.readInt32BE(at);
  at += 4 + Math.max(0, aborted) * 16;
  const n = response.readInt32BE(at);
  return { correlationId, records: response.subarray(at + 4, at + 4 + n) };
}

/** The offsets of the batches in `records`, which must be whole and contiguous. */
function batchOffsets(records: Buffer): { first: number; next: number } {
  let at = 0;
  let next = -1;
  let first = -1;
  while (at < records.length) {
    const base = Number(records.readBigInt64BE(at));
    const length = records.readInt32BE(at + 8);
    const lastDelta = records.readInt32BE(at + 23);
    if (first < 0) first = base;
    else expect(base).toBe(next);
    next = base + lastDelta + 1;
    at += 12 + length;
  }
  expect(at).toBe(records.length);
  return { first, next };
}

describe('zero-copy fetch', () => {
  it('sends the bytes a copying server sends, across a client that stops reading', async () => {
    const broker = await filledBroker();
    const zero = await serve(broker, true);
    const copy = await serve(broker, false);
    const max = 32 << 20;
    const [z] = await pipelined(zero.address.port, [fetchFrame(7, 0, max)], 1, 300);
    const [c] = await pipelined(copy.address.port, [fetchFrame(7, 0, max)], 1, 0);
    expect(z.equals(c)).toBe(true);
    const { records } = recordsOf(z);
    expect(records.length).toBeGreaterThan(MESSAGES * VALUE);
    expect(batchOffsets(records)).toEqual({ first: 0, next: MESSAGES });
    const zs = zero.stats();
    expect(zs.fetchBytesZeroCopy + zs.fetchBytesCopied).toBe(records.length);
    expect(zs.fetchBytesCopied).toBeGreaterThan(0); // the socket filled: probes went through the stream
    expect(zs.fetchBytesZeroCopy / records.length).toBeGreaterThan(0.9);
    expect(copy.stats()).toMatchObject({ fetchBytesZeroCopy: 0, fetchBytesCopied: records.length });
  });

  it('answers pipelined fetches and other requests in order', async () => {
    const broker = await filledBroker();
    const server = await serve(broker, true);
    const requests = [fetchFrame(1, 0, 4 << 20), metadataFrame(2), fetchFrame(3, 20_000, 4 << 20), fetchFrame(4, 39_999, 1), metadataFrame(5)];
    const responses = await pipelined(server.address.port, requests, requests.length, 200);
    expect(responses.map((r) => r.readInt32BE(4))).toEqual([1, 2, 3, 4, 5]);
    const first = batchOffsets(recordsOf(responses[0]).records);
    expect(first.first).toBe(0);
    const third = batchOffsets(recordsOf(responses[2]).records);
    expect(third.first).toBeLessThanOrEqual(20_000);
    expect(third.next).toBeGreaterThan(20_000);
    // At least one batch, even past the limit of 1 byte.
    expect(batchOffsets(recordsOf(responses[3]).records).next).toBe(MESSAGES);
  });

  it('sends a segment that is deleted while its bytes are on the way', async () => {
    const broker = await filledBroker();
    const server = await serve(broker, true);
    const copy = await serve(broker, false);
    const [expected] = await pipelined(copy.address.port, [fetchFrame(1, 0, 32 << 20)], 1, 0);
    const segments = (dir: string): string[] => fs.readdirSync(dir).filter((f) => f.endsWith('.log')).map((f) => path.join(dir, f));
    const files = segments(partitionDir(broker.dir));
    const saved = files.map((f) => [f, fs.readFileSync(f)] as const);
    const [got] = await pipelined(server.address.port, [fetchFrame(1, 0, 32 << 20)], 1, 300, () => {
      for (const f of files) fs.unlinkSync(f);
    });
    for (const [f, bytes] of saved) fs.writeFileSync(f, bytes); // for the broker's close
    expect(got.equals(expected)).toBe(true);
  });

  it('holds one descriptor per segment file, however many pending responses and partitions read it', async () => {
    const broker = await filledBroker();
    const server = await serve(broker, true);
    // 16 pipelined fetches, each naming partition 0 of the topic 20 times, to a client not reading.
    const many = (correlationId: number): Buffer => {
      const w = new Writer();
      const partitions = Array.from({ length: 20 }, () => ({ partition: 0, fetchOffset: 0, partitionMaxBytes: 1 << 20 }));
      encodeFetchRequest(w, 4, { replicaId: -1, maxWaitMs: 0, minBytes: 1, maxBytes: 32 << 20, isolationLevel: 0, topics: [{ topic: 'big', partitions }] });
      return frame(1, 4, correlationId, w.toBuffer());
    };
    const before = openDescriptors();
    let peak = 0;
    let held = 0;
    const responses = await pipelined(server.address.port, Array.from({ length: 16 }, (_, i) => many(i)), 16, 300, () => {
      peak = openDescriptors() - before;
      held = server.stats().segmentDescriptors;
    });
    expect(responses.map((r) => r.readInt32BE(4))).toEqual(Array.from({ length: 16 }, (_, i) => i));
    expect(held).toBe(1);
    expect(peak).toBeLessThan(20); // sockets and the one shared descriptor, not 16 x 20
    await waitFor(() => server.stats().segmentDescriptors === 0);
  });

  it('stays up and closes its descriptors when a client leaves in the middle of a response', async () => {
    const broker = await filledBroker();
    const server = await serve(broker, true);
    const before = openDescriptors();
    for (let i = 0; i < 5; i++) {
      await new Promise<void>((resolve) => {
        const s = net.connect({ port: server.address.port, host: '127.0.0.1' }, () => {
          s.pause();
          s.write(fetchFrame(1, 0, 16 << 20));
          setTimeout(() => s.destroy(), 100);
        });
        s.on('close', () => resolve());
        s.on('error', () => {});
      });
    }
    await waitFor(() => server.stats().connections === 0 && openDescriptors() <= before);
    const [after] = await pipelined(server.address.port, [metadataFrame(9)], 1, 0);
    expect(after.readInt32BE(4)).toBe(9);
  });

  it('releases the regions of responses queued behind one cut short, when the client leaves', async () => {
    const broker = await filledBroker();
    const server = await serve(broker, true);
    await new Promise<void>((resolve) => {
      const s = net.connect({ port: server.address.port, host: '127.0.0.1' }, () => {
        s.pause();
        s.write(Buffer.concat([fetchFrame(1, 0, 16 << 20), fetchFrame(2, 0, 16 << 20), fetchFrame(3, 0, 16 << 20)]));
        setTimeout(() => s.destroy(), 300);
      });
      s.on('close', () => resolve());
      s.on('error', () => {});
    });
    await waitFor(() => server.stats().connections === 0 && server.stats().segmentDescriptors === 0);
  });

  it('answers long-polling fetches at once when it closes', async () => {
    const broker = await filledBroker();
    const server = await Server.start({ broker, port: 0, zeroCopy: true });
    const w = new Writer();
    encodeFetchRequest(w, 4, { replicaId: -1, maxWaitMs: 30_000, minBytes: 1, maxBytes: 1 << 20, isolationLevel: 0, topics: [{ topic: 'big', partitions: [{ partition: 0, fetchOffset: MESSAGES, partitionMaxBytes: 1 << 20 }] }] });
    const answered = pipelined(server.address.port, [frame(1, 4, 7, w.toBuffer())], 1, 0);
    await new Promise((r) => setTimeout(r, 200)); // the fetch is waiting for data
    const started = Date.now();
    await server.close();
    const [response] = await answered;
    expect(response.readInt32BE(4)).toBe(7);
    expect(Date.now() - started).toBeLessThan(10_000); // not the 30 s the fetch asked to wait
  });

  it('closes within its grace period while a client that stopped reading holds a response', async () => {
    const broker = await filledBroker();
    const server = await Server.start({ broker, port: 0, zeroCopy: true });
    const s = net.connect({ port: server.address.port, host: '127.0.0.1' });
    s.on('error', () => {});
    await new Promise<void>((resolve) => s.once('connect', () => resolve()));
    s.pause();
    s.write(fetchFrame(1, 0, 16 << 20));
    await waitFor(() => server.stats().segmentDescriptors === 1);
    const started = Date.now();
    await server.close();
    s.destroy();
    // Bounded by the shutdown grace (seconds), not the idle timeout (minutes).
    expect(Date.now() - started).toBeLessThan(60_000);
    await waitFor(() => server.stats().segmentDescriptors === 0);
  }, 90_000);
});

function partitionDir(root: string): string {
  const found: string[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(path.join(d, e.name));
      else if (e.name.endsWith('.log')) found.push(d);
    }
  };
  walk(root);
  return found[0];
}

function openDescriptors(): number {
  return fs.readdirSync('/proc/self/fd').length;
}

async function waitFor(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 25));
  expect(cond()).toBe(true);
}
