/**
 * Log: one partition log on disk, the typed face of the native engine (native/include/sluice/log.h).
 *
 * Writes are synchronous and cheap: `append` encodes one record straight into the mapped segment
 * and returns its offset; the batch it joins is sealed (CRC, header) at the end of the current tick
 * or when it reaches `batchBytesMax`, and only then is it visible to `read` (the high watermark).
 * `flush()` makes everything appended so far durable and resolves with the durable offset.
 * Reads return records whose key and value are zero-copy views of the segment file; a view keeps
 * its segment mapped for as long as it lives, even after the log is closed or the segment deleted.
 *
 * A Log belongs to the thread that opened it. Only one Log may have a directory open at a time,
 * across processes (the second gets a LOCKED error); any number may open it with `readOnly`.
 */
import { Buffer } from 'node:buffer';
import { ErrorCode, SluiceError } from '../errors';
import { native, type NativeLog, type NativeRecovery } from '../native';
import { stageBatch } from './batch-stager';
import { ConfirmQueue } from './confirm-queue';
import { decodeHeaders, EMPTY_HEADERS, encodeHeaders, type HeadersInput, type RecordHeader } from './record-headers';

export type { HeadersInput, RecordHeader } from './record-headers';

/** A message value or key: bytes, or a string stored as UTF-8. */
export type Bytes = Buffer | Uint8Array | string;

export interface LogOptions {
  /** Capacity of each segment file, preallocated on disk. Default 256 MiB; 64 KiB to 2 GiB - 1. */
  segmentBytes?: number;
  /** Bytes of log between sparse index entries. Default 4096. */
  indexIntervalBytes?: number;
  /** An open batch is sealed once it reaches this size. Default 256 KiB. */
  batchBytesMax?: number;
  /** The largest batch, so the largest message with its 61-byte batch header. Default 1 MiB. */
  messageBytesMax?: number;
  /** Delete the oldest segments while the log holds more than this many bytes. Default: no limit. */
  retentionBytes?: number;
  /** Delete segments whose newest record is older than this. Default: no limit. */
  retentionMs?: number;
  /** Truncate at mid-log corruption instead of refusing to open (data past it is lost). */
  repair?: boolean;
  /**
   * Open without the directory lock (another Log, in any process, may hold it) and change nothing
   * on disk: reads see what recovery would keep, `recovery` says what it would do, and append,
   * appendBatch, seal, flush and retain fail with READ_ONLY. Default false.
   */
  readOnly?: boolean;
  /**
   * false: a directory without `sluice.meta` is CORRUPT ("not a log or its metadata was lost")
   * instead of becoming a new log. Default true.
   */
  create?: boolean;
  /**
   * When appended data is made durable. 'always': every sealed batch is flushed at once, with
   * group commit, and confirms wait for it; 'interval' (default): at most every `syncIntervalMs`;
   * 'none': only on flush(), segment roll and close. Under 'interval' and 'none' a confirm
   * resolves when its message is sealed, saying whether it is durable yet.
   */
  sync?: SyncPolicy;
  /** For sync 'interval': the longest time appended data waits for a flush. Default 1000. */
  syncIntervalMs?: number;
  /**
   * How sealed batches reach the segment file. 'pwrite' (default): the open batch is built in a
   * buffer of the log and written with one pwrite when sealed. 'mmap': it is built in place in a
   * shared writable mapping whose pages a background thread faults in ahead of the writer
   * (`populateWindowBytes`). Readers use a mapping either way; the bytes on disk are the same.
   */
  writePath?: WritePath;
  /** writePath 'mmap': bytes of pages kept faulted in ahead of the writer. Default 32 MiB; 64 KiB to 1 GiB. */
  populateWindowBytes?: number;
}

export type WritePath = 'pwrite' | 'mmap';

export type SyncPolicy = 'always' | 'interval' | 'none';

/** What a confirm reports: the message's offset and whether it is on stable storage. */
export interface Confirm {
  offset: number;
  durable: boolean;
}

export type ConfirmCallback = (err: Error | null, confirm: Confirm | null) => void;

