'use strict';
// Child process of test/crash/transactions-survive-kill.test.ts: consumes topic "in" as ack-model
// group "w", one message at a time, and for each runs a transaction that sends "done <value>" to
// topic "out" and acks the message. Prints (synchronously) `committed <value>` once a
// transaction's commit resolved, and `idle` when nothing is left; the parent SIGKILLs it at
// random moments.
const fs = require('node:fs');
const { Broker } = require('../../dist/index.js');

const { dir } = JSON.parse(process.argv[2]);
const line = (s) => fs.writeSync(1, `${s}\n`);
setTimeout(() => process.exit(3), 60_000);

async function main() {
  const broker = await Broker.open(dir);
  const consumer = broker.consumer({ group: 'w', topics: 'in', model: 'ack', visibilityTimeoutMs: 600_000 });
  for (;;) {
    const [msg] = await consumer.poll(1, { timeoutMs: 200 });
    if (msg === undefined) {
      line('idle');
      await new Promise((r) => setTimeout(r, 50));
      continue;
    }
    const value = msg.value.toString();
    await broker.transaction(async (tx) => {
      await tx.send('out', { value: `done ${value}` });
      tx.ack(msg);
    });
    line(`committed ${value}`);
  }
}

main().catch((e) => {
  line(`error ${e.code ?? ''} ${e.message}`);
  process.exit(1);
});
