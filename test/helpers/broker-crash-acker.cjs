'use strict';
// Child process of test/crash/broker-acks-survive-kill.test.ts: takes the first three messages of
// topic "t" as group "g", has the settlement of the first confirmed (ack model: ack(); offset
// model: commit(message)), then starts settling the second and blocks the event loop before that
// settlement can be written, so that the parent kills it in between. Lines on stdout (synchronous):
//   confirmed <offset> <durable>    the first settlement's confirm resolved
//   called <offset>                 the second settlement was called and will never be written
const fs = require('node:fs');
const { Broker } = require('../../dist/index.js');

const { dir, model } = JSON.parse(process.argv[2]);
const line = (s) => fs.writeSync(1, `${s}\n`);
setTimeout(() => process.exit(3), 30_000);

async function main() {
  const broker = await Broker.open(dir);
  const consumer = broker.consumer({ group: 'g', topics: 't', model, autoCommit: false });
  const [m0, m1] = await consumer.poll(3);
  const confirm = model === 'ack' ? await m0.ack() : await consumer.commit(m0);
  line(`confirmed ${m0.offset} ${confirm.durable}`);
  if (model === 'ack') m1.ack();
  else consumer.commit(m1);
  line(`called ${m1.offset}`);
  const until = Date.now() + 30_000;
  while (Date.now() < until) {
    // The ack (or commit) would be written at the end of this tick, which never comes.
  }
  process.exit(3);
}

main().catch((e) => {
  line(`error ${e.code ?? ''} ${e.message}`);
  process.exit(1);
});
