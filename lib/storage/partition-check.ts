/**
 * Checks one partition directory as it is on disk, for `sluice verify` (read-only, without the
 * Log): every batch's CRC and structure (segment-dump.ts), offsets contiguous within and across
 * segments (each segment's first batch at its file's base offset), only zeros after the last
 * batch of each segment (the preallocated tail), and the offset and time index entries against
 * the batches they point at. Each problem names its file and position.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { dumpOffsetIndex, dumpSegment, dumpTimeIndex, type DumpedBatch } from './segment-dump';

export interface Problem {
  file: string;
  /** Byte position in the file, when it is about one place. */
  position?: number;
  what: string;
}

export interface PartitionCheck {
  segments: number;
  batches: number;
  bytes: number;
  problems: Problem[];
}

const SEGMENT = /^(\d{20})\.log$/;

export function checkPartition(dir: string): PartitionCheck {
  const problems: Problem[] = [];
  const segments = fs
    .readdirSync(dir)
    .filter((n) => SEGMENT.test(n))
    .sort();
  let batches = 0;
  let bytes = 0;
  let expected: number | null = null;
  for (const name of segments) {
    const file = path.join(dir, name);
    const base = Number(SEGMENT.exec(name)![1]);
    const dump = dumpSegment(file, true);
    batches += dump.batches.length;
    bytes += fs.statSync(file).size;
    if (expected !== null && base !== expected) problems.push({ file, what: `starts at offset ${base}, but the segment before ends at ${expected - 1}${base > expected ? ': a segment is missing' : ''}` });
    let next: number = base;
    for (const b of dump.batches) {
      if (b.problem !== undefined) problems.push({ file, position: b.position, what: `batch at offset ${b.baseOffset}: ${b.problem}` });
      if (b.baseOffset !== next) problems.push({ file, position: b.position, what: `batch at offset ${b.baseOffset} where ${next} was expected` });
      next = b.lastOffset + 1;
    }
    if (dump.tail !== null && !dump.tail.zeros) problems.push({ file, position: dump.tail.position, what: `${dump.tail.bytes} bytes after the last whole batch are not a batch (torn or damaged)` });
    expected = next;
    checkIndexes(dir, name.slice(0, 20), base, dump.batches, problems);
  }
  return { segments: segments.length, batches, bytes, problems };
}

function checkIndexes(dir: string, stem: string, base: number, batches: readonly DumpedBatch[], problems: Problem[]): void {
  const byPosition = new Map(batches.map((b) => [b.position, b]));
  const index = path.join(dir, `${stem}.index`);
  if (fs.existsSync(index)) {
    if (fs.statSync(index).size % 8 !== 0) problems.push({ file: index, what: `its size ${fs.statSync(index).size} is not a whole number of 8-byte entries (truncated)` });
    for (const [i, e] of dumpOffsetIndex(index).entries()) {
      const b = byPosition.get(e.position);
      if (b === undefined) problems.push({ file: index, position: i * 8, what: `entry ${i} points at position ${e.position}, where no batch starts` });
      else if (b.lastOffset - base !== e.relativeOffset) problems.push({ file: index, position: i * 8, what: `entry ${i} says relative offset ${e.relativeOffset}, the batch there ends at ${b.lastOffset - base}` });
    }
  }
  const time = path.join(dir, `${stem}.timeindex`);
  if (fs.existsSync(time)) {
    if (fs.statSync(time).size % 12 !== 0) problems.push({ file: time, what: `its size ${fs.statSync(time).size} is not a whole number of 12-byte entries (truncated)` });
    const last = batches.length === 0 ? base - 1 : batches[batches.length - 1].lastOffset;
    let previous = -Infinity;
    for (const [i, e] of dumpTimeIndex(time).entries()) {
      if (e.timestamp <= previous) problems.push({ file: time, position: i * 12, what: `entry ${i}'s timestamp ${e.timestamp} does not increase` });
      if (base + e.relativeOffset > last) problems.push({ file: time, position: i * 12, what: `entry ${i} points at offset ${base + e.relativeOffset}, past the segment's last ${last}` });
      previous = e.timestamp;
    }
  }
}
