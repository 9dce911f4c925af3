'use strict';
// Child process of test/crash/confirmed-writes-survive-*.test.ts: appends to a log with sync
// 'always' until it is killed (mode 'kill') or until it simulates a power failure (mode 'power'),
// reporting on stdout, one line each:
//   opening                       just before Log.open
//   ready <endOffset>             the log is open (everything below endOffset was recovered)
//   confirmed <offset> <sha1>     a confirm resolved with durable: true
//   not-durable <offset>          a confirm resolved with durable: false (a bug under 'always')
//   power-lost <durable> <end>    simulatePowerLoss() returned (mode 'power'), then exit 0
//
// Messages go in one at a time (append) or in groups (appendBatch). Every value describes
// itself, so that the parent can check records it never heard confirmed:
//   [0, 4)  generation (u32 BE)   which child run (or parent step) appended it
//   [4, 8)  length (u32 BE)       of the whole value
//   [8, 16) offset (u64 BE)       the offset it was appended at
//   then random bytes, then the SHA-1 of everything before it (20 bytes).
//
// argv[2] is JSON: { dir, seed, generation, mode, lossAfterMs, segmentBytes (default 128 KiB),
// writePath (default 'pwrite') }. All choices (sizes, burst lengths, in-flight window, when to
// fail) come from a PRNG seeded with `seed`; the bytes themselves are random (only their hashes matter).
const crypto = require('node:crypto');
const { Log } = require('../../dist/index.js');

const HEADER_BYTES = 16;
const HASH_BYTES = 20;
const SEGMENT_BYTES = 131072;
// A child left behind by a dead parent stops on its own.
const LIFETIME_MS = 30_000;

const args = JSON.parse(process.argv[2]);

// A small seeded generator (32-bit state, multiply-xorshift output); good enough for choices.
function prng(seed) {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  return {
    below: (n) => next() % n,
    between: (lo, hi) => lo + (next() % (hi - lo + 1)),
    chance: (p) => next() / 4294967296 < p,
  };
}

const rand = prng(args.seed);

function say(line) {
  // Written at once while the pipe has room; queued (and lost if killed) when the parent lags.
  process.stdout.write(line + '\n');
}

// Exits once everything said has reached the pipe (process.exit alone would drop queued lines).
function exitAfter(line, code) {
  const stream = code === 0 ? process.stdout : process.stderr;
  stream.write(line + '\n', () => process.exit(code));
}

function valueSize() {
  const r = rand.below(100);
  if (r < 70) return rand.between(HEADER_BYTES + HASH_BYTES, 400);
  if (r < 95) return rand.between(400, 4000);
  return rand.between(4000, 40000);
}

function makeValue(offset, size) {
  const v = crypto.randomBytes(size);
  v.writeUInt32BE(args.generation, 0);
  v.writeUInt32BE(size, 4);
  v.writeBigUInt64BE(BigInt(offset), 8);
  crypto.createHash('sha1').update(v.subarray(0, size - HASH_BYTES)).digest().copy(v, size - HASH_BYTES);
  return v;
}

async function main() {
  const deadline = Date.now() + LIFETIME_MS;
  say('opening');
  const log = await Log.open(args.dir, { sync: 'always', segmentBytes: args.segmentBytes ?? SEGMENT_BYTES, writePath: args.writePath ?? 'pwrite' });
  say(`ready ${log.endOffset}`);

  // At most `window` confirms outstanding, as a producer with bounded in-flight requests would
  // have: it keeps the durable offset close behind the end, so failures land among confirms.
  const window = rand.chance(0.2) ? rand.between(1, 4) : rand.between(5, 400);
  let inFlight = 0;
  let waiting = false;
  let lossDue = false;
  let lost = false;

  const powerLoss = () => {
    lost = true;
    const end = log.endOffset;
    log.simulatePowerLoss();
    exitAfter(`power-lost ${log.durableOffset} ${end}`, 0);
  };

  const onConfirm = (hash) => (err, c) => {
    inFlight--;
    if (err !== null) {
      if (lost) return; // rejected by the simulated power loss
      exitAfter(`confirm failed: ${err.stack}`, 2);
    }
    say(c.durable ? `confirmed ${c.offset} ${hash}` : `not-durable ${c.offset}`);
    if (waiting && inFlight < window) {
      waiting = false;
      setImmediate(burst);
    }
  };

  function burst() {
    if (Date.now() > deadline) return exitAfter('writer gave up: no one stopped it', 3);
    if (lossDue) {
      // Part-way through a burst: some appended messages are still in the open batch.
      const before = rand.below(8);
      for (let i = 0; i < before; i++) appendOne();
      powerLoss();
      return;
    }
    const n = rand.between(1, 30);
    if (rand.chance(0.3)) appendSome(Math.min(n, window - inFlight));
    else for (let i = 0; i < n && inFlight < window; i++) appendOne();
    if (inFlight >= window) waiting = true;
    else setImmediate(burst);
  }

  function appendOne() {
    const value = makeValue(log.endOffset, valueSize());
    const offset = log.append(value);
    if (value.readBigUInt64BE(8) !== BigInt(offset)) throw new Error(`append returned ${offset}, not the end offset`);
    inFlight++;
    log.confirm(offset, onConfirm(crypto.createHash('sha1').update(value).digest('hex')));
  }

  // The same through appendBatch (one native call for the lot).
  function appendSome(n) {
    const first = log.endOffset;
    const values = [];
    for (let i = 0; i < n; i++) values.push(makeValue(first + i, valueSize()));
    const offset = log.appendBatch(values);
    if (offset !== first) throw new Error(`appendBatch returned ${offset}, not the end offset ${first}`);
    for (let i = 0; i < n; i++) {
      inFlight++;
      log.confirm(first + i, onConfirm(crypto.createHash('sha1').update(values[i]).digest('hex')));
    }
  }

  if (args.mode === 'power') {
    setTimeout(() => {
      if (waiting) powerLoss(); // blocked on confirms: the flusher may be mid-round
      else lossDue = true;
    }, args.lossAfterMs);
  }
  burst();
}

main().catch((err) => {
  exitAfter(`writer failed: ${err && err.stack}`, 2);
});
