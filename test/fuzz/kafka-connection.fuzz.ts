/**
 * Fuzz target kafka-connection: mutated requests (the committed corpus, corpus.ts) through a real
 * Connection, its handlers and a real broker (in a temporary directory under /dev/shm when it
 * exists), over a fake socket (a Duplex that records what is written), so that the handlers get
 * malformed-but-decodable input: topic names, partition indexes, counts, timeouts and record
 * batches no client would send. Half the Produce requests that decode get their record batches'
 * CRCs recomputed, so that mutated batches get past the CRC to the batch and record checks; the
 * bytes reach the socket whole, cut in two, pipelined, or with a size of their own (streamOf).
 * Properties, for every input: the process never throws (no uncaught exception, no unhandled
 * rejection), and the connection answers, drops the client, or is still waiting (a long poll, a
 * group join, the rest of a frame) when the fuzzer moves on after WAIT_MS; memory stays bounded (the peak RSS).
 * Run with scripts/fuzz.js (target kafka-connection), or under vitest by fuzz.test.ts.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Duplex } from 'node:stream';
import { setImmediate as tick } from 'node:timers/promises';
import type { Socket } from 'node:net';
import { Broker } from '../../lib/broker/broker';
import { Connection, type ConnectionLimits } from '../../lib/kafka/connection';
import { SegmentDescriptors } from '../../lib/kafka/file-region';
import { GroupCoordinator } from '../../lib/kafka/groups/coordinator';
import { HANDLERS } from '../../lib/kafka/handlers';
import type { ServerContext } from '../../lib/kafka/handlers/handler';
import type { ProduceRequest } from '../../lib/kafka/protocol/generated';
import { RequestStats } from '../../lib/kafka/request-stats';
import { REQUEST_BUFFER_BYTES_MAX_DEFAULT, RequestBuffers } from '../../lib/kafka/request-buffers';
import { ClientQuotas } from '../../lib/kafka/quotas/client-quotas';
import { quotaConfigOf } from '../../lib/kafka/quotas/quota-config';
import { ALLOW_ALL } from '../../lib/kafka/acl/authorizer';
import { decodeRequest } from '../../lib/kafka/request-decoder';
import { crc32c } from '../format/kafka-decoder';
import { loadCorpus } from './corpus';
import { type FuzzOptions, type FuzzReport, fuzz, fuzzMain } from './runner';

/** How long one input may go unanswered before the fuzzer closes its connection and moves on. */
const WAIT_MS = 20;
const TOPIC = 'fuzz-topic';

/** A socket that takes what the connection writes and emits what the fuzzer pushes. */
class FakeSocket extends Duplex {
  readonly remoteAddress = '127.0.0.1';
  readonly remotePort = 40000;
  written = 0;
  setNoDelay(): this {
    return this;
  }
  setTimeout(): this {
    return this;
  }
  override _read(): void {}
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (e?: Error | null) => void): void {
    this.written += chunk.length;
    done();
  }
}

const LIMITS: ConnectionLimits = { requestBytesMax: 1024 * 1024, frameTimeoutMs: 1000, idleTimeoutMs: 60_000, responsesInFlightMax: 16, writeBufferBytesMax: 8 * 1024 * 1024 };

function contextOf(broker: Broker, closing: AbortSignal): ServerContext {
  return {
    broker,
    nodeId: 0,
    advertisedHost: '127.0.0.1',
    advertisedPort: 9092,
    clusterId: 'fuzz-cluster',
    autoCreateTopics: true,
    // Small segments: topics the inputs create (CreateTopics, Metadata) cost little memory.
    topicDefaults: { partitions: 1, sync: 'none', segmentBytes: 64 * 1024, retentionBytes: 256 * 1024 },
    groups: new GroupCoordinator(0),
    closing,
    zeroCopy: false,
    sent: { zeroCopyBytes: 0, copiedBytes: 0 },
    requests: new RequestStats(),
    segments: new SegmentDescriptors(),
    authorizer: ALLOW_ALL,
    quotas: new ClientQuotas(quotaConfigOf(undefined)),
    requestBuffers: new RequestBuffers(REQUEST_BUFFER_BYTES_MAX_DEFAULT),
  };
}

