/**
 * A range of a segment file that a response carries as its records: the codec counts it
 * (OutOfBandRecords), the connection sends it (RegionSender). Its descriptor is a duplicate of the
 * segment's, so retention deleting the segment meanwhile changes nothing for the bytes being sent.
 * Descriptors are shared: every region of one file, across responses and connections, holds the
 * same one (SegmentDescriptors), so the descriptors a server holds are bounded by the segments its
 * pending responses read, not by how many responses or partitions clients ask for. release() is
 * idempotent, since both a handler that discards a region and the connection that finished with
 * its request release it.
 */
import * as fs from 'node:fs';
import type { RawSlice } from '../storage/log';
import type { OutOfBandRecords } from './protocol/writer';

export class FileRegion implements OutOfBandRecords {
  readonly outOfBand = true as const;
  readonly fd: number;
  readonly position: number;
  readonly byteLength: number;
  readonly #onRelease: () => void;
  #released = false;

  /** @internal Made by SegmentDescriptors.region(). */
  constructor(fd: number, position: number, byteLength: number, onRelease: () => void) {
    this.fd = fd;
    this.position = position;
    this.byteLength = byteLength;
    this.#onRelease = onRelease;
  }

  get released(): boolean {
    return this.#released;
  }

  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#onRelease();
  }
}

interface Shared {
  fd: number;
  refs: number;
}

/** One descriptor per segment file for every region of it (see FileRegion). Thread-confined. */
export class SegmentDescriptors {
  readonly #open = new Map<string, Shared>();

  /** A region of the slice's bytes; the slice's own descriptor is closed when the file has one open here already. */
  region(slice: RawSlice): FileRegion {
    // fstat of an open descriptor reads the inode in memory: no disk access on the event loop.
    let st: fs.Stats;
    try {
      st = fs.fstatSync(slice.fd);
    } catch (e) {
      fs.close(slice.fd, () => {});
      throw e;
    }
    const key = `${st.dev}:${st.ino}`;
    let shared = this.#open.get(key);
    if (shared === undefined) {
      shared = { fd: slice.fd, refs: 0 };
      this.#open.set(key, shared);
    } else {
      fs.close(slice.fd, () => {});
    }
    shared.refs++;
    const s = shared;
    return new FileRegion(s.fd, slice.position, slice.length, () => {
      if (--s.refs > 0) return;
      this.#open.delete(key);
      fs.close(s.fd, () => {});
    });
  }

  /** Descriptors held now (for tests and stats). */
  get size(): number {
    return this.#open.size;
  }
}
