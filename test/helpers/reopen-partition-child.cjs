'use strict';
// Child of test/broker/reopen-partition.test.ts, run with SLUICE_FAULT_INJECTION=1:
// `node reopen-partition-child.cjs <dir>` fails one partition of a broker in <dir> (a failed
// fsync armed on its directory only), reopens it through Broker.reopenPartition, once with its
// directory moved away (the open fails: the partition stays offline) and once with it back after
// zeroing the batch whose fsync failed (as if the disk had lost that page: the reopened log ends
// before it, below what a consumer had read and committed), and prints what it observed as one
// line of JSON (the parent asserts; this file only reports).
const fs = require('node:fs');
const path = require('node:path');
const { Broker, faultInjection } = require('../../dist/index.js');

const dir = process.argv[2];

function describeError(err) {
  return err === null || err === undefined ? null : { name: err.name, code: err.code, message: err.message };
}
function attempt(fn) {
  try {
    return { value: fn() };
  } catch (err) {
    return { error: describeError(err) };
  }
}
function outcome(promise) {
  return promise.then(
    (value) => ({ value }),
    (err) => ({ error: describeError(err) }),
  );
}
const texts = (messages) => messages.map((m) => m.value.toString());
const partitionState = (broker) => {
  const p = broker.describeTopic('fragile').partitions[0];
  return { failure: p.failure, endOffset: p.endOffset, highWatermark: p.highWatermark, messagesIn: p.messagesIn, bytesIn: p.bytesIn };
};

(async () => {
  if (!faultInjection.available) throw new Error('run with SLUICE_FAULT_INJECTION=1');
  const broker = await Broker.open(dir);
  await broker.createTopic('fragile', { sync: 'always', segmentBytes: 1 << 20 });
  await broker.createTopic('sturdy', { sync: 'always', segmentBytes: 1 << 20 });
  for (let i = 0; i < 5; i++) await broker.send('fragile', { value: `f${i}` });
  const consumer = broker.consumer({ group: 'g', topics: 'fragile', autoCommit: false });
  const r = { consumedBefore: texts(await consumer.poll(100, { timeoutMs: 5000 })) };
  await consumer.commit([{ topic: 'fragile', partition: 0, offset: 5 }]);
  r.notFailed = await outcome(broker.reopenPartition('fragile', 0));
  r.badPartition = await outcome(broker.reopenPartition('fragile', 1));

  // A poll waiting on the partition when it fails: it gets what was written before the fsync failed.
  const waiting = consumer.poll(100, { timeoutMs: 20_000 });
  const unackedAt = partitionState(broker).bytesIn;
  faultInjection.arm('sync', 'EIO', 1, path.join(dir, 'topics', 'fragile', '0'));
  r.failedSend = await outcome(broker.send('fragile', { value: 'unacked' }));
  r.sendAfterFailure = await outcome(broker.send('fragile', { value: 'refused' }));
  r.sturdySend = await outcome(broker.send('sturdy', { value: 's0' }));
  r.failedState = partitionState(broker);
  r.consumedWhileFailed = texts(await waiting);
  await consumer.commit([{ topic: 'fragile', partition: 0, offset: 6 }]);
  await consumer.close();

  // The open fails while the directory is away: the partition stays offline, and says why.
  const partitionDir = path.join(dir, 'topics', 'fragile', '0');
  fs.renameSync(partitionDir, `${partitionDir}.away`);
  r.reopenWithoutFiles = await outcome(broker.reopenPartition('fragile', 0));
  r.offlineState = partitionState(broker);
  r.sendWhileOffline = await outcome(broker.send('fragile', { value: 'offline' }));
  r.describeWhileOffline = attempt(() => broker.describe().topics.length);
  r.reopenAllWithoutFiles = (await broker.reopenFailedPartitions()).map((o) => ({ ...o, error: describeError(o.error) }));
  fs.renameSync(`${partitionDir}.away`, partitionDir);
  const segment = path.join(partitionDir, '00000000000000000000.log');
  const fd = fs.openSync(segment, 'r+');
  const header = Buffer.alloc(8);
  fs.readSync(fd, header, 0, 8, unackedAt);
  r.zeroedBaseOffset = Number(header.readBigInt64BE(0));
  fs.writeSync(fd, Buffer.alloc(r.failedState.bytesIn - unackedAt), 0, r.failedState.bytesIn - unackedAt, unackedAt);
  fs.closeSync(fd);

  r.reopened = await outcome(broker.reopenPartition('fragile', 0));
  r.reopenedState = partitionState(broker);
  r.reopenAgain = await outcome(broker.reopenPartition('fragile', 0));
  r.reopenAll = await outcome(broker.reopenFailedPartitions());
  r.committedAfterReopen = broker.describeGroup('g').partitions[0].committedOffset;
  // A member joining now starts at the group's committed offset, brought down to the new end.
  const rejoined = broker.consumer({ group: 'g', topics: 'fragile', autoCommit: false });
  const next = rejoined.poll(100, { timeoutMs: 20_000 });
  r.sendAfterReopen = await outcome(broker.send('fragile', { value: 'after-reopen' }));
  r.consumedAfterReopen = texts(await next);
  r.finalState = partitionState(broker);
  await rejoined.close();
  await broker.close();

  const reader = await Broker.open(dir, { readOnly: true });
  const p = reader.partition('fragile', 0);
  r.stored = p.read(0, 1000).records.map((m) => m.value.toString());
  await reader.close();
  process.stdout.write(JSON.stringify(r) + '\n', () => process.exit(0));
})().catch((err) => {
  process.stderr.write(`reopen-partition child failed: ${err && err.stack}\n`, () => process.exit(2));
});
