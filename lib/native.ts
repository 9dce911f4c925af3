/**
 * The only file that loads the compiled addon. Its interface mirrors native/binding/addon.cc,
 * log_binding.cc and dir_lock_binding.cc one to one (test/unit/binding-shape.test.ts holds it to
 * that); lib/storage/log.ts is the typed, validated layer over it, lib/limits.ts re-exports the
 * limits.
 */
import * as path from 'node:path';
import { SluiceError } from './errors';

export interface NativeRecovery {
  /** True after a clean close, and for a log this open created (nothing to recover). */
  cleanShutdown: boolean;
  /** The directory held no metadata and no segment: this open created the log. */
  created: boolean;
  /** Opened with `readOnly`: the counts say what recovery would do; nothing was changed. */
  readOnly: boolean;
  segmentsLoaded: number;
  segmentsScanned: number;
  indexesRebuilt: number;
  segmentsDeleted: number;
  bytesTruncated: number;
  /** Bytes of batches checked with their CRCs while rescanning segments. */
  bytesScanned: number;
  /**
   * Bytes of the active segment below its recovery checkpoint (the position its last completed
   * sync reached), walked without CRCs as a segment below the recovery point is: only the bytes
   * after it are rescanned with CRCs.
   */
  checkpointBytes: number;
  durationMs: number;
}

export interface NativeSlice {
  fd: number;
  path: string;
  position: number;
  length: number;
  firstOffset: number;
  nextOffset: number;
}

export interface NativeOpenOptions {
  segmentBytes?: number;
  indexIntervalBytes?: number;
  batchBytesMax?: number;
  messageBytesMax?: number;
  retentionBytes?: number;
  retentionMs?: number;
  repair?: boolean;
  readOnly?: boolean;
  create?: boolean;
  populateWindowBytes?: number;
  sync?: 'always' | 'interval' | 'none';
  writePath?: 'pwrite' | 'mmap';
  syncIntervalMs?: number;
}

export interface NativeLog {
  append(value: unknown, key?: unknown, timestamp?: number, headers?: Uint8Array): number;
  /** producer: [producerId, epoch, baseSequence, transactional (0 or 1)] for the staged records' batches. */
  appendStaged(staging: Buffer, lengths: Int32Array, count: number, timestamps?: Float64Array, producer?: Float64Array): number;
  seal(): void;
  /**
   * slots: [segment base offset, next offset, end of the records' bytes, then 8 per record].
   * Stops before a batch at or past `upto`; passes over markers and aborted transactions.
   */
  read(offset: number, maxBytes: number, slots: Float64Array, upto?: number): number;
  appendMarker(producerId: number, epoch: number, commit: boolean, coordinatorEpoch: number, timestamp: number, firstOffset: number, lastStableOffset: number): number;
  /** [producerId, firstOffset, lastOffset, lastStableOffset] per aborted transaction overlapping [from, to). */
  abortedTransactions(from: number, to: number): [number, number, number, number][];
  /** The segment's copy-on-write mapping, covering at least [0, end). */
  segmentBuffer(baseOffset: number, end?: number): ArrayBuffer;
  slice(offset: number, maxBytes: number, upto?: number): NativeSlice | null;
  offsetForTime(timestamp: number, inCompressedBatch?: Float64Array): number;
  flush(): number;
  retain(nowMs: number, keepFrom?: number): { segmentsDeleted: number; bytesDeleted: number };
  close(): Promise<void>;
  offsets(out: Float64Array): number;
  recovery(): NativeRecovery;
  failure(): SluiceError | null;
  setActive(active: boolean): void;
  stats(): { segments: number; sizeBytes: number; appendedBytes: number; syncCounts: number[]; syncCount: number; syncSumMicros: number };
  simulatePowerLoss(): void;
  /** Whole RecordBatch v2 batches; returns the first base offset. See Log.appendRaw. */
  appendRaw(bytes: Uint8Array, transactional?: boolean): number;
  /** The checks of appendRaw, writing nothing; returns the number of compressed batches. */
  checkRaw(bytes: Uint8Array, transactional?: boolean): number;
  /**
   * Parses the decompressed records of a batch into slots (from slots[2]); every record is parsed.
   * Returns the slots filled, or -(i + 1) when record i does not parse (i == count: bytes left over).
   */
  parseRecords(records: Uint8Array, count: number, baseOffset: number, baseTimestamp: number, appendTime: number, fromOffset: number, slots: Float64Array | null): number;
  segmentPath(baseOffset: number): string | null;
}

/** Where each field of a record sits in its RecordSlot::kFields doubles (native/include/sluice/log.h). */
export interface NativeRecordSlot {
  readonly offset: number;
  readonly timestamp: number;
  readonly keyPos: number;
  readonly keyLen: number;
  readonly valuePos: number;
  readonly valueLen: number;
  readonly headersPos: number;
  readonly headerCount: number;
}

/** The engine's bounds (LogOptions in native/include/sluice/log.h, record_batch.h), frozen. */
export interface NativeLimits {
  readonly segmentBytesMin: number;
  readonly segmentBytesMax: number;
  readonly segmentBytesDefault: number;
  readonly messageBytesMaxMin: number;
  readonly messageBytesMaxMax: number;
  readonly messageBytesMaxDefault: number;
  readonly batchBytesMaxMin: number;
  readonly batchBytesMaxDefault: number;
  readonly indexIntervalBytesDefault: number;
  readonly populateWindowBytesMin: number;
  readonly populateWindowBytesMax: number;
  readonly populateWindowBytesDefault: number;
  readonly syncIntervalMsMax: number;
  readonly syncIntervalMsDefault: number;
  readonly readRecordsMax: number;
  readonly readHeaderSlots: number;
  readonly recordSlotFields: number;
  readonly batchHeaderBytes: number;
  readonly firstRecordOverheadBytesMax: number;
  readonly recordSlot: NativeRecordSlot;
}

/** A held directory lock (native/include/sluice/dir_lock.h). */
export interface NativeDirectoryLock {
  /** Drops the lock; idempotent. */
  release(): void;
  readonly held: boolean;
}

export interface NativeAddon {
  init(errorClass: typeof SluiceError): void;
  crc32c(data: Uint8Array, portable?: boolean): number;
  crc32cHardware: boolean;
  limits: NativeLimits;
  singleRecordBatchBytes(keyLen: number, valueLen: number, headersLen: number): number;
  lockDirectory(dir: string, what: string): NativeDirectoryLock;
  /** A close-on-exec duplicate of a socket's descriptor (native/binding/send_file_binding.cc). */
  duplicateSocket(fd: number): number;
  /**
   * Sends a file range to a non-blocking socket on the thread pool (sluice/send_file.h); when the
   * socket would block, reads the next probe.length bytes of the range into `probe` and reports them.
   */
  sendFile(socketFd: number, fileFd: number, position: number, length: number, probe: Uint8Array, callback: (err: Error | null, sent: number, probeBytes: number) => void): void;
  armFault?: (kind: 'sync' | 'allocate' | 'write', err: 'EIO' | 'ENOSPC', count: number, pathPart?: string) => void;
  NativeLog: {
    open(dir: string, options: NativeOpenOptions, onDurable: () => void): Promise<NativeLog>;
  };
}

function load(): NativeAddon {
  const file = process.env.SLUICE_ADDON_PATH ?? path.join(__dirname, '..', 'build', 'Release', 'sluice.node');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const addon = require(file) as NativeAddon;
  addon.init(SluiceError);
  return addon;
}

export const native: NativeAddon = load();
