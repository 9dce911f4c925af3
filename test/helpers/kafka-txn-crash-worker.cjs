'use strict';
// Child process of test/crash/kafka-transactions-survive-kill.test.ts: serves the broker in `dir`
// over the Kafka protocol and, in the same process, runs a kafkajs transactional producer
// against it. Transaction i sends "t<i>-0", "t<i>-1", "t<i>-2" (keyed, so they spread over the
// partitions of "out") and commits group "crash-g"'s offset in "in" to i + 1 (sendOffsets); every
// fourth one (i % 4 === 3) aborts instead of committing. Prints (synchronously) `committed <i>`
// once a commit resolved and `aborted <i>` once an abort did; the parent SIGKILLs the whole
// process (server and client) at random moments.
const fs = require('node:fs');
const { Kafka, logLevel } = require('kafkajs');
const { Broker } = require('../../dist/index.js');
const { Server } = require('../../dist/kafka/index.js');

const { dir, first } = JSON.parse(process.argv[2]);
const line = (s) => fs.writeSync(1, `${s}\n`);
setTimeout(() => process.exit(3), 60_000);
process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

async function main() {
  const broker = await Broker.open(dir);
  const server = await Server.start({ broker, port: 0 });
  const kafka = new Kafka({ clientId: 'crash', brokers: [`127.0.0.1:${server.address.port}`], logLevel: logLevel.NOTHING });
  const producer = kafka.producer({ transactionalId: 'crash-tx', idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  for (let i = first; ; i++) {
    const tx = await producer.transaction();
    await tx.send({ topic: 'out', messages: [0, 1, 2].map((j) => ({ key: `k${j}`, value: `t${i}-${j}` })) });
    await tx.sendOffsets({ consumerGroupId: 'crash-g', topics: [{ topic: 'in', partitions: [{ partition: 0, offset: String(i + 1) }] }] });
    if (i % 4 === 3) {
      await tx.abort();
      line(`aborted ${i}`);
    } else {
      await tx.commit();
      line(`committed ${i}`);
    }
  }
}

main().catch((e) => {
  line(`error ${e.type ?? e.code ?? ''} ${e.message}`);
  process.exit(1);
});
