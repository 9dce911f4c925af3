/**
 * Abusive Kafka-protocol clients, for the abuse test and `npm run abuse`: connections that say
 * nothing, slowloris senders (a request one byte at a time), frames claiming 2 GiB, and clients
 * that pipeline large fetches and never read the responses. Each kind counts what the server did
 * to it (closed it, or not).
 */
import * as net from 'node:net';
import { encodeApiVersionsRequest, encodeFetchRequest } from '../../lib/kafka/protocol/generated';
import { Writer } from '../../lib/kafka/protocol/writer';
import { frame } from './kafka-wire';

function connectOne(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => {
      s.off('error', reject);
      s.on('error', () => {});
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** A group of abusive sockets: how many the server closed, and a way to close the rest. */
export class Abusers {
  readonly sockets = new Set<net.Socket>();
  closedByServer = 0;
  #stopping = false;

  track(s: net.Socket): net.Socket {
    this.sockets.add(s);
    s.once('close', () => {
      this.sockets.delete(s);
      if (!this.#stopping) this.closedByServer++;
    });
    return s;
  }

  get stopping(): boolean {
    return this.#stopping;
  }

  get open(): number {
    return this.sockets.size;
  }

  close(): Promise<void> {
    this.#stopping = true;
    const closed = [...this.sockets].map((s) => new Promise<void>((r) => (s.destroyed ? r() : s.once('close', () => r()))));
    for (const s of this.sockets) s.destroy();
    return Promise.all(closed).then(() => {});
  }
}

/** `n` connections that send nothing, opened `concurrency` at a time. */
export async function idleConnections(port: number, n: number, concurrency = 200): Promise<Abusers> {
  const a = new Abusers();
  for (let i = 0; i < n; i += concurrency) {
    const batch = await Promise.all(Array.from({ length: Math.min(concurrency, n - i) }, () => connectOne(port)));
    for (const s of batch) a.track(s);
  }
  return a;
}

/** What a slowloris sends: an ApiVersions request padded to 64 KiB, which no byte-a-time sender finishes. */
function slowFrame(): Buffer {
  const w = new Writer();
  encodeApiVersionsRequest(w, 0, { clientSoftwareName: '', clientSoftwareVersion: '' });
  return frame(18, 0, 1, Buffer.concat([w.toBuffer(), Buffer.alloc(64 * 1024)]));
}

/**
 * `n` slowloris senders: each sends a request one byte every `intervalMs`, and (with
 * `reconnect`) starts again on a new connection when the server closes it.
 */
export function slowloris(port: number, n: number, intervalMs: number, reconnect = false): Abusers {
  const a = new Abusers();
  const request = slowFrame();
  const start = (): void => {
    connectOne(port).then((s) => {
      a.track(s);
      let at = 0;
      const timer = setInterval(() => {
        if (at < request.length) s.write(request.subarray(at, ++at));
      }, intervalMs);
      s.once('close', () => {
        clearInterval(timer);
        if (reconnect && !a.stopping) start();
      });
    }, () => {});
  };
  for (let i = 0; i < n; i++) start();
  return a;
}

/**
 * `n` connections, each sending a size prefix that claims 2 GiB (0x7fffffff, one byte short,
 * and 0x80000000, which an int32 reads as negative), then bytes of it: resolves once the server
 * has closed every one (or rejects after `ms`).
 */
export async function hugeClaims(port: number, n: number, ms = 10_000): Promise<number> {
  const one = async (i: number): Promise<void> => {
    const s = await connectOne(port);
    const claim = Buffer.alloc(4 + 1024, 1);
    claim.writeUInt32BE(i % 2 === 0 ? 0x7fffffff : 0x80000000, 0);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        s.destroy();
        reject(new Error(`the server kept a connection claiming a 2 GiB frame for ${ms} ms`));
      }, ms);
      s.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      s.write(claim);
    });
  };
  await Promise.all(Array.from({ length: n }, (_, i) => one(i)));
  return n;
}

/** A Fetch v4 request frame for all of `topic`'s partition 0 from offset 0, up to `maxBytes`. */
export function bigFetchFrame(topic: string, maxBytes: number, correlationId: number): Buffer {
  const w = new Writer();
  encodeFetchRequest(w, 4, { replicaId: -1, maxWaitMs: 0, minBytes: 1, maxBytes, isolationLevel: 0, topics: [{ topic, partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: maxBytes }] }] } as never);
  return frame(1, 4, correlationId, w.toBuffer());
}

/**
 * `n` clients that pipeline `requests` large fetches of `topic` each and never read a byte of
 * the answers (their sockets stop reading at once, so the kernel's buffers fill and the server's
 * writes stall).
 */
export async function nonReaders(port: number, n: number, topic: string, requests: number, maxBytes = 50 * 1024 * 1024): Promise<Abusers> {
  const a = new Abusers();
  for (let i = 0; i < n; i++) {
    const s = a.track(await connectOne(port));
    s.pause();
    for (let k = 0; k < requests; k++) s.write(bigFetchFrame(topic, maxBytes, k + 1));
  }
  return a;
}
