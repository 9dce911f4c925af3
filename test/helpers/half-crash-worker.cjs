'use strict';
// Child process of test/crash/half-messages-survive-kill.test.ts: registers a check-back that
// commits half messages whose value ends in an even number and rolls back the others (after
// 0 ms, asking again every 20 ms), prepares `count` half messages "<round>-<i>" to topic "t"
// without resolving them, printing `prepared <value>` as each is durable, then prints `idle`
// (synchronously) once nothing is pending. The parent SIGKILLs it at random moments.
const fs = require('node:fs');
const { Broker } = require('../../dist/index.js');

const { dir, round, count } = JSON.parse(process.argv[2]);
const line = (s) => fs.writeSync(1, `${s}\n`);
setTimeout(() => process.exit(3), 60_000);

async function main() {
  const broker = await Broker.open(dir);
  broker.onTransactionCheck((m) => (Number(String(m.value).split('-')[1]) % 2 === 0 ? 'commit' : 'rollback'), { afterMs: 0, everyMs: 20 });
  for (let i = 0; i < count; i++) {
    const value = `${round}-${i}`;
    await broker.prepare('t', { value });
    line(`prepared ${value}`);
  }
  for (;;) {
    if (broker.describe().half.pending === 0) line('idle');
    await new Promise((r) => setTimeout(r, 10));
  }
}

main().catch((e) => {
  line(`error ${e.code ?? ''} ${e.message}`);
  process.exit(1);
});
