/**
 * The only file that loads the compiled addon. Its interface mirrors native/binding/addon.cc and
 * log_binding.cc one to one; lib/storage/log.ts is the typed, validated layer over it.
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
  appendStaged(staging: Buffer, lengths: Int32Array, count: number, timestamps?: Float64Array): number;
  seal(): void;
  read(offset: number, maxBytes: number, slots: Float64Array): number;
  segmentBuffer(baseOffset: number): ArrayBuffer;
  slice(offset: number, maxBytes: number): NativeSlice | null;
  offsetForTime(timestamp: number): number;
  flush(): number;
  retain(nowMs: number): { segmentsDeleted: number; bytesDeleted: number };
  close(): Promise<void>;
  offsets(out: Float64Array): number;
  recovery(): NativeRecovery;
  failure(): SluiceError | null;
  setActive(active: boolean): void;
  stats(): { segments: number; sizeBytes: number };
  simulatePowerLoss(): void;
}

export interface NativeAddon {
  init(errorClass: typeof SluiceError): void;
  crc32c(data: Uint8Array, portable?: boolean): number;
  crc32cHardware: boolean;
  armFault?: (kind: 'sync' | 'allocate' | 'write', err: 'EIO' | 'ENOSPC', count: number) => void;
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
