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
