'use strict';
// Child process of test/crash/broker-redelivers-after-kill.test.ts: consumes topic "t" (one
// partition) of the broker in `dir` as group "g", finishing every message below `stopAt` (ack
// model: awaits each ack's confirm; offset model: processing commits automatically), and at
// `stopAt` makes sure what came before is committed, reports it, and hangs mid-processing until
// it is killed. Lines on stdout (written synchronously, so the parent sees them at once):
//   ready                                   the broker is open and the consumer has joined
//   processing <offset> <deliveryCount>     hanging in the handler of this message
const fs = require('node:fs');
const { Broker } = require('../../dist/index.js');

const { dir, model, stopAt } = JSON.parse(process.argv[2]);
const line = (s) => fs.writeSync(1, `${s}\n`);
// A child left behind by a dead parent stops on its own.
setTimeout(() => process.exit(3), 30_000);

async function main() {
  const broker = await Broker.open(dir);
  const consumer = broker.consumer({ group: 'g', topics: 't', model });
  line('ready');
  await consumer.run(async (m) => {
    if (m.offset < stopAt) {
      if (model === 'ack') await m.ack();
      return;
    }
    if (model === 'offset') await consumer.commit(); // everything before this message, durably
    // The group state records this delivery at the end of the tick, and its writer thread writes
    // the record (which then survives kill -9) after any sync in progress: let that happen before
    // reporting, so the redelivery counts it.
    await new Promise((r) => setTimeout(r, 200));
    line(`processing ${m.offset} ${m.deliveryCount ?? 0}`);
    await new Promise(() => {});
  });
}

main().catch((e) => {
  line(`error ${e.code ?? ''} ${e.message}`);
  process.exit(1);
});
