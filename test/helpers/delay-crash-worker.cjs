'use strict';
// Child process of test/crash/delayed-survive-kill.test.ts: opens the broker (which moves what
// is overdue), sends `count` messages "<round>-<i>" to topic "t" with delays of 0 to 200 ms
// (seeded), printing `sent <value>` once each send resolves, then prints `idle` (synchronously)
// once nothing is pending in the delay store. The parent SIGKILLs it at random moments.
const fs = require('node:fs');
const { Broker } = require('../../dist/index.js');

const { dir, round, count, seed } = JSON.parse(process.argv[2]);
const line = (s) => fs.writeSync(1, `${s}\n`);
setTimeout(() => process.exit(3), 60_000);

function mulberry32(a) {
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function main() {
  const broker = await Broker.open(dir);
  const random = mulberry32(seed);
  const sends = [];
  for (let i = 0; i < count; i++) {
    const value = `${round}-${i}`;
    sends.push(broker.send('t', { value, delayMs: Math.floor(random() * 200) }).then(() => line(`sent ${value}`)));
    if (i % 10 === 9) await Promise.all(sends.splice(0));
  }
  await Promise.all(sends);
  for (;;) {
    if (broker.describe().delayed.pending === 0) line('idle');
    await new Promise((r) => setTimeout(r, 20));
  }
}

main().catch((e) => {
  line(`error ${e.code ?? ''} ${e.message}`);
  process.exit(1);
});
