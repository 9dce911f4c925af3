/** A record as the mirror copies it: what a source read gives and a target write takes, bytes as they are. */
export interface MirrorRecord {
  /** Its offset in the source partition. */
  offset: number;
  /** ms since the epoch, the record's own (CreateTime) timestamp. */
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  /** In order, duplicates kept; a null value is a header without one. */
  headers: [Buffer, Buffer | null][];
}
