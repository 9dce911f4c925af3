/**
 * Log: one partition log on disk, the typed face of the native engine (native/include/sluice/log.h).
 *
 * Writes are synchronous and cheap: `append` encodes one record into the open batch and returns its
 * offset; the batch is sealed (CRC, header) at the end of the current tick or when it reaches
 * `batchBytesMax`, and handed to the native writer thread, which writes it to the segment file:
 * only then is it visible to `read` (the high watermark), a thread hop after the seal. This thread
 * never writes a file that a sync may be running on, so it never waits for one (`visible()` and
 * `confirm()` tell when a record can be read, or is durable). Under sync 'none' nothing syncs the
 * active segment, so the seal writes the batch itself and it is visible at once.
 * `flush()` makes everything appended so far durable and resolves with the durable offset.
 * Reads return records whose key and value are zero-copy views of the segment file; a view keeps
 * its segment mapped for as long as it lives, even after the log is closed or the segment deleted.
 * `appendRaw` stores whole Kafka record batches as received; compressed ones are decompressed on
 * read (./compressed-batches.ts), and their records are views of the decompressed buffer.
 *
 * A Log belongs to the thread that opened it. Only one Log may have a directory open at a time,
 * across processes (the second gets a LOCKED error); any number may open it with `readOnly`.
 */
import { Buffer } from 'node:buffer';
import { ErrorCode, SluiceError } from '../errors';
import { boolean, checkKeys, integer, oneOf, optionsObject, shown } from '../validate';
import { LIMITS, READ_HEADER_SLOTS, READ_MAX_BYTES_DEFAULT, READ_RECORDS_DEFAULT, READ_RECORDS_MAX, RECORD_SLOT_FIELDS } from '../limits';
import { native, type NativeLog, type NativeRecovery } from '../native';
import { stageBatch } from './batch-stager';
import { batchRecords, checkCompressedRecords, readCompressedBatch, type DecompressedBatch } from './compressed-batches';
import { ConfirmQueue } from './confirm-queue';
import { DurationHistogram, type DurationSnapshot } from './duration-histogram';
import { recordsFromSlots } from './record-slots';
import { encodeHeaders, type HeadersInput, type RecordHeader } from './record-headers';

export type { HeadersInput, RecordHeader } from './record-headers';

/** A message value or key: bytes, or a string stored as UTF-8. */
export type Bytes = Buffer | Uint8Array | string;

export interface LogOptions {
  /**
   * Capacity of each segment file. The first segment reserves its disk space as it fills (64 KiB,
   * then 1 MiB, then all of it); later ones are reserved whole, once the active one is half full
   * (native/include/sluice/segment.h). Default 256 MiB; 64 KiB to 2 GiB - 1.
   */
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
   * resolves when its message is visible (written), saying whether it is durable yet.
   */
  sync?: SyncPolicy;
  /** For sync 'interval': the longest time appended data waits for a flush. Default 1000. */
  syncIntervalMs?: number;
  /**
   * How sealed batches reach the segment file. 'pwrite' (default): the open batch is built in a
   * write buffer and written by the native writer thread (consecutive batches with one pwrite).
   * 'mmap': it is built in place in a shared writable mapping whose pages a background thread
   * faults in ahead of the writer (`populateWindowBytes`); the writer thread only publishes and
   * syncs it. Readers use a mapping either way; the bytes on disk are the same.
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
  /** Stop before a batch that starts at or past this offset (a last stable offset). */
  upTo?: number;
}

/** What readTimes returns: the offset and timestamp of each record read, and where the next read starts. */
export interface TimesResult {
  count: number;
  offsets: Float64Array;
  timestamps: Float64Array;
  nextOffset: number;
}

/** What readRecords returns: the records, and where the next read starts. */
export interface ReadResult {
  records: LogRecord[];
  /**
   * The offset after the last record, or past transaction markers and aborted transactions the
   * read passed over (then it may exceed the last record's offset + 1, with no record at all).
   */
  nextOffset: number;
}

