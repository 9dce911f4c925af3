'use strict';
/**
 * The child process of test/crash/survives-kill-9.test.ts: opens the log in argv[2] and appends
 * random messages (seeded by argv[3]) until it is killed, telling the parent on stdout, one line
 * each (pipe writes are synchronous on Linux, so a line the parent reads was written before the
 * kill):
 *   O <end offset>                      opened
 *   A <offset> <timestamp> <digest>     a message it is about to append (before the engine can
 *                                       seal it, so the parent knows every record that can exist)
 *   F <durable offset>                  a flush() resolved
 * Options come as JSON in argv[4]: {segmentBytes, sync, valueBytesMax}.
 */
const path = require('node:path');
const { Log } = require(path.join(__dirname, '..', '..', 'dist', 'index.js'));
const { digest, prng, randomMessage } = require('./crash-files.cjs');

const [dir, seedArg, optionsArg] = process.argv.slice(2);
const options = JSON.parse(optionsArg);
const rng = prng(Number(seedArg));
const clock = { now: 1_700_000_000_000 + Number(seedArg) };

function say(line) {
  process.stdout.write(line + '\n');
}

function valueBytes() {
  // Mostly small, now and then large enough to fill a 128 KiB segment in a few batches.
  const r = rng.next();
  if (r < 0.7) return rng.int(0, 200);
  if (r < 0.95) return rng.int(200, 4000);
  return rng.int(4000, options.valueBytesMax);
}

function announce(offset, m) {
  say(`A ${offset} ${m.timestamp} ${digest(m.value, m.key, m.headers)}`);
}

async function main() {
  const log = await Log.open(dir, { segmentBytes: options.segmentBytes, sync: options.sync });
  say(`O ${log.endOffset}`);
  for (;;) {
    const groups = rng.int(1, 4);
    for (let g = 0; g < groups; g++) {
      if (rng.next() < 0.3) {
        const first = log.endOffset;
        const batch = [];
        for (let i = rng.int(1, 20); i > 0; i--) batch.push(randomMessage(rng, valueBytes(), clock, false));
        batch.forEach((m, i) => announce(first + i, m));
        const got = log.appendBatch(batch);
        if (got !== first) throw new Error(`appendBatch returned ${got}, expected ${first}`);
      } else {
        for (let i = rng.int(1, 6); i > 0; i--) {
          const m = randomMessage(rng, valueBytes(), clock, false);
          announce(log.endOffset, m);
          log.append(m.value, { key: m.key, headers: m.headers, timestamp: m.timestamp });
        }
      }
      if (rng.next() < 0.5) log.seal();
      else await new Promise((resolve) => setImmediate(resolve));
    }
    if (rng.next() < 0.6) say(`F ${await log.flush()}`);
  }
}

main().catch((err) => {
  process.stderr.write(String(err && err.stack ? err.stack : err) + '\n');
  process.exit(1);
});
