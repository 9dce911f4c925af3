'use strict';
// Worker thread for test/lifecycle/workers.test.ts and worker-main.cjs: each worker opens its own
// log with the addon loaded in its own thread, appends, reads back, and (depending on `mode`)
// closes, or leaves without closing.
//   workerData: { dir, count, tag, mode: 'close' | 'leave-open' | 'exit' | 'hang' }
// Record o (its offset) holds `${tag}-value-${o}-x...`, key `${tag}-${o}`, timestamp 1000 + o, so a
// worker can verify every record of the log, earlier rounds' included.
// Posts { ok: true, endOffset, checked } after verifying every record, or { ok: false, error }.
const { workerData, parentPort } = require('node:worker_threads');
const { Log } = require('../../dist/index.js');

async function main() {
  const { dir, count, tag, mode } = workerData;
  const log = await Log.open(dir, { segmentBytes: 65536, indexIntervalBytes: 512 });
  const value = (o) => `${tag}-value-${o}-${'x'.repeat(o % 100)}`;
  for (let i = 0; i < count; i++) {
    const o = log.endOffset;
    log.append(value(o), { key: `${tag}-${o}`, headers: [['tag', tag]], timestamp: 1000 + o });
    if (i % 97 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  await log.visible();
  let offset = log.startOffset;
  let checked = 0;
  while (offset < log.highWatermark) {
    for (const r of log.read(offset)) {
      const o = r.offset;
      if (r.value.toString() !== value(o)) throw new Error(`bad value at ${o}`);
      if (r.key.toString() !== `${tag}-${o}`) throw new Error(`bad key at ${o}`);
      if (r.headers.length !== 1 || r.headers[0].value.toString() !== tag) throw new Error(`bad headers at ${o}`);
      if (r.timestamp !== 1000 + o) throw new Error(`bad timestamp at ${o}`);
      checked++;
      offset = o + 1;
    }
  }
  const middle = Math.floor(log.endOffset / 2);
  if (log.offsetForTime(1000 + middle) !== middle) throw new Error('bad offsetForTime');
  const durable = await log.flush();
  const endOffset = log.endOffset;
  if (mode === 'close') await log.close();
  parentPort.postMessage({ ok: true, endOffset, durable, checked });
  if (mode === 'exit' || mode === 'hang') {
    // Leave with flushes in flight, as a program that stops a worker at any moment would.
    for (let i = 0; i < 20; i++) {
      const o = log.endOffset;
      log.append(value(o), { key: `${tag}-${o}`, headers: [['tag', tag]], timestamp: 1000 + o });
      log.flush().catch(() => {});
    }
  }
  if (mode === 'exit') process.exit(0); // in a worker: ends this thread only
  if (mode === 'hang') setInterval(() => {}, 1000); // until the parent terminates it
}

main().catch((e) => {
  parentPort.postMessage({ ok: false, error: String(e && e.stack ? e.stack : e), code: e && e.code });
});
