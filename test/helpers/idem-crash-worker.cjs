'use strict';
// Child process of test/crash/idempotent-publish-survive-kill.test.ts: a producer that retries
// everything: sends ids 0 to count-1 to topic "t" (batches of 10, each message with its id),
// printing `sent <id> <duplicate>` as confirms come, then `done`. Every round starts from 0 again,
// as a producer that does not know what its last run got through. The parent SIGKILLs it.
const fs = require('node:fs');
const { Broker } = require('../../dist/index.js');

const { dir, count } = JSON.parse(process.argv[2]);
const line = (s) => fs.writeSync(1, `${s}\n`);
setTimeout(() => process.exit(3), 60_000);

async function main() {
  const broker = await Broker.open(dir);
  for (let i = 0; i < count; i += 10) {
    const batch = [];
    for (let k = i; k < Math.min(count, i + 10); k++) batch.push({ id: `id-${k}`, value: String(k), key: `k${k % 7}` });
    const confirms = await broker.sendBatch('t', batch);
    confirms.forEach((c, j) => line(`sent ${i + j} ${c.duplicate === true}`));
  }
  line('done');
  setInterval(() => {}, 1000);
}

main().catch((e) => {
  line(`error ${e.code ?? ''} ${e.message}`);
  process.exit(1);
});
