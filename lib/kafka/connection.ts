/**
 * One client connection: frames requests (an int32 size, then the request), decodes each header,
 * hands the body to the API's handler and writes the responses in request order, as Kafka does,
 * however the handlers' promises settle. Limits: a frame claiming more than requestBytesMax closes
 * the connection before anything is allocated for it (bytes are only joined once all have
 * arrived); so does a malformed request, an unknown API or an unsupported version (ApiVersions
 * alone is answered with UNSUPPORTED_VERSION, in the v0 layout every client can read). A client
 * that leaves half a frame unsent for frameTimeoutMs, or sends nothing for idleTimeoutMs, is
 * dropped. Back-pressure: while responsesInFlightMax responses are pending, or the socket holds
 * more than writeBufferBytesMax unsent, no more is read from it. Quotas: a handler that throttles
 * the client (RequestContext.throttle) mutes the connection, as Kafka does after KIP-219: the
 * response goes out, then nothing more is read or handled (frames already buffered included)
 * until the throttle time has passed. Neither pause counts against frameTimeoutMs. Memory: the
 * bytes of unhandled frames count against the server's budget (request-buffers.ts); past it, a
 * connection holding much stops reading until the total is back under, and its half-sent
 * frame's timer still runs. Thread-confined.
 */
import type { Socket } from 'node:net';
import { ErrorCode, SluiceError } from '../errors';
import { apiVersionsBody } from './handlers/api-versions';
import { ANONYMOUS_PRINCIPAL, type ApiHandler, type RequestContext, type ServerContext, type Session } from './handlers/handler';
import { encodeResponseHeader, responseHeaderIsFlexible, type RequestHeader } from './protocol/headers';
import { API_VERSIONS_KEY, encodeApiVersionsResponse } from './protocol/generated';
import { KafkaError } from './protocol/error-codes';
import type { AdvertisedApi } from './protocol/versions';
import { decodeRequest } from './request-decoder';
import { type Part, Writer } from './protocol/writer';
import type { FileRegion } from './file-region';
import { RegionSender } from './region-sender';
import type { SaslAuthenticator } from './security/sasl/authenticator';

export interface ConnectionLimits {
  requestBytesMax: number;
  frameTimeoutMs: number;
  idleTimeoutMs: number;
  responsesInFlightMax: number;
  writeBufferBytesMax: number;
}

/**
 * Who the connection is (its session, as the server made it from the socket) and, on a SASL
 * listener, its authenticator: until it says authenticated, only the SASL exchange may be sent,
 * in frames of at most SASL_FRAME_BYTES_MAX.
 */
export interface ConnectionSecurity {
  session: Session;
  authenticator: SaslAuthenticator | null;
}

/** An unauthenticated client's frames are SASL tokens: Kafka's sasl.server.max.receive.size, 512 KiB. */
export const SASL_FRAME_BYTES_MAX = 512 * 1024;

/** Why a connection was closed by the server, for the server's onClientError. */
export interface ConnectionProblem {
  remote: string;
  reason: string;
}

interface Pending {
  parts: Part[] | null;
  /** Set when the response is ready, or when there is none to write. */
  done: boolean;
  /** File regions the response carries, released once it is written or discarded. */
  regions: FileRegion[];
}

function release(p: Pending): void {
  for (const r of p.regions) r.release();
  // A handler that settles later adds its regions to the same (emptied) list, and settle()
  // releases them then.
  p.regions.length = 0;
}

/** Chunks read smaller than this are joined to the one before while it is smaller too (copying at most this much each). */
const SMALL_CHUNK_BYTES = 4096;

/** How long a shut-down connection waits for the client to close its side. */
const SHUTDOWN_GRACE_MS = 5000;