export interface AppendOptions {
  key?: Bytes | null;
  headers?: HeadersInput;
  /** Milliseconds since the epoch; default: now. */
  timestamp?: number;
}

export interface Message extends AppendOptions {
  value: Bytes | null;
}

export interface ReadOptions {
  /** Whole batches up to this many bytes (at least one record is always returned). Default 1 MiB. */
  maxBytes?: number;
  /** At most this many records. Default 8192, at most 65536. */
  maxRecords?: number;
}

export interface LogRecord {
  readonly offset: number;
  readonly timestamp: number;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: readonly RecordHeader[];
}

/** Whole batches of a segment file, for sendfile(2). `fd` is a duplicate: the caller closes it. */
export interface RawSlice {
  fd: number;
  path: string;
  position: number;
  length: number;
  /** The base offset of the first batch (it may start before the requested offset). */
  firstOffset: number;
  /** The offset after the last batch in the slice. */
  nextOffset: number;
}

export type RecoveryReport = NativeRecovery;

export interface RetentionReport {
  segmentsDeleted: number;
  bytesDeleted: number;
}

const MAX_RECORDS_PER_READ = 65536;
const SLOT_FIELDS = 8;
const DEFAULT_MAX_BYTES = 1024 * 1024;
const DEFAULT_MAX_RECORDS = 8192;
const DEFAULTS = { segmentBytes: 256 * 1024 * 1024, batchBytesMax: 256 * 1024, messageBytesMax: 1024 * 1024 };

// Read descriptors, shared by every Log of this thread: reads are synchronous.
let slots = new Float64Array(2 + SLOT_FIELDS * 1024);
function slotsFor(records: number): Float64Array {
  const need = 2 + SLOT_FIELDS * records;
  if (slots.length < need) slots = new Float64Array(need);
  return slots;
}

// Logs with confirms pending (see Log.#setActive).
const pendingLogs = new Set<Log>();

class Record implements LogRecord {
  constructor(
    readonly offset: number,
    readonly timestamp: number,
    readonly key: Buffer | null,
    readonly value: Buffer | null,
    readonly headers: readonly RecordHeader[],
  ) {}
}

function checkOffset(offset: unknown, what = 'offset'): asserts offset is number {
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) {
    throw new TypeError(`${what} must be a non-negative integer, got ${String(offset)}`);
  }
}

function checkPositiveInteger(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) {
    throw new RangeError(`${what} must be a positive integer, got ${String(v)}`);
  }
  return v;
}

function validateOptions(options: LogOptions): void {
  if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
  const known = new Set(['segmentBytes', 'indexIntervalBytes', 'batchBytesMax', 'messageBytesMax', 'retentionBytes', 'retentionMs', 'repair', 'readOnly', 'create', 'sync', 'syncIntervalMs', 'populateWindowBytes', 'writePath']);
  for (const k of Object.keys(options)) {
    if (!known.has(k)) throw new TypeError(`unknown log option ${JSON.stringify(k)}`);
  }
  for (const k of ['segmentBytes', 'indexIntervalBytes', 'batchBytesMax', 'messageBytesMax'] as const) {
    if (options[k] !== undefined) checkPositiveInteger(options[k], k);
  }
  for (const k of ['retentionBytes', 'retentionMs'] as const) {
    const v = options[k];
    if (v !== undefined && (typeof v !== 'number' || !Number.isSafeInteger(v) || v < -1)) {
      throw new RangeError(`${k} must be a non-negative integer (or -1 for no limit), got ${String(v)}`);
    }
  }
  for (const k of ['repair', 'readOnly', 'create'] as const) {
    if (options[k] !== undefined && typeof options[k] !== 'boolean') throw new TypeError(`${k} must be a boolean`);
  }
  if (options.sync !== undefined && options.sync !== 'always' && options.sync !== 'interval' && options.sync !== 'none') {
    throw new RangeError(`sync must be 'always', 'interval' or 'none', got ${String(options.sync)}`);
  }
  if (options.writePath !== undefined && options.writePath !== 'pwrite' && options.writePath !== 'mmap') {
    throw new RangeError(`writePath must be 'pwrite' or 'mmap', got ${String(options.writePath)}`);
  }
  if (options.syncIntervalMs !== undefined) {
    checkPositiveInteger(options.syncIntervalMs, 'syncIntervalMs');
    if (options.syncIntervalMs > 86_400_000) throw new RangeError('syncIntervalMs must be at most one day');
  }
  const segmentBytes = options.segmentBytes ?? DEFAULTS.segmentBytes;
  const messageBytesMax = options.messageBytesMax ?? Math.min(DEFAULTS.messageBytesMax, segmentBytes);
  const batchBytesMax = options.batchBytesMax ?? Math.min(DEFAULTS.batchBytesMax, messageBytesMax);
  if (segmentBytes < 65536 || segmentBytes > 2 ** 31 - 1) throw new RangeError('segmentBytes must be between 64 KiB and 2 GiB - 1');
  if (messageBytesMax < 68 || messageBytesMax > segmentBytes) throw new RangeError('messageBytesMax must be between 68 bytes and segmentBytes');
  if (batchBytesMax < 68 || batchBytesMax > messageBytesMax) throw new RangeError('batchBytesMax must be between 68 bytes and messageBytesMax');
}

