'use strict';
// Child process of test/crash/broker-random-kills-lose-nothing.test.ts and of the torture run's
// broker target (test/torture/broker-target.ts): produces to and consumes from topic "t"
// (3 partitions) of the broker in `dir` at the same time, as group "g" (ack model), until it is
// killed. The group state is checkpointed every `checkpointBytes` (default 4 KiB), so kills also
// land in checkpoints. Every value is "<run>-<n>". Lines on stdout (written synchronously):
//   ready
//   sent <value>       the value's send confirm resolved
//   acking <value>     ack() is about to be called (the ack may or may not survive a kill)
//   acked <value>      the ack's confirm resolved (it must survive)
// With `commits`, group "o" (offset model) also consumes "t" and commits what it polled:
//   committed <partition> <offset>   a commit's confirm resolved: the group's position there
// With `txns`, now and then a transaction sends "<run>-x<n>-0" .. "-2" to "t" and acks one
// message of "g" (the ack applies only if the transaction commits):
//   txn <run>-x<n> <value>     the transaction is about to commit, acking <value> (or "-")
//   txn-done <run>-x<n>        its commit resolved (all its records are durable and readable)
// With `powerAfterMs` (and SLUICE_FAULT_INJECTION=1) the child simulates a power failure of the
// whole broker after that long, says `power`, and exits 0.
// Choices (batch sizes, which messages are nacked instead) come from a PRNG seeded with `seed`.
const fs = require('node:fs');
const { Broker } = require('../../dist/index.js');
const { powerLossAfter } = require('./power-loss-timer.cjs');

const { dir, run, seed, checkpointBytes = 4096, commits = false, txns = false, powerAfterMs = null } = JSON.parse(process.argv[2]);
const line = (s) => fs.writeSync(1, `${s}\n`);
setTimeout(() => process.exit(3), 30_000).unref();

function prng(s) {
  s >>>= 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const tick = () => new Promise((r) => setImmediate(r));

async function main() {
  const rnd = prng(seed);
  const broker = await Broker.open(dir, { groupCheckpointBytes: checkpointBytes });
  const consumer = broker.consumer({ group: 'g', topics: 't', model: 'ack', maxInFlight: 64 });
  powerLossAfter(broker, powerAfterMs);
  line('ready');
  let n = 0;
  let txnHeld = null; // an ack-model message that the next transaction acks
  const produce = async () => {
    for (;;) {
      if (txns && rnd() < 0.15) {
        const id = `${run}-x${n++}`;
        const held = txnHeld;
        txnHeld = null;
        await broker.transaction(async (tx) => {
          for (let j = 0; j < 3; j++) await tx.send('t', { key: `k${Math.floor(rnd() * 9)}`, value: `${id}-${j}` });
          if (held !== null) tx.ack(held.message);
          line(`txn ${id} ${held === null ? '-' : held.message.value.toString()}`);
        });
        line(`txn-done ${id}`);
        held?.resolve();
        continue;
      }
      const size = 1 + Math.floor(rnd() * 20);
      const batch = Array.from({ length: size }, () => ({ key: `k${Math.floor(rnd() * 9)}`, value: `${run}-${n++}` }));
      await broker.sendBatch('t', batch, { timeoutMs: 60_000 });
      for (const m of batch) line(`sent ${m.value}`);
      // Confirms settle without a turn of the event loop; give the consumer's I/O (ack confirms) one.
      await tick();
    }
  };
  const consume = consumer.run(
    async (m) => {
      const value = m.value.toString();
      if (rnd() < 0.1 && m.deliveryCount < 3) {
        m.nack();
        return;
      }
      if (txns && txnHeld === null && rnd() < 0.2) {
        // Acked by the next transaction; the handler waits for it (returning acks the message).
        await new Promise((resolve) => (txnHeld = { message: m, resolve }));
        return;
      }
      line(`acking ${value}`);
      await m.ack();
      line(`acked ${value}`);
    },
    { concurrency: 4 },
  );
  const commitLoop = async () => {
    if (!commits) return;
    const o = broker.consumer({ group: 'o', topics: 't', autoCommit: false });
    for (;;) {
      const got = await o.poll(1 + Math.floor(rnd() * 50));
      const last = new Map();
      for (const m of got) last.set(m.partition, m.offset + 1);
      await o.commit();
      for (const [p, offset] of last) line(`committed ${p} ${offset}`);
      await tick();
    }
  };
  await Promise.all([produce(), consume, commitLoop()]);
}

main().catch((e) => {
  line(`error ${e.code ?? ''} ${e.message}`);
  process.exit(1);
});
