'use strict';
// Child process of test/crash/broker-random-kills-lose-nothing.test.ts: produces to and consumes
// from topic "t" (3 partitions) of the broker in `dir` at the same time, as group "g" (ack model),
// until it is killed. The group state is checkpointed every few KiB, so kills also land in
// checkpoints. Every value is "<run>-<n>". Lines on stdout (written synchronously):
//   ready
//   sent <value>       the value's send confirm resolved
//   acking <value>     ack() is about to be called (the ack may or may not survive a kill)
//   acked <value>      the ack's confirm resolved (it must survive)
// Choices (batch sizes, which messages are nacked instead) come from a PRNG seeded with `seed`.
const fs = require('node:fs');
const { Broker } = require('../../dist/index.js');

const { dir, run, seed } = JSON.parse(process.argv[2]);
const line = (s) => fs.writeSync(1, `${s}\n`);
setTimeout(() => process.exit(3), 30_000);

function prng(s) {
  s >>>= 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

async function main() {
  const rnd = prng(seed);
  const broker = await Broker.open(dir, { groupCheckpointBytes: 4096 });
  const consumer = broker.consumer({ group: 'g', topics: 't', model: 'ack', maxInFlight: 64 });
  line('ready');
  let n = 0;
  const produce = async () => {
    for (;;) {
      const size = 1 + Math.floor(rnd() * 20);
      const batch = Array.from({ length: size }, () => ({ key: `k${Math.floor(rnd() * 9)}`, value: `${run}-${n++}` }));
      await broker.sendBatch('t', batch, { timeoutMs: 60_000 });
      for (const m of batch) line(`sent ${m.value}`);
      // Confirms settle without a turn of the event loop; give the consumer's I/O (ack confirms) one.
      await new Promise((r) => setImmediate(r));
    }
  };
  const consume = consumer.run(
    async (m) => {
      const value = m.value.toString();
      if (rnd() < 0.1 && m.deliveryCount < 3) {
        m.nack();
        return;
      }
      line(`acking ${value}`);
      await m.ack();
      line(`acked ${value}`);
    },
    { concurrency: 4 },
  );
  await Promise.all([produce(), consume]);
}

main().catch((e) => {
  line(`error ${e.code ?? ''} ${e.message}`);
  process.exit(1);
});