/**
 * The producer fields of appended batches (RecordBatch v2 producerId, producerEpoch,
 * baseSequence; `transactional`: attributes bit 4, the records of an open transaction).
 */
export interface BatchProducer {
  producerId: number;
  producerEpoch: number;
  /** The first record's sequence; each batch's baseSequence follows on. Default -1: none. */
  baseSequence?: number;
  transactional?: boolean;
}

/** A transaction marker (a control batch): see appendMarker. */
export interface TxnMarker {
  producerId: number;
  producerEpoch?: number;
  commit: boolean;
  coordinatorEpoch?: number;
  /** Default: now. */
  timestamp?: number;
  /** An abort: at or below the transaction's first offset in this log. */
  firstOffset?: number;
  /** An abort: the last stable offset when it is written. */
  lastStableOffset?: number;
}

/** An entry of the aborted-transaction index (Kafka's .txnindex). */
export interface AbortedTransaction {
  producerId: number;
  firstOffset: number;
  lastOffset: number;
  lastStableOffset: number;
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

/** What Log.stats() reports. */
export interface LogStats {
  segments: number;
  /** Bytes in the segment files (their used part). */
  sizeBytes: number;
  /** Bytes of batches appended since open (records with their RecordBatch framing, transaction markers included). */
  appendedBytes: number;
  /** From each confirm request to its settling (durable for sync 'always', visible otherwise). */
  confirmLatency: DurationSnapshot;
  /** How long each of the flusher's sync rounds took (fdatasyncs, directory fsyncs, index and metadata writes). */
  syncDuration: DurationSnapshot;
}

export interface RetentionReport {
  segmentsDeleted: number;
  bytesDeleted: number;
}

const MAX_RECORDS_PER_READ = READ_RECORDS_MAX;
const SLOT_FIELDS = RECORD_SLOT_FIELDS;
const HEADER_SLOTS = READ_HEADER_SLOTS;
const DEFAULT_MAX_BYTES = READ_MAX_BYTES_DEFAULT;
const DEFAULT_MAX_RECORDS = READ_RECORDS_DEFAULT;
const DEFAULTS = { segmentBytes: LIMITS.segmentBytesDefault, batchBytesMax: LIMITS.batchBytesMaxDefault, messageBytesMax: LIMITS.messageBytesMaxDefault };

// Read descriptors, shared by every Log of this thread: reads are synchronous.
let slots = new Float64Array(HEADER_SLOTS + SLOT_FIELDS * 1024);
function slotsFor(records: number): Float64Array {
  const need = HEADER_SLOTS + SLOT_FIELDS * records;
  if (slots.length < need) slots = new Float64Array(need);
  return slots;
}

// Logs with confirms pending (see Log.#setActive): an array with swap-remove, not a Set. A log
// joins and leaves on every turn that confirms; a Set emptied and refilled reallocates its table
// each time, and at 100 k msg/s those tables were a quarter of what lived long enough to need a
// major GC.
const pendingLogs: Log[] = [];

class Record implements LogRecord {
  constructor(
    readonly offset: number,
    readonly timestamp: number,
    readonly key: Buffer | null,
    readonly value: Buffer | null,
    readonly headers: readonly RecordHeader[],
  ) {}
}

function makeRecord(offset: number, timestamp: number, key: Buffer | null, value: Buffer | null, headers: readonly RecordHeader[]): LogRecord {
  return new Record(offset, timestamp, key, value, headers);
}

function producerFields(p: BatchProducer): Float64Array {
  const o = optionsObject(p, 'producer');
  checkKeys(o, PRODUCER_KEYS, 'producer field');
  const id = integer(p.producerId, 'producerId', 0, Number.MAX_SAFE_INTEGER);
  const epoch = integer(p.producerEpoch, 'producerEpoch', 0, 32767);
  const sequence = integer(p.baseSequence, 'baseSequence', -1, 2 ** 31 - 1, -1);
  if (p.transactional !== undefined && typeof p.transactional !== 'boolean') throw new TypeError('producer.transactional must be a boolean');
  return Float64Array.of(id, epoch, sequence, p.transactional === true ? 1 : 0);
}

function checkOffset(offset: unknown, what = 'offset'): asserts offset is number {
  if (typeof offset !== 'number') throw new TypeError(`${what} must be an integer, got ${shown(offset)}`);
  if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`${what} must be an integer of at least 0, got ${offset}`);
}

