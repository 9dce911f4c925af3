'use strict';
// Child process of test/crash/transaction-crash-points.test.ts, run with SLUICE_CRASH_POINT set:
// takes the one message of topic "in" as ack-model group "w", then commits a transaction that
// sends "out-0" and "out-1" to partitions 0 and 1 of topic "out" and "audit" to topic "audit",
// and acks the message. It kills itself at the named point; `committed` means it did not.
const fs = require('node:fs');
const { Broker } = require('../../dist/index.js');

const { dir } = JSON.parse(process.argv[2]);
const line = (s) => fs.writeSync(1, `${s}\n`);
setTimeout(() => process.exit(3), 60_000);

async function main() {
  const broker = await Broker.open(dir);
  const c = broker.consumer({ group: 'w', topics: 'in', model: 'ack' });
  const [m] = await c.poll(1, { timeoutMs: 5000 });
  await broker.transaction(async (tx) => {
    await tx.send('out', { value: 'out-0', partition: 0 });
    await tx.send('out', { value: 'out-1', partition: 1 });
    await tx.send('audit', { value: 'audit' });
    tx.ack(m);
  });
  line('committed');
  process.exit(0);
}

main().catch((e) => {
  line(`error ${e.code ?? ''} ${e.message}`);
  process.exit(1);
});
