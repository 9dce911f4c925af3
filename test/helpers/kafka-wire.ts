/** Raw Kafka-protocol exchanges for tests: frames built by hand or with the generated codecs. */
import * as net from 'node:net';
import { Reader } from '../../lib/kafka/protocol/reader';
import { Writer } from '../../lib/kafka/protocol/writer';

/** A request frame; `flexible` adds the request header v2's (empty) tagged fields. */
export function frame(apiKey: number, apiVersion: number, correlationId: number, body: Buffer = Buffer.alloc(0), flexible = false): Buffer {
  const header = Buffer.alloc(8 + 2 + 4 + (flexible ? 1 : 0));
  header.writeInt16BE(apiKey, 0);
  header.writeInt16BE(apiVersion, 2);
  header.writeInt32BE(correlationId, 4);
  header.writeInt16BE(4, 8);
  header.write('test', 10);
  const size = Buffer.alloc(4);
  size.writeInt32BE(header.length + body.length);
  return Buffer.concat([size, header, body]);
}

/** A raw connection: sends `bytes`, collects what comes back until the server closes it or `ms` pass. */
export function raw(port: number, bytes: Buffer, ms = 1000): Promise<{ data: Buffer; closedByServer: boolean }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const s = net.connect(port, '127.0.0.1', () => s.write(bytes));
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ data: Buffer.concat(chunks), closedByServer: false });
    }, ms);
    s.on('data', (c) => chunks.push(c));
    s.on('error', () => {});
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ data: Buffer.concat(chunks), closedByServer: true });
    });
  });
}

/**
 * One request through a generated encoder, its response (the first one back) through the matching
 * decoder. `flexible`: the version's request and response headers are the flexible ones.
 */
export async function exchange<Req, Res>(
  port: number,
  apiKey: number,
  version: number,
  encode: (w: Writer, v: number, m: Req) => void,
  decode: (r: Reader, v: number) => Res,
  request: Req,
  flexible = false,
): Promise<Res> {
  const w = new Writer();
  encode(w, version, request);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = net.connect(port, '127.0.0.1', () => s.write(frame(apiKey, version, 1, w.toBuffer(), flexible)));
    s.on('data', (c) => {
      chunks.push(c);
      const all = Buffer.concat(chunks);
      if (all.length >= 4 && all.length >= 4 + all.readInt32BE(0)) {
        s.destroy();
        try {
          resolve(decode(new Reader(all, flexible ? 9 : 8, 4 + all.readInt32BE(0)), version));
        } catch (e) {
          reject(e);
        }
      }
    });
    s.on('error', reject);
    s.on('close', () => reject(new Error('closed before a response')));
  });
}

/**
 * One connection kept open for many requests: `request` sends a frame and resolves with its
 * response frame (size prefix included), responses matched in order as the server writes them.
 */
export class WireConnection {
  readonly #socket: net.Socket;
  readonly #waiting: { resolve: (b: Buffer) => void; reject: (e: Error) => void }[] = [];
  #buffered = Buffer.alloc(0);
  #correlationId = 0;
  /** Resolves once the socket has closed (either side). */
  readonly closed: Promise<void>;

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    socket.on('data', (c) => this.#onData(c));
    socket.on('error', () => {});
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        for (const w of this.#waiting.splice(0)) w.reject(new Error('closed before a response'));
        resolve();
      }),
    );
  }

  static open(port: number): Promise<WireConnection> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.off('error', reject);
        resolve(new WireConnection(s));
      });
      s.once('error', reject);
    });
  }

  /** A request through a generated encoder; its response frame. */
  request<Req>(apiKey: number, version: number, encode: (w: Writer, v: number, m: Req) => void, request: Req, clientId = 'test'): Promise<Buffer> {
    const w = new Writer();
    encode(w, version, request);
    const body = w.toBuffer();
    const id = Buffer.from(clientId);
    const header = Buffer.alloc(4 + 8 + 2 + id.length);
    header.writeInt32BE(8 + 2 + id.length + body.length, 0);
    header.writeInt16BE(apiKey, 4);
    header.writeInt16BE(version, 6);
    header.writeInt32BE(++this.#correlationId, 8);
    header.writeInt16BE(id.length, 12);
    id.copy(header, 14);
    return new Promise((resolve, reject) => {
      this.#waiting.push({ resolve, reject });
      this.#socket.write(Buffer.concat([header, body]));
    });
  }

  close(): void {
    this.#socket.destroy();
  }

  #onData(chunk: Buffer): void {
    this.#buffered = Buffer.concat([this.#buffered, chunk]);
    while (this.#buffered.length >= 4 && this.#buffered.length >= 4 + this.#buffered.readInt32BE(0)) {
      const size = 4 + this.#buffered.readInt32BE(0);
      const response = this.#buffered.subarray(0, size);
      this.#buffered = this.#buffered.subarray(size);
      this.#waiting.shift()?.resolve(response);
    }
  }
}

/** A non-flexible response frame's body through a generated decoder. */
export function decoded<Res>(responseFrame: Buffer, decode: (r: Reader, v: number) => Res, version: number): Res {
  return decode(new Reader(responseFrame, 8, responseFrame.length), version);
}
