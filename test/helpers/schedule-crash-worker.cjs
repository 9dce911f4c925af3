'use strict';
// Child process of test/crash/schedules-survive-kill.test.ts: opens the broker, defines schedule
// "tick" (every 100 ms into topic "t") if it is not there, and lets it fire; prints `ready`.
// The parent SIGKILLs it at random moments.
const fs = require('node:fs');
const { Broker } = require('../../dist/index.js');

const { dir } = JSON.parse(process.argv[2]);
const line = (s) => fs.writeSync(1, `${s}\n`);
setTimeout(() => process.exit(3), 60_000);

async function main() {
  const broker = await Broker.open(dir);
  if (broker.listSchedules().length === 0) await broker.schedule('tick', { every: 100, topic: 't', message: { value: 'tick' } });
  line('ready');
  setInterval(() => {}, 1000);
}

main().catch((e) => {
  line(`error ${e.code ?? ''} ${e.message}`);
  process.exit(1);
});
