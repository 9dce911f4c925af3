/**
 * Writes a response whose records are file regions to a connection's socket, in order: the bytes
 * before a region through the socket's stream, then the region from the segment file to the
 * socket with sendfile(2) once the stream has nothing queued (next-stage.md B3), then on. When the
 * socket's buffer fills, sendfile stops; the next few KiB of the region go through the stream as a
 * probe, and its completion (the socket took it) resumes sendfile. No event-loop thread waits on
 * disk: sendfile and the probe's read run on the thread pool.
 *
 * Where sendfile cannot serve (no descriptor behind the socket, as under TLS or outside Linux; a
 * kernel that refuses the pair; zeroCopy off), regions are copied: read in chunks on the thread pool
 * and written through the stream, holding back while the stream is over its high-water mark.
 *
 * The socket's descriptor is used through a duplicate made here, never directly: if the stream
 * closes its descriptor during a send, the number could be reused by another file, which sendfile
 * would then write to. The duplicate is closed once the socket has closed and no send uses it.
 * Thread-confined.
 */
import * as fs from 'node:fs';
import { constants } from 'node:os';
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { native } from '../native';
import type { FileRegion } from './file-region';
import type { Part } from './protocol/writer';

/** What a probe write carries when the socket is full (B3 measured 99.9% zero copy at 4 KiB). */
const PROBE_BYTES = 4096;
/** Copied regions go out in chunks of this size. */
const COPY_CHUNK_BYTES = 256 * 1024;
/** Errors with which sendfile says it cannot serve this socket and file: copy instead. */
const UNSUPPORTED = new Set([constants.errno.EINVAL, constants.errno.ENOSYS, constants.errno.EOPNOTSUPP]);

/** Record bytes sent, by how. */
export interface SendCounters {
  zeroCopyBytes: number;
  copiedBytes: number;
}

interface SocketHandle {
  fd?: number;
  writeQueueSize?: number;
}

export class RegionSender {
  readonly #socket: Socket;
  readonly #counters: SendCounters;
  /** The socket's duplicate descriptor; null when regions are copied; undefined until first needed. */
  #fd: number | null | undefined;
  /** Whether sendfile has sent on this socket (an unsupported error after that is not a fallback). */
  #sendfileWorked = false;
  /** Made when a send first needs it: most connections never fetch, and thousands may be open. */
  #probe: Buffer | undefined;
  #nativeInFlight = false;
  #socketClosed = false;

  constructor(socket: Socket, counters: SendCounters, zeroCopy: boolean) {
    this.#socket = socket;
    this.#counters = counters;
    if (!zeroCopy) this.#fd = null;
    socket.once('close', () => {
      this.#socketClosed = true;
      if (!this.#nativeInFlight) this.#closeDescriptor();
    });
  }

  /** Writes the parts in order; resolves once the last region is sent (its trailing bytes queued). */
  async write(parts: readonly Part[]): Promise<void> {
    let last: Promise<void> | null = null;
    for (const part of parts) {
      if (Buffer.isBuffer(part)) {
        last = this.#written(part);
        last.catch(() => {}); // awaited before the next region, or failing the stream ends us anyway
        continue;
      }
      if (last !== null) await last; // the stream's queue must be empty before sendfile writes
      last = null;
      await this.#send(part as FileRegion);
    }
  }

  async #send(region: FileRegion): Promise<void> {
    const fd = this.#descriptor();
    const sent = fd === null ? 0 : await this.#sendfile(fd, region);
    if (sent < region.byteLength) await this.#copy(region, sent);
  }

  /** Sends from the start of the region; returns how far it got before the rest must be copied. */
  async #sendfile(fd: number, region: FileRegion): Promise<number> {
    let at = 0;
    while (at < region.byteLength) {
      if (!this.#queuesEmpty()) return at; // something else is queued: keep the order by copying
      let sent: number;
      let probeBytes: number;
      try {
        [sent, probeBytes] = await this.#nativeSend(fd, region, at);
      } catch (e) {
        if (!this.#sendfileWorked && UNSUPPORTED.has((e as { errno?: number }).errno ?? 0)) {
          this.#useCopies();
          return at;
        }
        throw e;
      }
      this.#sendfileWorked = true;
      this.#counters.zeroCopyBytes += sent;
      at += sent;
      if (at === region.byteLength) break;
      await this.#written(this.#probe!.subarray(0, probeBytes));
      this.#counters.copiedBytes += probeBytes;
      at += probeBytes;
    }
    return at;
  }

  #nativeSend(fd: number, region: FileRegion, at: number): Promise<[number, number]> {
    this.#nativeInFlight = true;
    const probe = (this.#probe ??= Buffer.allocUnsafe(PROBE_BYTES));
    return new Promise((resolve, reject) => {
      native.sendFile(fd, region.fd, region.position + at, region.byteLength - at, probe, (err, sent, probeBytes) => {
        this.#nativeInFlight = false;
        if (this.#socketClosed) {
          this.#closeDescriptor();
          reject(new Error('the connection closed'));
        } else if (err !== null) reject(err);
        else resolve([sent, probeBytes]);
      });
    });
  }

  async #copy(region: FileRegion, from: number): Promise<void> {
    for (let at = from; at < region.byteLength; ) {
      const chunk = await readFully(region.fd, region.position + at, Math.min(COPY_CHUNK_BYTES, region.byteLength - at));
      if (this.#socketClosed) throw new Error('the connection closed');
      const written = this.#written(chunk);
      this.#counters.copiedBytes += chunk.length;
      at += chunk.length;
      if (this.#socket.writableNeedDrain) await written;
      else written.catch(() => {});
    }
  }

  /** Resolves once the stream has handed `buf` to the socket. */
  #written(buf: Buffer): Promise<void> {
    return new Promise((resolve, reject) => this.#socket.write(buf, (err) => (err ? reject(err) : resolve())));
  }

  #queuesEmpty(): boolean {
    const handle = (this.#socket as unknown as { _handle?: SocketHandle })._handle;
    return this.#socket.writableLength === 0 && (handle?.writeQueueSize ?? 0) === 0;
  }

  /** The duplicate descriptor to sendfile to, made on first use; null when regions are copied. */
  #descriptor(): number | null {
    if (this.#fd !== undefined) return this.#fd;
    const handle = (this.#socket as unknown as { _handle?: SocketHandle })._handle;
    const fd = handle?.fd;
    if (process.platform !== 'linux' || this.#socket instanceof TLSSocket || typeof fd !== 'number' || fd < 0 || this.#socketClosed) {
      this.#fd = null;
      return null;
    }
    this.#fd = native.duplicateSocket(fd);
    return this.#fd;
  }

  #useCopies(): void {
    this.#closeDescriptor();
    this.#fd = null;
  }

  #closeDescriptor(): void {
    if (typeof this.#fd === 'number') fs.close(this.#fd, () => {});
    this.#fd = null;
  }
}

/** `length` bytes of the file at `position`, read on the thread pool; a file that ends first is an error. */
async function readFully(fd: number, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length);
  for (let done = 0; done < length; ) {
    const n = await new Promise<number>((resolve, reject) => fs.read(fd, buf, done, length - done, position + done, (err, bytesRead) => (err ? reject(err) : resolve(bytesRead))));
    if (n === 0) throw new Error(`the segment ended ${length - done} bytes before the records sent from it`);
    done += n;
  }
  return buf;
}
