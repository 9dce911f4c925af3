'use strict';
// Child process for test/lifecycle/locking.test.ts: holds a log open until told what to do.
//   node hold-log.cjs <dir> <count>
// Opens <dir>, appends <count> records ("record-<i>"), flushes, then reports over IPC:
//   { ready: true, endOffset } or { error: <code or message> }
// and waits for a message: 'exit' ends the process with the log still open (no close), 'close'
// closes it first, then exits.
const { Log } = require('../../dist/index.js');

const [dir, countArg] = process.argv.slice(2);

async function main() {
  let log;
  try {
    log = await Log.open(dir, { segmentBytes: 65536 });
  } catch (e) {
    process.send({ error: e.code ?? e.message });
    process.disconnect();
    return;
  }
  const count = Number(countArg);
  for (let i = 0; i < count; i++) log.append(`record-${i}`, { key: `k${i}` });
  await log.flush();
  process.on('message', async (m) => {
    if (m === 'close') await log.close();
    process.exit(0);
  });
  process.send({ ready: true, endOffset: log.endOffset });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