/** Recomputes the CRC of every whole batch in a Produce request's records (views of `frame`). */
function resealProduce(frame: Buffer): void {
  const d = decodeRequest(frame, HANDLERS);
  if (d.kind !== 'request' || d.header.apiKey !== 0) return;
  for (const t of (d.request as ProduceRequest).topicData) {
    for (const p of t.partitionData) {
      const b = p.records;
      for (let at = 0; b !== null && at + 61 <= b.length; ) {
        const end = at + 12 + b.readInt32BE(at + 8);
        if (end > b.length || end < at + 61) break;
        b.writeUInt32BE(crc32c(b, at + 21, end), at + 17);
        at = end;
      }
    }
  }
}

/**
 * What the socket delivers for one input, by `mode`: the frame with its size in one chunk (0), cut
 * in two chunks inside the size or the frame (1: the connection joins them), twice back to back
 * (2: pipelined, answered in order), or the input itself as the stream, its first bytes taken as
 * the size (3: sizes past the limit, negative, or claiming more than comes).
 */
function streamOf(frame: Buffer, mode: number): Buffer[] {
  const whole = sized(frame);
  switch (mode) {
    case 1: {
      const cut = 1 + (frame.length % Math.max(1, whole.length - 1));
      return [whole.subarray(0, cut), whole.subarray(cut)];
    }
    case 2:
      return [Buffer.concat([whole, whole])];
    case 3:
      return [frame];
    default:
      return [whole];
  }
}

/** Whether the stream ends inside its first frame (its size within the limit). */
function partial(chunks: Buffer[]): boolean {
  const s = Buffer.concat(chunks);
  if (s.length < 4) return true;
  const size = s.readInt32BE(0);
  return size >= 0 && size <= LIMITS.requestBytesMax && s.length < 4 + size;
}

function sized(frame: Buffer): Buffer {
  const size = Buffer.alloc(4);
  size.writeInt32BE(frame.length);
  return Buffer.concat([size, frame]);
}

export async function fuzzKafkaConnection(o: FuzzOptions): Promise<FuzzReport> {
  const dir = fs.mkdtempSync(path.join(fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir(), 'sluice-fuzz-conn-'));
  const broker = await Broker.open(dir);
  await broker.createTopic(TOPIC, { partitions: 2, sync: 'none', segmentBytes: 64 * 1024, retentionBytes: 256 * 1024 });
  const closing = new AbortController();
  const ctx = contextOf(broker, closing.signal);
  const counts: Record<string, number> = { answered: 0, dropped: 0, waiting: 0 };
  let thrown: unknown = null;
  const onThrow = (e: unknown): void => {
    thrown ??= e;
  };
  process.on('uncaughtException', onThrow);
  process.on('unhandledRejection', onThrow);
  let n = 0;
  const property = async (input: Buffer): Promise<void> => {
    const frame = Buffer.from(input);
    const mode = n++ % 4;
    if (mode % 2 === 0) resealProduce(frame);
    const socket = new FakeSocket();
    const c = new Connection(socket as unknown as Socket, ctx, HANDLERS, LIMITS, () => {});
    const chunks = streamOf(frame, mode);
    for (const chunk of chunks) socket.push(chunk);
    // A stream that stops inside a frame waits for the rest: nothing to wait for here.
    const deadline = performance.now() + (partial(chunks) ? 0 : WAIT_MS);
    do await tick();
    while (!socket.destroyed && socket.written === 0 && performance.now() < deadline);
    counts[socket.destroyed ? 'dropped' : socket.written > 0 ? 'answered' : 'waiting']++;
    c.destroy();
    await c.closed;
    if (thrown !== null) {
      const e = thrown;
      thrown = null;
      throw new Error(`the process would have crashed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    }
  };
  try {
    return await fuzz('kafka-connection', loadCorpus().map((s) => s.frame), property, o, counts);
  } finally {
    closing.abort();
    process.off('uncaughtException', onThrow);
    process.off('unhandledRejection', onThrow);
    await broker.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) fuzzMain(fuzzKafkaConnection);
