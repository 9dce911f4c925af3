'use strict';
// Child process of test/crash/redrive-survive-kill.test.ts: redrives every dead letter of
// "in.dlq" to topic "out" (a few at a time, so that the parent's kills fall between and inside
// the redrive's transactions), then prints `done`. The parent SIGKILLs it at random moments.
const fs = require('node:fs');
const { Broker } = require('../../dist/index.js');

const { dir } = JSON.parse(process.argv[2]);
const line = (s) => fs.writeSync(1, `${s}\n`);
setTimeout(() => process.exit(3), 60_000);

async function main() {
  const broker = await Broker.open(dir);
  for (;;) {
    const { redriven } = await broker.redrive('in.dlq', { to: 'out', limit: 7 });
    if (redriven === 0) break;
  }
  line('done');
  setInterval(() => {}, 1000);
}

main().catch((e) => {
  line(`error ${e.code ?? ''} ${e.message}`);
  process.exit(1);
});
