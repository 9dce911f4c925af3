/**
 * A range of a segment file that a response carries as its records: the codec counts it
 * (OutOfBandRecords), the connection sends it (RegionSender). It owns a duplicate descriptor of the
 * segment, so retention deleting the segment meanwhile changes nothing for the bytes being sent.
 * release() closes the descriptor; it is idempotent, since both a handler that discards a region
 * and the connection that finished with its request release it.
 */
import * as fs from 'node:fs';
import type { RawSlice } from '../storage/log';
import type { OutOfBandRecords } from './protocol/writer';

export class FileRegion implements OutOfBandRecords {
  readonly outOfBand = true as const;
  readonly fd: number;
  readonly position: number;
  readonly byteLength: number;
  #released = false;

  constructor(slice: RawSlice) {
    this.fd = slice.fd;
    this.position = slice.position;
    this.byteLength = slice.length;
  }

  get released(): boolean {
    return this.#released;
  }

  release(): void {
    if (this.#released) return;
    this.#released = true;
    fs.close(this.fd, () => {});
  }
}
