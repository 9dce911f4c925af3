'use strict';
// Child process of test/crash/dead-letters-survive-kill.test.ts: consumes topic "in" as ack-model
// group "w" with maxDeliveries 1 and rejects nothing, nacks everything: each message's first
// failed delivery sends it to "in.dlq". Prints `idle` (synchronously) when nothing is left to
// take; the parent SIGKILLs it at random moments.
const fs = require('node:fs');
const { Broker } = require('../../dist/index.js');

const { dir } = JSON.parse(process.argv[2]);
const line = (s) => fs.writeSync(1, `${s}\n`);
setTimeout(() => process.exit(3), 60_000);

async function main() {
  const broker = await Broker.open(dir);
  const consumer = broker.consumer({ group: 'w', topics: 'in', model: 'ack', maxDeliveries: 1, maxInFlight: 16 });
  for (;;) {
    const got = await consumer.poll(16, { timeoutMs: 100 });
    if (got.length === 0) {
      const d = broker.describeGroup('w').partitions[0];
      if (d.lag === 0) line('idle');
      continue;
    }
    for (const m of got) m.nack();
  }
}

main().catch((e) => {
  line(`error ${e.code ?? ''} ${e.message}`);
  process.exit(1);
});
