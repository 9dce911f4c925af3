'use strict';
/**
 * Shared by the crash tests (test/crash/) and their child processes: a seeded PRNG, the messages it
 * makes, a walker over the batch headers of a segment file (written from the layout at the top of
 * native/include/sluice/record_batch.h, independently of the engine), and directory copies.
 * Plain CommonJS so that a child process can load it without a TypeScript step.
 */
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const BATCH_HEADER_BYTES = 61;
const SEGMENT_NAME = /^(\d{20})\.log$/;

/** mulberry32: a small, fast PRNG whose whole state is one 32-bit seed. */
function prng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    /** An integer in [lo, hi]. */
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    bytes: (n) => {
      const b = Buffer.allocUnsafe(n);
      for (let i = 0; i < n; i++) b[i] = Math.floor(next() * 256);
      return b;
    },
  };
}

/** The seed from SLUICE_TEST_SEED, or a fresh one; printed either way so that a failure can be replayed. */
function testSeed(testName) {
  const s = process.env.SLUICE_TEST_SEED;
  const seed = s !== undefined && s !== '' ? Number(s) >>> 0 : Math.floor(Math.random() * 2 ** 31);
  console.log(`${testName} seed=${seed} (replay with SLUICE_TEST_SEED=${seed})`);
  return seed;
}

/**
 * A random message for Log.append / appendBatch: a value of `valueBytes` (null now and then when
 * `nulls`), a key now and then, headers now and then, and a timestamp that mostly grows but
 * sometimes steps back (so a batch's max timestamp is not always its last record's).
 */
function randomMessage(rng, valueBytes, clock, nulls = true) {
  const value = nulls && rng.next() < 0.05 ? null : rng.bytes(valueBytes);
  const key = rng.next() < 0.3 ? rng.bytes(rng.int(0, 12)) : null;
  const headers = rng.next() < 0.2 ? [['h' + rng.int(0, 9), rng.next() < 0.2 ? null : rng.bytes(rng.int(0, 6))]] : undefined;
  clock.now += rng.int(0, 3);
  const timestamp = rng.next() < 0.1 ? Math.max(0, clock.now - rng.int(1, 50)) : clock.now;
  return { value, key, headers, timestamp };
}

/**
 * Appends `groups` batches of 1-3 random messages with values of up to `valueBytesMax` bytes,
 * sealing after each group, and pushes what it appended to `out` in the shape reads return
 * ({offset, timestamp, key, value, headers: [{key, value}]}).
 */
function appendGroups(log, rng, clock, groups, valueBytesMax, out) {
  for (let g = 0; g < groups; g++) {
    const n = rng.int(1, 3);
    for (let i = 0; i < n; i++) {
      const m = randomMessage(rng, rng.int(0, valueBytesMax), clock);
      const offset = log.append(m.value, { key: m.key, headers: m.headers, timestamp: m.timestamp });
      if (offset !== out.length) throw new Error(`append returned offset ${offset}, expected ${out.length}`);
      const headers = (m.headers ?? []).map(([key, value]) => ({ key, value }));
      out.push({ offset, timestamp: m.timestamp, key: m.key, value: m.value, headers });
    }
    log.seal();
  }
}

/** A record (read back or expected) as one line of text, so that a mismatch shows where it is. */
function recordText(r) {
  const hex = (b) => (b === null ? 'null' : Buffer.from(b).toString('hex'));
  const headers = r.headers.map((h) => `${h.key}=${hex(h.value)}`).join(',');
  return `${r.offset} t=${r.timestamp} k=${hex(r.key)} v=${hex(r.value)} h=[${headers}]`;
}

/** Every readable record of a log, from its start offset up to its high watermark. */
function readAll(log) {
  const out = [];
  let next = log.startOffset;
  const end = log.highWatermark;
  while (next < end) {
    const got = log.read(next, { maxRecords: 1000 });
    if (got.length === 0) throw new Error(`read(${next}) below the high watermark ${end} returned nothing`);
    for (const r of got) out.push(r);
    next = got[got.length - 1].offset + 1;
  }
  return out;
}

/**
 * The batches of a segment file, from its headers alone: position, end, base offset, next offset,
 * max timestamp. Stops at an all-zero header (the preallocated tail) or at anything that is not
 * a whole batch; CRCs are not checked.
 */
function batchesOf(bytes) {
  const out = [];
  let pos = 0;
  while (pos + BATCH_HEADER_BYTES <= bytes.length) {
    let zero = true;
    for (let i = 0; i < BATCH_HEADER_BYTES && zero; i++) zero = bytes[pos + i] === 0;
    if (zero) break;
    const baseOffset = Number(bytes.readBigInt64BE(pos));
    const batchLength = bytes.readInt32BE(pos + 8);
    const end = pos + 12 + batchLength;
    if (batchLength < BATCH_HEADER_BYTES - 12 || end > bytes.length || bytes[pos + 16] !== 2) break;
    const lastOffsetDelta = bytes.readInt32BE(pos + 23);
    out.push({
      position: pos,
      end,
      baseOffset,
      nextOffset: baseOffset + lastOffsetDelta + 1,
      maxTimestamp: Number(bytes.readBigInt64BE(pos + 35)),
      recordsCount: bytes.readInt32BE(pos + 57),
    });
    pos = end;
  }
  return out;
}

/** The segments of a log directory, oldest first: base offset and the paths of its three files. */
function segmentsOf(dir) {
  const out = [];
  for (const name of fs.readdirSync(dir)) {
    const m = SEGMENT_NAME.exec(name);
    if (m === null) continue;
    const stem = path.join(dir, m[1]);
    out.push({ base: Number(m[1]), log: stem + '.log', index: stem + '.index', timeIndex: stem + '.timeindex' });
  }
  return out.sort((a, b) => a.base - b.base);
}

/** Copies a log directory (a snapshot of it, when the log is open and its writes have stopped). */
function copyDir(from, to) {
  fs.cpSync(from, to, { recursive: true });
}

/** Writes `bytes` over a file at `position` (in place: the file keeps its length). */
function overwrite(file, position, bytes) {
  const fd = fs.openSync(file, 'r+');
  try {
    fs.writeSync(fd, bytes, 0, bytes.length, position);
  } finally {
    fs.closeSync(fd);
  }
}

/** Flips bit `bit` of the byte at `position`. */
function flipBit(file, position, bit = 0) {
  const fd = fs.openSync(file, 'r+');
  try {
    const b = Buffer.alloc(1);
    fs.readSync(fd, b, 0, 1, position);
    b[0] ^= 1 << bit;
    fs.writeSync(fd, b, 0, 1, position);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * A short digest of a message's value, key and headers (as [key, value] pairs or {key, value}
 * objects), as the kill -9 appender reports them.
 */
function digest(value, key, headers) {
  const h = crypto.createHash('sha256');
  const part = (b) => {
    if (b === null || b === undefined) h.update('n');
    else h.update('b' + b.length + ':').update(b);
  };
  part(value);
  part(key);
  for (const hd of headers ?? []) {
    const [k, v] = Array.isArray(hd) ? hd : [hd.key, hd.value];
    h.update('h' + Buffer.byteLength(k) + ':' + k);
    part(v);
  }
  return h.digest('hex').slice(0, 16);
}

module.exports = {
  BATCH_HEADER_BYTES,
  appendGroups,
  batchesOf,
  copyDir,
  digest,
  flipBit,
  overwrite,
  prng,
  randomMessage,
  readAll,
  recordText,
  segmentsOf,
  testSeed,
};