const LOG_KEYS = new Set(['segmentBytes', 'indexIntervalBytes', 'batchBytesMax', 'messageBytesMax', 'retentionBytes', 'retentionMs', 'repair', 'readOnly', 'create', 'sync', 'syncIntervalMs', 'populateWindowBytes', 'writePath']);
const READ_KEYS = new Set(['maxBytes', 'maxRecords', 'upTo']);
const PRODUCER_KEYS = new Set(['producerId', 'producerEpoch', 'baseSequence', 'transactional']);
const MARKER_KEYS = new Set(['producerId', 'producerEpoch', 'commit', 'coordinatorEpoch', 'timestamp', 'firstOffset', 'lastStableOffset']);
const SLICE_KEYS = new Set(['maxBytes', 'upTo']);
const APPEND_KEYS = new Set(['key', 'headers', 'timestamp']);
const SYNC_POLICIES: readonly SyncPolicy[] = ['always', 'interval', 'none'];
const WRITE_PATHS: readonly WritePath[] = ['pwrite', 'mmap'];

/** The three sizes of a log, checked against each other, with their defaults filled in. */
interface Sizes {
  segmentBytes: number;
  messageBytesMax: number;
  batchBytesMax: number;
}

/** Checks every option (see lib/validate.ts for the rule) and returns the sizes the log uses. */
function validateOptions(input: unknown): Sizes {
  const o = optionsObject(input, 'log options');
  checkKeys(o, LOG_KEYS, 'log option');
  const segmentBytes = integer(o.segmentBytes, 'segmentBytes', LIMITS.segmentBytesMin, LIMITS.segmentBytesMax, DEFAULTS.segmentBytes);
  const messageBytesMax = integer(o.messageBytesMax, 'messageBytesMax', LIMITS.messageBytesMaxMin, Math.min(segmentBytes, LIMITS.messageBytesMaxMax), Math.min(DEFAULTS.messageBytesMax, segmentBytes));
  const batchBytesMax = integer(o.batchBytesMax, 'batchBytesMax', LIMITS.batchBytesMaxMin, messageBytesMax, Math.min(DEFAULTS.batchBytesMax, messageBytesMax));
  integer(o.indexIntervalBytes, 'indexIntervalBytes', 1, segmentBytes, 1);
  for (const k of ['retentionBytes', 'retentionMs'] as const) integer(o[k], k, -1, Number.MAX_SAFE_INTEGER, -1);
  for (const k of ['repair', 'readOnly', 'create'] as const) boolean(o[k], k, false);
  oneOf(o.sync, 'sync', SYNC_POLICIES, 'interval');
  oneOf(o.writePath, 'writePath', WRITE_PATHS, 'pwrite');
  integer(o.syncIntervalMs, 'syncIntervalMs', 1, LIMITS.syncIntervalMsMax, 1);
  integer(o.populateWindowBytes, 'populateWindowBytes', LIMITS.populateWindowBytesMin, LIMITS.populateWindowBytesMax, LIMITS.populateWindowBytesMin);
  return { segmentBytes, messageBytesMax, batchBytesMax };
}

