/**
 * 100,000 bad request frames from a seeded generator, through real sockets: random bytes, a real
 * header with a random body, valid requests cut short or with a length inside changed, unknown
 * API keys and versions, size prefixes past the limit or negative. Each connection first sends a
 * good ApiVersions request, which must be answered, then bad frames one at a time until the
 * server closes it; every bad frame is accounted for (answered, or the reason of a close: one
 * that is still a valid request but gets no answer, as a Produce with acks 0, ends in the idle
 * timeout). The
 * server never crashes, keeps answering, and its memory stays bounded. Replay a failure with
 * SLUICE_TEST_SEED.
 */
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Broker } from '../../lib/broker/broker';
import { Server } from '../../lib/kafka';
import { encodeFetchRequest, encodeMetadataRequest, encodeProduceRequest } from '../../lib/kafka/protocol/generated';
import { Writer } from '../../lib/kafka/protocol/writer';
import { frame } from '../helpers/kafka-wire';
import { mulberry32 } from '../helpers/prng';
import { tmpDir } from '../helpers/tmp';

const FRAMES = 100_000;
const WORKERS = 8;
const SEED = Number(process.env.SLUICE_TEST_SEED ?? 20261202);

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

function body(encode: (w: Writer) => void): Buffer {
  const w = new Writer();
  encode(w);
  return w.toBuffer();
}

/** Valid request frames to damage: [apiKey, version, body]. */
const GOOD: [number, number, Buffer][] = [
  [3, 4, body((w) => encodeMetadataRequest(w, 4, { topics: [{ name: 't' }], allowAutoTopicCreation: false }))],
  [1, 4, body((w) => encodeFetchRequest(w, 4, { replicaId: -1, maxWaitMs: 0, minBytes: 1, maxBytes: 1024, isolationLevel: 0, topics: [{ topic: 't', partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: 1024 }] }] }))],
  [0, 7, body((w) => encodeProduceRequest(w, 7, { transactionalId: null, acks: 1, timeoutMs: 100, topicData: [{ name: 't', partitionData: [{ index: 0, records: Buffer.alloc(70, 1) }] }] }))],
];

function badFrame(rand: () => number, i: number): Buffer {
  const bytes = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => Math.floor(rand() * 256)));
  const [key, version, good] = GOOD[Math.floor(rand() * GOOD.length)];
  switch (i % 6) {
    case 0: // random bytes, size prefix included
      return bytes(1 + Math.floor(rand() * 48));
    case 1: // a real header of a served API, a random body
      return frame([3, 1, 0, 18, 19, 11][Math.floor(rand() * 6)], Math.floor(rand() * 5), i, bytes(Math.floor(rand() * 40)));
    case 2: // a valid request cut short (the frame's size says so)
      return frame(key, version, i, good.subarray(0, Math.floor(rand() * good.length)));
    case 3: {
      // a valid request with one byte inside changed (often a length or a count)
      const b = Buffer.from(good);
      b[Math.floor(rand() * b.length)] ^= 1 + Math.floor(rand() * 255);
      return frame(key, version, i, b);
    }
    case 4: // an unknown API key, or a version out of range
      return rand() < 0.5 ? frame(1000 + Math.floor(rand() * 30000), 0, i) : frame(key, 50 + Math.floor(rand() * 100), i);
    default: {
      // a size prefix past the limit, or negative
      const b = Buffer.alloc(4);
      b.writeInt32BE(rand() < 0.5 ? -1 - Math.floor(rand() * 1000) : 2 * 1024 * 1024 + Math.floor(rand() * 2 ** 30));
      return b;
    }
  }
}

/**
 * One connection: a good ApiVersions (its answer awaited), then bad frames one at a time, the next
 * once the last was answered (a damaged request can still be a valid one), until the server
 * closes the connection. Returns whether the good request was answered and how many bad frames
 * were.
 */
function session(port: number, next: () => Buffer | null): Promise<{ answered: boolean; badAnswered: number }> {
  return new Promise((resolve) => {
    let answered = false;
    let badAnswered = 0;
    let responses = 0;
    const s = net.connect(port, '127.0.0.1', () => s.write(frame(18, 2, 1)));
    let got = Buffer.alloc(0);
    const send = (): void => {
      const f = next();
      if (f === null) s.end();
      else s.write(f);
    };
    s.on('data', (d: Buffer) => {
      got = Buffer.concat([got, d]);
      while (got.length >= 4 && got.length >= 4 + got.readInt32BE(0)) {
        if (responses++ === 0) answered = got.readInt32BE(4) === 1;
        else badAnswered++;
        got = got.subarray(4 + got.readInt32BE(0));
        send();
      }
    });
    s.on('error', () => {});
    s.on('close', () => resolve({ answered, badAnswered }));
  });
}

describe('bad frames through sockets', () => {
  it(`survives ${FRAMES.toLocaleString('en')} seeded bad frames (seed ${SEED}; replay with SLUICE_TEST_SEED=${SEED})`, async () => {
    const broker = await Broker.open(tmpDir());
    cleanup.push(() => broker.close());
    await broker.createTopic('t', { partitions: 1, sync: 'none' });
    let closedByServer = 0;
    const server = await Server.start({ broker, port: 0, requestBytesMax: 1024 * 1024, frameTimeoutMs: 50, idleTimeoutMs: 200, onClientError: () => closedByServer++ });
    cleanup.push(() => server.close());
    const rand = mulberry32(SEED);
    let made = 0;
    const next = (): Buffer | null => (made < FRAMES ? badFrame(rand, made++) : null);
    const rssBefore = process.memoryUsage().rss;
    let unanswered = 0;
    let badAnswered = 0;
    await Promise.all(
      Array.from({ length: WORKERS }, async () => {
        while (made < FRAMES) {
          const r = await session(server.address.port, next);
          badAnswered += r.badAnswered;
          if (!r.answered) unanswered++;
        }
      }),
    );
    expect(made).toBe(FRAMES);
    expect(unanswered).toBe(0);
    // Every bad frame was either answered (still a valid request) or made the server close its connection.
    expect(badAnswered + closedByServer).toBe(FRAMES);
    // Still serving, with what the good and the damaged-but-valid requests left.
    const s = await session(server.address.port, () => null);
    expect(s.answered).toBe(true);
    await new Promise((r) => setTimeout(r, 200));
    expect(server.stats().connections).toBe(0);
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(256 * 1024 * 1024);
  }, 300_000);
});