export class Connection {
  readonly #socket: Socket;
  readonly #server: ServerContext;
  readonly #handlers: ReadonlyMap<number, ApiHandler>;
  readonly #limits: ConnectionLimits;
  readonly #onProblem: (p: ConnectionProblem) => void;
  readonly #remote: string;
  readonly #session: Session;
  readonly #authenticator: SaslAuthenticator | null;
  #chunks: Buffer[] = [];
  #buffered = 0;
  #frameTimer: NodeJS.Timeout | undefined;
  readonly #pending: Pending[] = [];
  #closed = false;
  /** Set by #drop: nothing more is read, handled or written, though 'close' may come later. */
  #dropped = false;
  #readPaused = false;
  /** Set while a quota's throttle time runs: nothing is read or handled until #unmute. */
  #muteTimer: NodeJS.Timeout | undefined;
  #mutedUntil = 0;
  readonly #throttle = (ms: number): void => this.#mute(ms);
  /** Set while the server's request buffers are over budget and this connection holds much of them. */
  #waitingForMemory = false;
  readonly #memoryFreed = (): void => {
    this.#waitingForMemory = false;
    this.#resumeReading();
  };
  readonly #sender: RegionSender;
  /** Set while a response with file regions is being written: nothing else may write meanwhile. */
  #writing = false;
  readonly #closedPromise: Promise<void>;

  constructor(socket: Socket, server: ServerContext, handlers: ReadonlyMap<number, ApiHandler>, limits: ConnectionLimits, onProblem: (p: ConnectionProblem) => void, security?: ConnectionSecurity) {
    this.#socket = socket;
    this.#server = server;
    this.#handlers = handlers;
    this.#limits = limits;
    this.#onProblem = onProblem;
    this.#remote = `${socket.remoteAddress}:${socket.remotePort}`;
    this.#session = security?.session ?? { principal: ANONYMOUS_PRINCIPAL, clientAddress: socket.remoteAddress ?? '', tls: false };
    this.#authenticator = security?.authenticator ?? null;
    this.#sender = new RegionSender(socket, server.sent, server.zeroCopy);
    socket.setNoDelay(true);
    socket.setTimeout(limits.idleTimeoutMs, () => this.#drop('idle'));
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('drain', () => this.#maybeResume());
    socket.on('error', () => {}); // 'close' follows and does the work
    this.#closedPromise = new Promise((resolve) => socket.once('close', () => {
      this.#closed = true;
      clearTimeout(this.#frameTimer);
      this.#endMute();
      this.#server.requestBuffers.cancel(this.#memoryFreed);
      this.#server.requestBuffers.release(this.#buffered);
      this.#buffered = 0;
      this.#chunks = [];
      // Responses never to be written give their file regions back (the one being written, if
      // any, left the queue: the sender's settlement releases it).
      for (const p of this.#pending.splice(0)) release(p);
      resolve();
    }));
  }

  /** Who is at the other end (the same object the handlers see). */
  get session(): Readonly<Session> {
    return this.#session;
  }

  /** Resolves once the socket has closed. */
  get closed(): Promise<void> {
    return this.#closedPromise;
  }

  /** Stops taking requests; answers what was already read, then ends the connection. */
  shutdown(): Promise<void> {
    if (this.#live) {
      this.#endWhenAnswered = true;
      this.#clearFrameTimer();
      // A client that stopped reading would hold a response (and the shutdown) forever.
      setTimeout(() => this.#socket.destroy(), SHUTDOWN_GRACE_MS).unref();
      this.#flush();
    }
    return this.#closedPromise;
  }
  #endWhenAnswered = false;

  /**
   * Half-closes once the answers are written. Reading resumes, discarding what comes (#onData),
   * or a client still sending would keep the socket from ever closing; a client that never
   * closes its side is destroyed after a grace period.
   */
  #end(): void {
    this.#socket.end();
    this.#socket.resume();
    setTimeout(() => this.#socket.destroy(), SHUTDOWN_GRACE_MS).unref();
  }

  destroy(): void {
    this.#socket.destroy();
  }

  #drop(reason: string): void {
    if (this.#closed || this.#dropped) return;
    this.#dropped = true;
    clearTimeout(this.#frameTimer);
    this.#onProblem({ remote: this.#remote, reason });
    this.#socket.destroy();
  }

  /** Reports `reason`, then closes once what was read is answered (a failed authentication's answer among it). */
  #closeAnswered(reason: string): void {
    if (!this.#live || this.#endWhenAnswered) return;
    this.#onProblem({ remote: this.#remote, reason });
    void this.shutdown();
  }

  get #live(): boolean {
    return !this.#closed && !this.#dropped;
  }

  #onData(chunk: Buffer): void {
    if (this.#endWhenAnswered || !this.#live) return;
    const last = this.#chunks.length - 1;
    // Each chunk is a Buffer of its own (a few hundred bytes of objects whatever its length): a
    // client sending a byte at a time would make a half-sent frame cost that much per byte.
    if (last >= 0 && chunk.length < SMALL_CHUNK_BYTES && this.#chunks[last].length < SMALL_CHUNK_BYTES) this.#chunks[last] = Buffer.concat([this.#chunks[last], chunk]);
    else this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    this.#server.requestBuffers.add(chunk.length);
    this.#drain();
  }

  /** Handles every whole frame buffered, up to the in-flight limit (the rest waits for #maybeResume). */
  #drain(): void {
    while (this.#live && this.#muteTimer === undefined && this.#buffered >= 4 && this.#pending.length < this.#limits.responsesInFlightMax) {
      const size = this.#peekSize();
      const max = this.#authenticator === null || this.#authenticator.authenticated ? this.#limits.requestBytesMax : SASL_FRAME_BYTES_MAX;
      if (size < 0 || size > max) {
        this.#drop(`a request frame of ${size} bytes (the limit is ${max}${max === SASL_FRAME_BYTES_MAX ? ' before authenticating' : ''})`);
        return;
      }
      if (this.#buffered < 4 + size) break;
      const frame = this.#take(4 + size).subarray(4);
      this.#clearFrameTimer();
      this.#onFrame(frame);
    }
    if (!this.#live) return;
    this.#maybePause();
    this.#maybeWaitForMemory();
    this.#armFrameTimer();
  }

  #maybeWaitForMemory(): void {
    const buffers = this.#server.requestBuffers;
    if (this.#waitingForMemory || !buffers.mustWait(this.#buffered)) return;
    this.#waitingForMemory = true;
    this.#socket.pause();
    buffers.wait(this.#memoryFreed);
  }

  /**
   * A frame the client started and has not finished: dropped once frameTimeoutMs pass from its
   * start (not from its last byte, or one byte a minute would hold it open), but only while we
   * are reading: when back-pressure stops the reading, the frame is ours to wait for.
   */
  #armFrameTimer(): void {
    const partial = this.#buffered > 0 && (this.#buffered < 4 || this.#buffered < 4 + this.#peekSize());
    if (!partial || this.#readPaused || this.#muteTimer !== undefined || this.#endWhenAnswered) {
      this.#clearFrameTimer();
      return;
    }
    this.#frameTimer ??= setTimeout(() => this.#drop(`half a request frame left unsent for ${this.#limits.frameTimeoutMs} ms`), this.#limits.frameTimeoutMs);
  }

  #clearFrameTimer(): void {
    clearTimeout(this.#frameTimer);
    this.#frameTimer = undefined;
  }

  #peekSize(): number {
    if (this.#chunks[0].length >= 4) return this.#chunks[0].readInt32BE(0);
    return this.#take(4, true).readInt32BE(0);
  }

  /** The first n buffered bytes (n <= buffered), joined; `peek` leaves them buffered. */
  #take(n: number, peek = false): Buffer {
    const first = this.#chunks[0];
    let out: Buffer;
    if (first.length >= n) out = first.subarray(0, n);
    else {
      out = Buffer.allocUnsafe(n);
      let at = 0;
      for (const c of this.#chunks) {
        const k = Math.min(c.length, n - at);
        c.copy(out, at, 0, k);
        at += k;
        if (at === n) break;
      }
    }
    if (peek) return out;
    let left = n;
    while (left > 0) {
      const c = this.#chunks[0];
      if (c.length <= left) {
        this.#chunks.shift();
        left -= c.length;
      } else {
        this.#chunks[0] = c.subarray(left);
        left = 0;
      }
    }
    this.#buffered -= n;
    this.#server.requestBuffers.release(n);
    return out;
  }

  #onFrame(frame: Buffer): void {
    const decoded = decodeRequest(frame, this.#handlers);
    if ((decoded.kind === 'request' || decoded.kind === 'malformed') && this.#authenticator !== null && !this.#authenticator.allows(decoded.header.apiKey)) {
      this.#drop(`${decoded.api.name} before authenticating (SASL): only ApiVersions, SaslHandshake and SaslAuthenticate may come first`);
      return;
    }
    switch (decoded.kind) {
      case 'bad-header':
        this.#drop('a request header that does not decode');
        return;
      case 'unsupported': {
        const { header, api } = decoded;
        if (header.apiKey === API_VERSIONS_KEY) this.#respondUnsupportedApiVersions(header);
        else this.#drop(api === undefined ? `API key ${header.apiKey}, which this server does not serve` : `${api.name} version ${header.apiVersion} (this server speaks ${api.minVersion} to ${api.maxVersion})`);
        return;
      }
      case 'malformed': {
        const e = decoded.error;
        const what = e instanceof SluiceError && e.code === ErrorCode.MALFORMED_REQUEST ? e.message : `decoding failed: ${(e as Error).message}`;
        this.#drop(`${decoded.api.name} v${decoded.header.apiVersion}: ${what}`);
        return;
      }
      case 'request':
        this.#handle(decoded.header, decoded.api, decoded.handler, decoded.flexible, decoded.request, 4 + frame.length);
    }
  }

  /** `requestBytes`: the whole frame's, its size field included (what quotas count). */
  #handle(header: RequestHeader, api: AdvertisedApi, handler: ApiHandler, flexible: boolean, request: unknown, requestBytes: number): void {
    const started = performance.now();
    const stats = this.#server.requests;
    const ctx: RequestContext = { server: this.#server, clientId: header.clientId, session: this.#session, authenticator: this.#authenticator ?? undefined, regions: [], requestBytes, throttle: this.#throttle };
    const pending: Pending = { parts: null, done: false, regions: ctx.regions };
    this.#pending.push(pending);
    const fail = (e: unknown): void => {
      stats.record(header.apiKey, performance.now() - started, true);
      release(pending);
      this.#drop(`${api.name} v${header.apiVersion} failed: ${e instanceof Error ? e.message : String(e)}`);
    };
    // Never throws: a response that cannot be encoded drops the connection like a failed handler
    // (an exception here would be an unhandled rejection, which ends the process).
    const settle = (response: unknown): void => {
      stats.record(header.apiKey, performance.now() - started, false);
      if (!this.#live) {
        release(pending);
        return;
      }
      try {
        if (response !== null) {
          pending.parts = responseFrame(header.correlationId, responseHeaderIsFlexible(header.apiKey, flexible), (w) => handler.encode(w, header.apiVersion, response));
        }
        pending.done = true;
        this.#flush();
        const closeReason = this.#authenticator?.takeCloseReason() ?? null;
        if (closeReason !== null) this.#closeAnswered(closeReason);
      } catch (e) {
        fail(e);
      }
    };
    try {
      const out = handler.handle(ctx, request, header.apiVersion);
      if (out instanceof Promise) out.then(settle, fail);
      else settle(out);
    } catch (e) {
      fail(e);
    }
  }

  #respondUnsupportedApiVersions(header: RequestHeader): void {
    const parts = responseFrame(header.correlationId, false, (w) => encodeApiVersionsResponse(w, 0, apiVersionsBody(KafkaError.UNSUPPORTED_VERSION)));
    this.#pending.push({ parts, done: true, regions: [] });
    this.#flush();
  }

  /**
   * Writes every ready response at the head of the queue, in order. One with file regions is
   * written by the sender, and the queue waits for it (sendfile writes to the socket directly).
   */
  #flush(): void {
    while (!this.#writing && this.#pending.length > 0 && this.#pending[0].done) {
      const p = this.#pending.shift()!;
      if (p.parts === null || !this.#live) {
        release(p);
        continue;
      }
      if (p.regions.length === 0) {
        for (const part of p.parts) this.#socket.write(part as Buffer);
        continue;
      }
      this.#writing = true;
      this.#sender.write(p.parts).then(
        () => {
          this.#writing = false;
          release(p);
          this.#flush();
        },
        (e: Error) => {
          this.#writing = false;
          release(p);
          this.#drop(`sending records failed: ${e.message}`);
        },
      );
      return;
    }
    if (this.#writing) return;
    if (this.#endWhenAnswered && this.#pending.length === 0 && this.#live) this.#end();
    this.#maybeResume();
  }

  #maybePause(): void {
    if (this.#readPaused || !this.#live) return;
    if (this.#pending.length >= this.#limits.responsesInFlightMax || this.#socket.writableLength > this.#limits.writeBufferBytesMax) {
      this.#readPaused = true;
      this.#clearFrameTimer();
      this.#socket.pause();
    }
  }

  /** Mutes the connection for `ms` from now (a longer throttle already running stands). */
  #mute(ms: number): void {
    if (!this.#live || this.#endWhenAnswered || !(ms > 0)) return;
    const until = performance.now() + ms;
    if (until <= this.#mutedUntil) return;
    this.#mutedUntil = until;
    if (this.#muteTimer === undefined) {
      this.#server.requests.connectionsThrottled++;
      this.#clearFrameTimer();
      this.#socket.pause();
    } else clearTimeout(this.#muteTimer);
    this.#muteTimer = setTimeout(() => this.#unmute(), ms);
  }

  #unmute(): void {
    this.#endMute();
    if (!this.#live || this.#endWhenAnswered) return;
    this.#resumeReading();
    this.#drain();
  }

  /** Reads again unless something else still holds the reading: back-pressure, a throttle, the memory budget. */
  #resumeReading(): void {
    if (this.#readPaused || this.#muteTimer !== undefined || this.#waitingForMemory || !this.#live || this.#endWhenAnswered) return;
    this.#socket.resume();
  }

  #endMute(): void {
    if (this.#muteTimer === undefined) return;
    clearTimeout(this.#muteTimer);
    this.#muteTimer = undefined;
    this.#server.requests.connectionsThrottled--;
  }

  #maybeResume(): void {
    if (!this.#readPaused || !this.#live || this.#endWhenAnswered) return;
    if (this.#pending.length < this.#limits.responsesInFlightMax && this.#socket.writableLength <= this.#limits.writeBufferBytesMax) {
      this.#readPaused = false;
      this.#resumeReading();
      this.#drain(); // frames that arrived before the pause and were left buffered
    }
  }
}

/** A whole response frame: its size, the response header, then the body `encodeBody` writes. */
function responseFrame(correlationId: number, flexibleHeader: boolean, encodeBody: (w: Writer) => void): Part[] {
  const w = new Writer();
  w.int32(0); // the size, patched once the body is written
  encodeResponseHeader(w, correlationId, flexibleHeader);
  encodeBody(w);
  const parts = w.finish();
  (parts[0] as Buffer).writeInt32BE(w.length - 4, 0);
  return parts;
}