/** maxBytes of a read or slice: a positive integer, or the default. */
function maxBytesOf(o: { readonly [k: string]: unknown }): number {
  return integer(o.maxBytes, 'maxBytes', 1, Number.MAX_SAFE_INTEGER, DEFAULT_MAX_BYTES);
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
  // Both time their confirms: from the confirm request to its settling.
  readonly #confirmLatency = new DurationHistogram();
  readonly #waitVisible = new ConfirmQueue(this.#confirmLatency);
  readonly #waitDurable = new ConfirmQueue(this.#confirmLatency);
  #active = false;
  /** This log's index in pendingLogs while #active, else -1. */
  #rootIndex = -1;
  /** Set by close(failPendingWith): what pending confirms are rejected with. */
  #failPendingWith: Error | null = null;
  #settleScheduled = false;
  // The end offset as last read from native: confirms below it need no native call to check.
  #endSeen = 0;
  // The segment whose mapping the last read used, and a Buffer over all of it (which may end before
  // data appended since: the native side maps the segment afresh when asked for more).
  #viewBase = -1;
  #view: Buffer = Buffer.alloc(0);
  // The last compressed batch read, decompressed (reads of one batch in steps decompress it once).
  #lastCompressed: DecompressedBatch | null = null;
  readonly #inCompressed = new Float64Array(1);
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
    if (typeof dir !== 'string') throw new TypeError(`dir must be a string, got ${shown(dir)}`);
    if (dir.length === 0) throw new RangeError('dir must not be empty');
    const { segmentBytes, messageBytesMax, batchBytesMax } = validateOptions(options);
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

  /** Appends one message and returns its offset. Sealed at the end of this tick, then visible once written. */
  append(value: Bytes | null, options?: AppendOptions): number {
    if (value === undefined) throw new TypeError('value must be a Buffer, Uint8Array, string or null, got undefined');
    if (this.#readOnly) this.#checkWritable();
    let offset: number;
    if (options === undefined) {
      offset = this.#native.append(value);
    } else {
      const o = optionsObject(options, 'append options');
      checkKeys(o, APPEND_KEYS, 'append option');
      const { key, timestamp, headers } = options;
      if (timestamp !== undefined) integer(timestamp, 'timestamp', 0, Number.MAX_SAFE_INTEGER);
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
  appendBatch(messages: ReadonlyArray<Bytes | null | Message>, producer?: BatchProducer): number {
    if (!Array.isArray(messages)) throw new TypeError('appendBatch needs an array of messages');
    this.#checkWritable();
    const first = stageBatch(messages, this.#messageBytesMax, producer === undefined ? this.#appendStaged : this.#stagedWith(producerFields(producer)));
    if (first < 0) return this.endOffset;
    if (!this.#sealScheduled) {
      this.#sealScheduled = true;
      process.nextTick(this.#sealTick);
    }
    return first;
  }

  readonly #appendStaged = (staging: Buffer, lengths: Int32Array, count: number, timestamps: Float64Array | undefined): number =>
    this.#native.appendStaged(staging, lengths, count, timestamps);

  #stagedWith(producer: Float64Array) {
    return (staging: Buffer, lengths: Int32Array, count: number, timestamps: Float64Array | undefined): number =>
      this.#native.appendStaged(staging, lengths, count, timestamps, producer);
  }

  /**
   * Appends a transaction marker (a control batch of one record, as Kafka writes them) and
   * returns its offset. An abort also enters [firstOffset, the marker] of `producerId` in the
   * aborted-transaction index, synced with the marker (a confirm of the marker's offset covers
   * it). Readers pass over markers, and over the batches of aborted transactions.
   */
  appendMarker(marker: TxnMarker): number {
    const o = optionsObject(marker, 'marker');
    checkKeys(o, MARKER_KEYS, 'marker field');
    if (typeof marker.commit !== 'boolean') throw new TypeError('marker.commit must be a boolean');
    const producerId = integer(marker.producerId, 'producerId', 0, Number.MAX_SAFE_INTEGER);
    const epoch = integer(marker.producerEpoch, 'producerEpoch', 0, 32767, 0);
    const coordinatorEpoch = integer(marker.coordinatorEpoch, 'coordinatorEpoch', 0, 2 ** 31 - 1, 0);
    const timestamp = integer(marker.timestamp, 'timestamp', 0, Number.MAX_SAFE_INTEGER, Date.now());
    const firstOffset = integer(marker.firstOffset, 'firstOffset', 0, Number.MAX_SAFE_INTEGER, this.endOffset);
    const lso = integer(marker.lastStableOffset, 'lastStableOffset', 0, Number.MAX_SAFE_INTEGER, firstOffset);
    this.#checkWritable();
    let offset: number;
    try {
      offset = this.#native.appendMarker(producerId, epoch, marker.commit, coordinatorEpoch, timestamp, firstOffset, lso);
    } catch (e) {
      if (this.#native.failure() !== null) this.#settleAll();
      throw e;
    }
    if (this.#waitVisible.size > 0) this.#settleAll();
    return offset;
  }

  /** The aborted transactions whose offsets overlap [from, to), in the order they were aborted. */
  abortedTransactions(from: number, to: number): AbortedTransaction[] {
    checkOffset(from, 'from');
    checkOffset(to, 'to');
    this.#checkOpen();
    return this.#native.abortedTransactions(from, to).map(([producerId, firstOffset, lastOffset, lastStableOffset]) => ({ producerId, firstOffset, lastOffset, lastStableOffset }));
  }

  /** Seals the open batch now instead of at the end of the tick (it is visible once written: see visible()). */
  seal(): void {
    this.#checkWritable();
    this.#native.seal();
    if (this.#waitVisible.size > 0) this.#settleAll();
  }

  /**
   * Records from `offset` up to the high watermark, from one segment: an empty array when there is
   * nothing (yet) at `offset`. Throws OFFSET_OUT_OF_RANGE below `startOffset` or past `endOffset`.
   * Stops before a damaged batch (CORRUPT comes from a read at it) and before a compressed batch
   * that follows plain ones; a compressed batch is returned on its own, decompressed.
   */
  read(offset: number, options?: ReadOptions): LogRecord[] {
    return this.#read(offset, options);
  }

  /**
   * read(), and where the next read starts: records of transactions are read committed (markers
   * and aborted transactions are passed over, so offsets may skip and a read may return no record
   * yet move on), and `upTo` stops before a batch at or past it.
   */
  readRecords(offset: number, options?: ReadOptions): ReadResult {
    const records = this.#read(offset, options);
    return { records, nextOffset: this.#readNext };
  }

  /**
   * Like readRecords, but only each record's offset and timestamp: no keys, values or headers are
   * cut out (a scan that needs only times, such as the delay store's, costs a fraction of a read).
   */
  readTimes(offset: number, options?: ReadOptions): TimesResult {
    const n = this.#fillSlots(offset, options);
    if (n < 0) {
      const records = this.#compressedRecords(offset);
      return { count: records.length, offsets: Float64Array.from(records, (r) => r.offset), timestamps: Float64Array.from(records, (r) => r.timestamp), nextOffset: this.#readNext };
    }
    const s = slots;
    const offsets = new Float64Array(n);
    const timestamps = new Float64Array(n);
    for (let i = 0, p = HEADER_SLOTS; i < n; i++, p += SLOT_FIELDS) {
      offsets[i] = s[p];
      timestamps[i] = s[p + 1];
    }
    return { count: n, offsets, timestamps, nextOffset: this.#readNext };
  }

  /** Where the last read ends (read() itself returns only the records: no result object on its path). */
  #readNext = 0;
  /** The last read's maxRecords. */
  #readMax = 0;

  #read(offset: number, options: ReadOptions | undefined): LogRecord[] {
    const n = this.#fillSlots(offset, options);
    if (n === 0) return [];
    if (n < 0) return this.#compressedRecords(offset);
    return recordsFromSlots(slots, n, this.#viewOf(slots[0], slots[2]), makeRecord);
  }

  /**
   * Checks `options` and has the native read fill the read slots: returns how many records it
   * filled (negative: a compressed batch, for #compressedRecords), with #readNext and #readMax set.
   */
  #fillSlots(offset: number, options: ReadOptions | undefined): number {
    checkOffset(offset);
    let maxBytes = DEFAULT_MAX_BYTES;
    let maxRecords = DEFAULT_MAX_RECORDS;
    let upTo: number | undefined;
    if (options !== undefined) {
      const o = optionsObject(options, 'read options');
      checkKeys(o, READ_KEYS, 'read option');
      maxBytes = maxBytesOf(o);
      // More than a read returns at most is not an error: it is that many.
      maxRecords = Math.min(integer(o.maxRecords, 'maxRecords', 1, Number.MAX_SAFE_INTEGER, DEFAULT_MAX_RECORDS), MAX_RECORDS_PER_READ);
      if (o.upTo !== undefined) upTo = integer(o.upTo, 'upTo', 0, Number.MAX_SAFE_INTEGER);
    }
    const s = slotsFor(maxRecords);
    const used = HEADER_SLOTS + SLOT_FIELDS * maxRecords;
    const n = this.#native.read(offset, maxBytes, s.length === used ? s : s.subarray(0, used), upTo);
    this.#readNext = s[1];
    this.#readMax = maxRecords;
    return n;
  }

  /** The records of the compressed batch the last #fillSlots met, decompressed; #readNext moves to what follows them. */
  #compressedRecords(offset: number): LogRecord[] {
    const records = this.#readCompressed(offset, this.#readMax, slots);
    // Cut short by maxRecords: the rest of the batch is next.
    const last = records.length === this.#readMax ? records[records.length - 1] : undefined;
    if (last !== undefined && last.offset + 1 < this.#readNext) this.#readNext = last.offset + 1;
    return records;
  }

  #readCompressed(offset: number, maxRecords: number, s: Float64Array): LogRecord[] {
    const batch = readCompressedBatch(s, this.#lastCompressed, (base, end) => this.#viewOf(base, end), (base, position, what) => this.#corruptBatch(base, position, what));
    this.#lastCompressed = batch;
    const want = Math.min(maxRecords, batch.count);
    return batchRecords(this.#native, batch, offset, slotsFor(want).subarray(0, HEADER_SLOTS + SLOT_FIELDS * want), (base, position, what) => this.#corruptBatch(base, position, what), makeRecord);
  }

  #corruptBatch(base: number, position: number, what: string): SluiceError {
    const path = this.#native.segmentPath(base) ?? `the segment at offset ${base}`;
    const e = new SluiceError(`corrupt batch (${what}) in ${path} at position ${position}`, ErrorCode.CORRUPT);
    e.path = path;
    e.position = position;
    return e;
  }

  /**
   * Appends whole Kafka RecordBatch v2 batches built elsewhere (the records of a Kafka produce
   * request), back to back in `bytes`, and returns the base offset of the first; the others follow
   * contiguously. Each batch is checked (lengths that exactly cover `bytes`, magic 2, CRC-32C,
   * record count, no control batch, the transactional bit (attributes bit 4) exactly when
   * `transactional` says so, size within messageBytesMax, every record
   * parsed, after decompression for a compressed one) before anything is written: a bad batch
   * anywhere throws CORRUPT (TOO_LARGE for size) naming its index and byte position, with nothing
   * appended. The batches are stored as received, compressed ones too, but for baseOffset and
   * partitionLeaderEpoch (outside the CRC); producer id, epoch and sequence are kept. Handed to
   * the writer thread at once (visible() tells when readers see them); `confirm` works as for
   * `append`. `transactional`: the batches are records of an open transaction that the caller
   * admitted (the broker's transaction coordinator): each must be transactional, with a producer
   * id; readers then treat them as appendBatch's transactional batches.
   */
  appendRaw(bytes: Uint8Array, transactional = false): number {
    if (!(bytes instanceof Uint8Array)) throw new TypeError('appendRaw needs a Uint8Array (or Buffer) of record batches');
    if (bytes.length === 0) throw new RangeError('appendRaw needs at least one record batch');
    if (typeof transactional !== 'boolean') throw new TypeError('appendRaw: transactional must be a boolean');
    this.#checkWritable();
    if (this.#native.checkRaw(bytes, transactional) > 0) checkCompressedRecords(this.#native, bytes);
    let first: number;
    try {
      first = this.#native.appendRaw(bytes, transactional);
    } catch (e) {
      // A write that failed the log (pwrite) rejects the pending confirms, as in the seal tick.
      if (this.#native.failure() !== null) this.#settleAll();
      throw e;
    }
    if (this.#waitVisible.size > 0) this.#settleAll();
    return first;
  }

  #viewOf(base: number, end: number): Buffer {
    if (base !== this.#viewBase || end > this.#view.length) {
      this.#view = Buffer.from(this.#native.segmentBuffer(base, end));
      this.#viewBase = base;
    }
    return this.#view;
  }

  /** The first offset whose timestamp is at or after `timestamp`, or null if there is none. */
  offsetForTime(timestamp: number): number | null {
    integer(timestamp, 'timestamp', Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
    const o = this.#native.offsetForTime(timestamp, this.#inCompressed);
    if (o >= 0 && this.#inCompressed[0] === 1) {
      // The first candidate of a compressed batch whose maxTimestamp reaches `timestamp`.
      const found = this.read(o, { maxRecords: MAX_RECORDS_PER_READ }).find((r) => r.timestamp >= timestamp);
      return found === undefined ? o : found.offset;
    }
    return o < 0 ? null : o;
  }

  /**
   * Whole sealed batches from the one holding `offset`, as a file range, stopping before a batch
   * at or past `upTo` (a last stable offset); null when there is nothing (yet). Transaction
   * markers and aborted batches are included, as stored (see abortedTransactions).
   */
  slice(offset: number, options?: { maxBytes?: number; upTo?: number }): RawSlice | null {
    checkOffset(offset);
    const o = optionsObject(options, 'slice options');
    checkKeys(o, SLICE_KEYS, 'slice option');
    const upTo = o.upTo === undefined ? undefined : integer(o.upTo, 'upTo', 0, Number.MAX_SAFE_INTEGER);
    return this.#native.slice(offset, maxBytesOf(o), upTo);
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
    // The end offset is only refreshed from native when the offset is past the last one seen.
    if (offset >= this.#endSeen) {
      this.#native.offsets(this.#offsets);
      this.#endSeen = this.#offsets[1];
      if (offset >= this.#endSeen) throw new RangeError(`offset ${offset} has not been appended (the log ends at ${this.#endSeen})`);
    }
    if (this.#state === 'closed') {
      // Everything appended was sealed and flushed by close(), unless a flush failed first.
      this.#native.offsets(this.#offsets);
      const durable = offset < this.#offsets[3];
      process.nextTick(callback, durable || !this.#syncAlways ? null : this.#closedError(), durable || !this.#syncAlways ? { offset, durable } : null);
      return;
    }
    // Every confirm goes through the queues and one settle pass, so that callbacks always run in
    // offset order, whatever the flusher published in between.
    (this.#syncAlways ? this.#waitDurable : this.#waitVisible).push(offset, callback);
    this.#setActive();
    this.#scheduleSettle();
  }

  /**
   * Resolves with the high watermark once every record up to `offset` (default: everything
   * appended so far) is visible to readers: sealed, then written to its segment file by the native
   * writer thread. Rejects with the write failure (code IO) if the log fails first, or CLOSED.
   */
  visible(offset?: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.onVisible((err) => (err !== null ? reject(err) : resolve(this.#offset(2))), offset);
    });
  }

  /** The callback form of visible(): called once, on a later tick, with null or the failure. */
  onVisible(callback: (err: Error | null) => void, offset?: number): void {
    if (typeof callback !== 'function') throw new TypeError('callback must be a function');
    if (offset !== undefined) checkOffset(offset);
    this.#native.offsets(this.#offsets);
    const [, end, hw] = this.#offsets;
    const target = offset ?? end - 1;
    if (target >= end) throw new RangeError(`offset ${target} has not been appended (the log ends at ${end})`);
    if (target < hw || this.#state === 'closed') {
      process.nextTick(callback, target < hw ? null : this.#closedError());
      return;
    }
    this.#waitVisible.push(target, (err) => callback(err), false);
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
      this.#waitDurable.push(target - 1, (err) => (err !== null ? reject(err) : resolve(Math.max(target, this.durableOffset))), false);
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
    if (this.#failPendingWith !== null) {
      this.#waitDurable.rejectAll(this.#failPendingWith);
      this.#waitVisible.rejectAll(this.#failPendingWith);
      this.#setActive();
      return;
    }
    if (this.#waitDurable.size + this.#waitVisible.size > 0) {
      this.#native.offsets(this.#offsets);
      const hw = this.#offsets[2];
      const durable = this.#offsets[3];
      this.#waitDurable.settleBelow(durable, durable);
      this.#waitVisible.settleBelow(hw, durable);
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
      if (active) this.#root();
      else this.#unroot();
    }
  }

  #root(): void {
    if (this.#rootIndex >= 0) return;
    pendingLogs.push(this);
    this.#rootIndex = pendingLogs.length - 1;
  }

  #unroot(): void {
    const i = this.#rootIndex;
    if (i < 0) return;
    this.#rootIndex = -1;
    const last = pendingLogs.pop()!;
    if (last !== this) {
      pendingLogs[i] = last;
      last.#rootIndex = i;
    }
  }

  /**
   * Applies retention now (it also runs on every segment roll). With `keepFrom`, also deletes the
   * oldest segments whose records all lie below that offset (the active segment stays).
   */
  retain(nowMs: number = Date.now(), keepFrom?: number): RetentionReport {
    this.#checkWritable();
    integer(nowMs, 'nowMs', Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
    if (keepFrom === undefined) return this.#native.retain(nowMs);
    return this.#native.retain(nowMs, integer(keepFrom, 'keepFrom', 0, this.endOffset));
  }

  /**
   * Seals, flushes, writes the indexes and a clean-shutdown checkpoint, and releases the directory.
   * With `failPendingWith`, every confirm (and visible() wait) still pending is rejected with that
   * error, on a later tick, instead of settling as the close leaves it: a broker deleting the
   * log's topic passes the error its producers should see.
   */
  close(failPendingWith?: Error): Promise<void> {
    if (failPendingWith !== undefined && this.#state !== 'closed' && this.#failPendingWith === null) {
      if (!(failPendingWith instanceof Error)) throw new TypeError('failPendingWith must be an Error');
      this.#failPendingWith = failPendingWith;
      this.#scheduleSettle();
    }
    if (this.#closePromise !== undefined) return this.#closePromise;
    this.#state = 'closing';
    this.#closePromise = this.#native.close().finally(() => {
      this.#native.offsets(this.#offsets);
      const [, , hw, durable] = this.#offsets;
      this.#state = 'closed';
      if (this.#failPendingWith === null) {
        this.#waitDurable.settleBelow(durable, durable);
        this.#waitVisible.settleBelow(hw, durable);
      }
      const err = this.#failPendingWith ?? this.#closedError();
      this.#waitDurable.rejectAll(err);
      this.#waitVisible.rejectAll(err);
      this.#active = false;
      this.#unroot();
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
    this.#unroot();
  }

  /** Segment count, bytes held, bytes appended since open, and the confirm and sync durations. */
  stats(): LogStats {
    this.#checkOpen();
    const n = this.#native.stats();
    const sync = new DurationHistogram();
    sync.add(n.syncCounts, n.syncCount, n.syncSumMicros);
    return { segments: n.segments, sizeBytes: n.sizeBytes, appendedBytes: n.appendedBytes, confirmLatency: this.#confirmLatency.snapshot(), syncDuration: sync.snapshot() };
  }

  /** Why the log stopped taking writes (fail-stop: a failed write or sync), or null. */
  get failure(): SluiceError | null {
    return this.#state === 'closed' ? null : this.#native.failure();
  }
}