export class Log {
  readonly #native: NativeLog;
  readonly #dir: string;
  readonly #messageBytesMax: number;
  readonly #recovery: RecoveryReport;
  readonly #offsets = new Float64Array(4);
  #sealScheduled = false;
  #state: 'open' | 'closing' | 'closed' = 'open';
  #closePromise: Promise<void> | undefined;
  readonly #syncAlways: boolean;
  readonly #readOnly: boolean;
  // Confirms waiting for their message to be sealed, and those waiting for it to be durable.
  readonly #waitVisible = new ConfirmQueue();
  readonly #waitDurable = new ConfirmQueue();
  #active = false;
  #settleScheduled = false;
  // The segment whose mapping the last read used, and a Buffer over all of it.
  #viewBase = -1;
  #view: Buffer = Buffer.alloc(0);
  readonly #sealTick = (): void => {
    this.#sealScheduled = false;
    if (this.#state === 'open') {
      try {
        this.#native.seal();
      } catch {
        // A batch that could not be written (pwrite) fails the log like a failed flush: settling
        // rejects every pending confirm with that failure, and later appends throw READ_ONLY.
        // Nothing is thrown from this tick.
        this.#settleAll();
        return;
      }
      if (this.#waitVisible.size > 0) this.#settleAll();
    }
  };

  private constructor(nativeLog: NativeLog, dir: string, messageBytesMax: number, syncAlways: boolean, readOnly: boolean) {
    this.#native = nativeLog;
    this.#dir = dir;
    this.#messageBytesMax = messageBytesMax;
    this.#syncAlways = syncAlways;
    this.#readOnly = readOnly;
    this.#recovery = nativeLog.recovery();
  }

  /**
   * Opens (creating if needed, unless `create: false` or `readOnly`) the log in `dir`, recovering
   * it after an unclean shutdown.
   */
  static async open(dir: string, options: LogOptions = {}): Promise<Log> {
    if (typeof dir !== 'string' || dir.length === 0) throw new TypeError('dir must be a non-empty string');
    validateOptions(options);
    const segmentBytes = options.segmentBytes ?? DEFAULTS.segmentBytes;
    const messageBytesMax = options.messageBytesMax ?? Math.min(DEFAULTS.messageBytesMax, segmentBytes);
    const batchBytesMax = options.batchBytesMax ?? Math.min(DEFAULTS.batchBytesMax, messageBytesMax);
    // The native flusher notification holds the Log weakly, so that a Log dropped without close()
    // can still be collected (its native half then closes the files).
    let ref: WeakRef<Log> | undefined;
    const nativeLog = await native.NativeLog.open(dir, { ...options, segmentBytes, messageBytesMax, batchBytesMax }, () => {
      const log = ref?.deref();
      if (log !== undefined) log.#settleAll();
    });
    const log = new Log(nativeLog, dir, messageBytesMax, options.sync === 'always', options.readOnly === true);
    ref = new WeakRef(log);
    return log;
  }

