'use strict';
// Child process for test/lifecycle/gc.test.ts, run as `node --expose-gc gc-views.cjs <baseDir>`.
// Counts the mappings of files under <baseDir> in /proc/self/maps (and all mappings) at each stage
// of a scenario and prints them as one JSON line:
//   baseline   before any log was opened here
//   held       after many logs were opened, read and closed while their record views are kept
//              (views of segments that retention deleted among them)
//   released   after the views were dropped and the garbage collector ran
// plus whether the kept views still held the right bytes after close and deletion, and the count
// of all file-backed mappings (the whole-process count also moves with V8's heap pages and
// malloc's per-thread arenas, which are not ours).
const fs = require('node:fs');
const path = require('node:path');
const { Log } = require('../../dist/index.js');

const baseDir = process.argv[2];
const LOGS = 8;

function maps() {
  return fs.readFileSync('/proc/self/maps', 'utf8').split('\n').filter((l) => l.length > 0);
}
function fileMappings() {
  return maps().filter((l) => / \/\S/.test(l.replace(/^(\S+\s+){5}/, ' '))).length;
}
function mappingsUnder(dir) {
  return maps().filter((l) => l.includes(dir)).length;
}
const tick = () => new Promise((resolve) => setImmediate(resolve));

async function collect() {
  // Finalizers of external ArrayBuffers may run after the collection that found them dead: give
  // them turns of the event loop, and stop as soon as nothing under baseDir is mapped.
  for (let i = 0; i < 200 && mappingsUnder(baseDir) > 0; i++) {
    global.gc();
    await tick();
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function useLog(dir, keep) {
  const log = await Log.open(dir, { segmentBytes: 65536, retentionBytes: 100_000 });
  for (let i = 0; i < 2500; i++) log.append(Buffer.alloc(100, i & 0xff), { key: `k${i}` });
  await log.visible();
  // Views from the first readable segment, which retention will delete below.
  const early = log.read(log.startOffset, { maxRecords: 50 });
  for (let i = 0; i < 2500; i++) log.append(Buffer.alloc(100, i & 0xff), { key: `k${i + 2500}` });
  await log.visible();
  log.retain(Date.now());
  const late = log.read(log.startOffset, { maxRecords: 50 });
  await log.flush();
  await log.close();
  if (keep) keep.push(...early, ...late);
}

function viewsIntact(records) {
  return records.every((r) => r.value.length === 100 && r.value.every((b) => b === (r.offset % 2500) % 256) && r.key.toString() === `k${r.offset}`);
}

async function main() {
  fs.mkdirSync(baseDir, { recursive: true });
  const result = { baseline: mappingsUnder(baseDir) };
  // Warm up once (threads, thread stacks, libuv pool) so that the whole-process count is stable.
  await useLog(path.join(baseDir, 'warmup'), null);
  await collect();
  result.totalBaseline = maps().length;
  result.filesBaseline = fileMappings();

  let kept = [];
  for (let i = 0; i < LOGS; i++) await useLog(path.join(baseDir, `log${i}`), kept);
  result.held = mappingsUnder(baseDir);
  result.deletedHeld = maps().filter((l) => l.includes(baseDir) && l.includes('(deleted)')).length;
  result.keptRecords = kept.length;
  result.intact = viewsIntact(kept);

  // Logs opened and closed while every view is dropped at once.
  for (let i = 0; i < LOGS; i++) await useLog(path.join(baseDir, `drop${i}`), null);

  kept = null;
  await collect();
  result.released = mappingsUnder(baseDir);
  result.totalReleased = maps().length;
  result.filesReleased = fileMappings();
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
