'use strict';
// Child process for test/lifecycle/workers.test.ts: runs workers that leave without closing their
// log, so that a crash takes down this process and not the test runner.
//   node worker-main.cjs <baseDir> <mode> <workers> <rounds>   (mode: leave-open | exit | hang)
// Runs <rounds> rounds of <workers> concurrent workers, each with its own log. For each worker:
// waits for its report and its exit (terminating it first in 'hang' mode), then opens the worker's
// log here and counts its records. Prints one JSON line with the results of every worker.
const path = require('node:path');
const fs = require('node:fs');
const { Worker } = require('node:worker_threads');
const { Log } = require('../../dist/index.js');

const [baseDir, mode, workersArg, roundsArg] = process.argv.slice(2);

function runWorker(name) {
  const dir = path.join(baseDir, name);
  return new Promise((resolve) => {
    const w = new Worker(path.join(__dirname, 'worker-log.cjs'), { workerData: { dir, count: 2000, tag: name, mode } });
    let report;
    w.on('message', (m) => {
      report = m;
      if (mode === 'hang') w.terminate();
    });
    w.on('error', (e) => {
      report = { ok: false, error: String(e) };
    });
    w.on('exit', (exitCode) => resolve({ dir, report, exitCode }));
  });
}

async function main() {
  fs.mkdirSync(baseDir, { recursive: true });
  const results = [];
  for (let round = 0; round < Number(roundsArg ?? 1); round++) {
    results.push(...(await Promise.all(Array.from({ length: Number(workersArg) }, (_, i) => runWorker(`r${round}w${i}`)))));
  }
  const out = [];
  for (const r of results) {
    let reopened;
    try {
      const log = await Log.open(r.dir, { segmentBytes: 65536 });
      let count = 0;
      let offset = log.startOffset;
      while (offset < log.highWatermark) {
        const records = log.read(offset);
        count += records.length;
        offset = records[records.length - 1].offset + 1;
      }
      reopened = { ok: true, count, endOffset: log.endOffset, cleanShutdown: log.recovery.cleanShutdown };
      await log.close();
    } catch (e) {
      reopened = { ok: false, code: e.code, error: String(e) };
    }
    out.push({ report: r.report, exitCode: r.exitCode, reopened });
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