  /** Appends one message and returns its offset. Visible to readers at the end of this tick. */
  append(value: Bytes | null, options?: AppendOptions): number {
    if (value === undefined) throw new TypeError('value must be a Buffer, Uint8Array, string or null, got undefined');
    if (this.#readOnly) this.#checkWritable();
    let offset: number;
    if (options === undefined) {
      offset = this.#native.append(value);
    } else {
      if (options === null || typeof options !== 'object') throw new TypeError('append options must be an object');
      const { key, timestamp, headers } = options;
      if (timestamp !== undefined && (typeof timestamp !== 'number' || !Number.isSafeInteger(timestamp) || timestamp < 0)) {
        throw new RangeError(`timestamp must be a non-negative integer number of milliseconds, got ${String(timestamp)}`);
      }
      offset = this.#native.append(value, key ?? null, timestamp, headers === undefined ? undefined : encodeHeaders(headers));
    }
    if (!this.#sealScheduled) {
      this.#sealScheduled = true;
      process.nextTick(this.#sealTick);
    }
    return offset;
  }

  /**
   * Appends many messages in one native call and returns the offset of the first; the rest follow
   * contiguously. Every message is checked before any is written; an I/O failure part-way leaves
   * the first `error.appended` messages appended.
   */
  appendBatch(messages: ReadonlyArray<Bytes | null | Message>): number {
    if (!Array.isArray(messages)) throw new TypeError('appendBatch needs an array of messages');
    this.#checkWritable();
    const first = stageBatch(messages, this.#messageBytesMax, this.#appendStaged);
    if (first < 0) return this.endOffset;
    if (!this.#sealScheduled) {
      this.#sealScheduled = true;
      process.nextTick(this.#sealTick);
    }
    return first;
  }

  readonly #appendStaged = (staging: Buffer, lengths: Int32Array, count: number, timestamps: Float64Array | undefined): number =>
    this.#native.appendStaged(staging, lengths, count, timestamps);

  /** Seals the open batch now instead of at the end of the tick. */
  seal(): void {
    this.#checkWritable();
    this.#native.seal();
    if (this.#waitVisible.size > 0) this.#settleAll();
  }

  /**
   * Records from `offset` up to the high watermark, from one segment: an empty array when there is
   * nothing (yet) at `offset`. Throws OFFSET_OUT_OF_RANGE below `startOffset` or past `endOffset`.
   */
  read(offset: number, options?: ReadOptions): LogRecord[] {
    checkOffset(offset);
    let maxBytes = DEFAULT_MAX_BYTES;
    let maxRecords = DEFAULT_MAX_RECORDS;
    if (options !== undefined) {
      if (options.maxBytes !== undefined) maxBytes = checkPositiveInteger(options.maxBytes, 'maxBytes');
      if (options.maxRecords !== undefined) maxRecords = Math.min(checkPositiveInteger(options.maxRecords, 'maxRecords'), MAX_RECORDS_PER_READ);
    }
    const s = slotsFor(maxRecords);
    const n = this.#native.read(offset, maxBytes, s.length === 2 + SLOT_FIELDS * maxRecords ? s : s.subarray(0, 2 + SLOT_FIELDS * maxRecords));
    if (n === 0) return [];
    const view = this.#viewOf(s[0]);
    const ab = view.buffer;
    const out: LogRecord[] = new Array(n);
    for (let i = 0, p = 2; i < n; i++, p += SLOT_FIELDS) {
      const keyLen = s[p + 3];
      const valueLen = s[p + 5];
      const headerCount = s[p + 7];
      out[i] = new Record(
        s[p],
        s[p + 1],
        keyLen < 0 ? null : Buffer.from(ab, s[p + 2], keyLen),
        valueLen < 0 ? null : Buffer.from(ab, s[p + 4], valueLen),
        headerCount === 0 ? EMPTY_HEADERS : decodeHeaders(view, s[p + 6], headerCount),
      );
    }
    return out;
  }

  #viewOf(base: number): Buffer {
    if (base !== this.#viewBase) {
      this.#view = Buffer.from(this.#native.segmentBuffer(base));
      this.#viewBase = base;
    }
    return this.#view;
  }

  /** The first offset whose timestamp is at or after `timestamp`, or null if there is none. */
  offsetForTime(timestamp: number): number | null {
    if (typeof timestamp !== 'number' || !Number.isSafeInteger(timestamp)) throw new TypeError('timestamp must be an integer number of milliseconds');
    const o = this.#native.offsetForTime(timestamp);
    return o < 0 ? null : o;
  }

  /** Whole sealed batches from the one holding `offset`, as a file range; null when there is nothing yet. */
  slice(offset: number, options?: { maxBytes?: number }): RawSlice | null {
    checkOffset(offset);
    const maxBytes = options?.maxBytes === undefined ? DEFAULT_MAX_BYTES : checkPositiveInteger(options.maxBytes, 'maxBytes');
    return this.#native.slice(offset, maxBytes);
  }

  /**
   * Resolves (or calls back) once the message at `offset` has reached the log's durability:
   * on stable storage under sync 'always', sealed and visible otherwise. The confirm says which.
   * Rejects with the flush failure (code IO) if the log fails before that.
   */
  confirm(offset: number): Promise<Confirm>;
  confirm(offset: number, callback: ConfirmCallback): void;
  confirm(offset: number, callback?: ConfirmCallback): Promise<Confirm> | void {
    checkOffset(offset);
    if (callback !== undefined && typeof callback !== 'function') throw new TypeError('callback must be a function');
    if (callback === undefined) {
      return new Promise((resolve, reject) => this.#confirm(offset, (err, c) => (err !== null ? reject(err) : resolve(c!))));
    }
    this.#confirm(offset, callback);
  }

  #confirm(offset: number, callback: ConfirmCallback): void {
    this.#native.offsets(this.#offsets);
    const end = this.#offsets[1];
    if (offset >= end) throw new RangeError(`offset ${offset} has not been appended (the log ends at ${end})`);
    const settle = (err: Error | null, isDurable: boolean): void => callback(err, err === null ? { offset, durable: isDurable } : null);
    if (this.#state === 'closed') {
      // Everything appended was sealed and flushed by close(), unless a flush failed first.
      const durable = offset < this.#offsets[3];
      process.nextTick(settle, durable || !this.#syncAlways ? null : this.#closedError(), durable);
      return;
    }
    // Every confirm goes through the queues and one settle pass, so that callbacks always run in
    // offset order, whatever the flusher published in between.
    (this.#syncAlways ? this.#waitDurable : this.#waitVisible).push(offset, settle);
    this.#setActive();
    this.#scheduleSettle();
  }

  /** Seals, then resolves with the durable offset once everything appended so far is on stable storage. */
  flush(): Promise<number> {
    if (this.#state !== 'open') return Promise.reject(this.#closedError());
    if (this.#readOnly) return Promise.reject(this.#readOnlyError());
    let target: number;
    try {
      target = this.#native.flush();
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise((resolve, reject) => {
      this.#waitDurable.push(target - 1, (err) => (err !== null ? reject(err) : resolve(Math.max(target, this.durableOffset))));
      this.#setActive();
      this.#scheduleSettle();
    });
  }

  #scheduleSettle(): void {
    if (!this.#settleScheduled) {
      this.#settleScheduled = true;
      process.nextTick(this.#settleTick);
    }
  }

  readonly #settleTick = (): void => {
    this.#settleScheduled = false;
    this.#settleAll();
  };

  // Settles whatever the watermarks allow; also called through the native thread-safe function
  // after every flush round.
  #settleAll(): void {
    if (this.#state === 'closed') return;
    if (this.#waitDurable.size + this.#waitVisible.size > 0) {
      this.#native.offsets(this.#offsets);
      const hw = this.#offsets[2];
      const durable = this.#offsets[3];
      this.#waitDurable.settleBelow(durable, () => true);
      this.#waitVisible.settleBelow(hw, (o) => o < durable);
      if (this.#waitDurable.size + this.#waitVisible.size > 0) {
        const failure = this.#native.failure();
        if (failure !== null) {
          this.#waitDurable.rejectAll(failure);
          this.#waitVisible.rejectAll(failure);
        }
      }
    }
    this.#setActive();
  }

  // While confirms are pending the process stays alive, as it would for an open socket, and the
  // Log is rooted here: otherwise it, its waiters and the code awaiting them form a cycle that
  // only the flusher's (weak) callback reaches, and the collector would take it mid-flush.
  #setActive(): void {
    const active = this.#state !== 'closed' && this.#waitDurable.size + this.#waitVisible.size > 0;
    if (active !== this.#active) {
      this.#active = active;
      this.#native.setActive(active);
      if (active) pendingLogs.add(this);
      else pendingLogs.delete(this);
    }
  }

  /** Applies retention now (it also runs on every segment roll). */
  retain(nowMs: number = Date.now()): RetentionReport {
    this.#checkWritable();
    if (typeof nowMs !== 'number' || !Number.isSafeInteger(nowMs)) throw new TypeError('nowMs must be an integer');
    return this.#native.retain(nowMs);
  }

  /** Seals, flushes, writes the indexes and a clean-shutdown checkpoint, and releases the directory. */
  close(): Promise<void> {
    if (this.#closePromise !== undefined) return this.#closePromise;
    this.#state = 'closing';
    this.#closePromise = this.#native.close().finally(() => {
      this.#native.offsets(this.#offsets);
      const [, , hw, durable] = this.#offsets;
      this.#state = 'closed';
      this.#waitDurable.settleBelow(durable, () => true);
      this.#waitVisible.settleBelow(hw, (o) => o < durable);
      const err = this.#closedError();
      this.#waitDurable.rejectAll(err);
      this.#waitVisible.rejectAll(err);
      this.#active = false;
      pendingLogs.delete(this);
    });
    return this.#closePromise;
  }

  #checkOpen(): void {
    if (this.#state !== 'open') throw this.#closedError();
  }

  #checkWritable(): void {
    this.#checkOpen();
    if (this.#readOnly) throw this.#readOnlyError();
  }

  #readOnlyError(): SluiceError {
    return new SluiceError('the log was opened read-only', ErrorCode.READ_ONLY);
  }

  #closedError(): SluiceError {
    return new SluiceError('the log is closed', ErrorCode.CLOSED);
  }

  #offset(i: number): number {
    this.#native.offsets(this.#offsets);
    return this.#offsets[i];
  }

  /** The first offset that can be read. */
  get startOffset(): number {
    return this.#offset(0);
  }
  /** The offset the next append gets. */
  get endOffset(): number {
    return this.#offset(1);
  }
  /** Offsets below this are sealed and visible to readers. */
  get highWatermark(): number {
    return this.#offset(2);
  }
  /** Offsets below this are on stable storage. */
  get durableOffset(): number {
    return this.#offset(3);
  }
  get recovery(): RecoveryReport {
    return { ...this.#recovery };
  }
  get dir(): string {
    return this.#dir;
  }
  get closed(): boolean {
    return this.#state !== 'open';
  }
  /**
   * Fault injection (SLUICE_FAULT_INJECTION=1 only): a power failure now. Everything not yet
   * flushed is discarded, as are files whose directory entry was not fsynced; the log is closed
   * without a checkpoint, and pending confirms are rejected. Reopen the directory to recover.
   */
  simulatePowerLoss(): void {
    this.#checkOpen();
    this.#native.simulatePowerLoss();
    this.#state = 'closed';
    this.#closePromise = Promise.resolve();
    const err = this.#closedError();
    this.#waitDurable.rejectAll(err);
    this.#waitVisible.rejectAll(err);
    this.#active = false;
    pendingLogs.delete(this);
  }

  /** Segment count and bytes held. */
  stats(): { segments: number; sizeBytes: number } {
    this.#checkOpen();
    return this.#native.stats();
  }
}
