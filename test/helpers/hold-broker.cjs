'use strict';
// Child process for test/lifecycle/directory-lock.test.ts: holds a broker open until told.
//   node hold-broker.cjs <dir>
// Opens the broker in <dir> and reports over IPC { ready: true } or { error: <code>, message },
// then waits for a message: 'exit' ends the process with the broker still open, 'close' closes
// it first.
const { Broker } = require('../../dist/index.js');

async function main() {
  let broker;
  try {
    broker = await Broker.open(process.argv[2]);
  } catch (e) {
    process.send({ error: e.code ?? 'none', message: e.message });
    process.disconnect();
    return;
  }
  process.on('message', async (m) => {
    if (m === 'close') await broker.close();
    process.exit(0);
  });
  process.send({ ready: true });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
