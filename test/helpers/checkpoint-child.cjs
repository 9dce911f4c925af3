'use strict';
// Child process of test/crash/rescans-only-the-unsynced-tail.test.ts (over dist/):
// `node checkpoint-child.cjs <mode> <dir>`. Values are "v<offset>" padded to 1000 bytes, so a few
// thousand messages fill several MiB of an 8 MiB segment (the recovery checkpoint is written once
// a sync moves the active segment's synced position by 1 MiB).
//   kill   sync 'none': 3000 messages, flush(), prints "F <durable offset>", 1200 more, sealed,
//          written (not synced), prints "READY <end offset>" and waits to be killed.
//   power  (SLUICE_FAULT_INJECTION=1) sync 'always': 3000 messages confirmed, 600 more appended
//          while confirms arrive, then simulatePowerLoss(); prints {"confirmed": n} as JSON: every
//          offset below n was confirmed durable.
const { Log } = require('../../dist/index.js');

const [mode, dir] = process.argv.slice(2);
const SEGMENT_BYTES = 8 * 1024 * 1024;
const value = (o) => `v${o}`.padEnd(1000, '.');
const tick = () => new Promise((resolve) => setImmediate(resolve));

async function kill() {
  const log = await Log.open(dir, { segmentBytes: SEGMENT_BYTES, sync: 'none' });
  for (let i = 0; i < 3000; i++) log.append(value(log.endOffset));
  const durable = await log.flush();
  process.stdout.write(`F ${durable}\n`);
  for (let i = 0; i < 1200; i++) log.append(value(log.endOffset));
  log.seal();
  await log.visible(); // written (in the page cache), not synced
  process.stdout.write(`READY ${log.endOffset}\n`);
  await new Promise(() => undefined);
}

async function power() {
  const log = await Log.open(dir, { segmentBytes: SEGMENT_BYTES, sync: 'always' });
  const first = [];
  for (let i = 0; i < 3000; i++) first.push(log.confirm(log.append(value(log.endOffset))));
  await Promise.all(first);
  let confirmed = 3000;
  for (let i = 0; i < 600; i++) {
    const o = log.append(value(log.endOffset));
    log.confirm(o, (err, c) => {
      if (err === null && c.durable && o + 1 > confirmed) confirmed = o + 1;
    });
    if (i % 100 === 99) await tick();
  }
  log.simulatePowerLoss();
  process.stdout.write(JSON.stringify({ confirmed }) + '\n');
}

(mode === 'kill' ? kill() : power()).catch((err) => {
  console.error(err);
  process.exit(1);
});
