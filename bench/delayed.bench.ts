/**
 * 1,000,000 delayed messages (broker/delay/): insert rate, memory, reopen time and delivery
 * accuracy, beside plain sends in the same run. One broker; topics with sync 'always'; 100 B
 * values; sendBatch of 1000.
 *   - `sendBatch, not delayed (baseline)`: 1M messages into topic "plain";
 *   - `sendBatch, delayed`: 1M messages into "due", each with deliverAt spread uniformly over a
 *     WINDOW_MS window that starts LEAD_MS after the first send (so inserting finishes first);
 *     the JS heap (after a full GC) is sampled at 100k and at 1M pending: the index is bounded,
 *     so it should not grow with the number pending;
 *   - `reopen with 1M pending`: close, then Broker.open (which scans the delay log to count and
 *     index what is pending);
 *   - delivery: an offset-model consumer polls "due"; lateness = time polled - due time (the
 *     moved message's timestamp), in a histogram over all 1M;
 *   - schedule: meanwhile a schedule fires every 100 ms into "ticks", polled in the same loop;
 *     lateness likewise (the firing's timestamp is its due time).
 * BENCH_TINY=1: 10,000 messages over 2 s.
 */
import { Broker } from '../lib/broker/broker';
import { describeHost, formatUs, latencyHistogram, makeDir, recordUs, removeDir, summarize, tiny, writeResults } from './harness';

const N = tiny ? 10_000 : 1_000_000;
const BATCH = 1000;
const LEAD_MS = tiny ? 2_000 : 20_000;
const WINDOW_MS = tiny ? 2_000 : 30_000;
const VALUE = Buffer.alloc(100, 0x61);
const SCHEDULE_EVERY_MS = 100;

/** JS heap plus array buffers (the index's typed arrays live there), after a full GC. */
function heapMiB(): number {
  (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  return (m.heapUsed + m.arrayBuffers) / 2 ** 20;
}

function rssMiB(): number {
  return process.memoryUsage().rss / 2 ** 20;
}

async function sendAll(broker: Broker, topic: string, due: ((i: number) => number) | null, onProgress?: (sent: number) => void): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < N; i += BATCH) {
    const batch = Array.from({ length: Math.min(BATCH, N - i) }, (_, k) => (due === null ? { value: VALUE } : { value: VALUE, deliverAt: due(i + k) }));
    await broker.sendBatch(topic, batch);
    onProgress?.(i + batch.length);
  }
  return (N / (performance.now() - start)) * 1000;
}

async function main(): Promise<void> {
  const host = describeHost();
  const dir = makeDir('sluice-bench-delayed-');
  let broker = await Broker.open(dir);
  await broker.createTopic('plain', { sync: 'always' });
  await broker.createTopic('due', { sync: 'always', partitions: 4 });
  const heapBefore = heapMiB();
  const rssBefore = rssMiB();
  process.stderr.write(`delayed: ${N} plain sends\n`);
  const plainRate = await sendAll(broker, 'plain', null);

  const base = Date.now() + LEAD_MS;
  // A fixed pseudo-random spread (a multiplicative permutation): due order differs from send order.
  const due = (i: number): number => base + Math.floor((((i * 2654435761) % N) / N) * WINDOW_MS);
  let heapAt100k = NaN;
  process.stderr.write(`delayed: ${N} delayed sends\n`);
  const delayedRate = await sendAll(broker, 'due', due, (sent) => {
    if (sent === Math.min(100_000, N)) heapAt100k = heapMiB();
  });
  const heapAtN = heapMiB();
  const rssAtN = rssMiB();
  const insertEnd = Date.now();

  await broker.close();
  const reopenStart = performance.now();
  broker = await Broker.open(dir);
  const reopenMs = performance.now() - reopenStart;
  const pendingAfterReopen = broker.describe().delayed!.pending;

  process.stderr.write(`delayed: waiting for ${N} deliveries\n`);
  await broker.createTopic('ticks', { sync: 'always' });
  await broker.schedule('probe', { every: SCHEDULE_EVERY_MS, topic: 'ticks', message: { value: 'tick' } });
  const lateness = latencyHistogram();
  const tickLateness = latencyHistogram();
  const consumer = broker.consumer({ group: 'bench', topics: 'due', start: 'earliest' });
  const ticks = broker.consumer({ group: 'bench-ticks', topics: 'ticks', start: 'earliest' });
  let received = 0;
  let early = 0;
  const record = (h: typeof lateness, timestamp: number, now: number): void => {
    if (now < timestamp) early++;
    recordUs(h, Math.max(0, now - timestamp) * 1000);
  };
  while (received < N) {
    const got = await consumer.poll(5000, { timeoutMs: 20 });
    const now = Date.now();
    for (const m of got) record(lateness, m.timestamp, now);
    received += got.length;
    for (const m of await ticks.poll(100, { timeoutMs: 0 })) record(tickLateness, m.timestamp, Date.now());
  }
  const deliveryEnd = Date.now();
  await broker.unschedule('probe');
  await consumer.close();
  await ticks.close();
  await broker.close();
  removeDir(dir);

  const s = summarize(lateness);
  const t = summarize(tickLateness);
  const ms = (us: number): string => formatUs(us);
  const text = [
    `# Delayed messages: ${N.toLocaleString('en-US')} pending`,
    '',
    `- Command: \`${process.env.SLUICE_BENCH_COMMAND ?? 'npm run bench -- delayed'}\``,
    `- Date: ${new Date().toISOString()}`,
    `- ${N} messages of ${VALUE.length} B, sendBatch of ${BATCH}, topics sync 'always'; due times spread over ${WINDOW_MS / 1000} s starting ${LEAD_MS / 1000} s after the first delayed send`,
    '',
    '## Host',
    '',
    `CPU ${host.cpu}; ${host.cores}; ${host.memory}; ${host.os}, ${host.kernel}; Node ${host.node}; bench directory ${host.benchDir}; load at start ${host.load}.`,
    '',
    '## Insert',
    '',
    '| Task | msg/s | vs baseline |',
    '| --- | ---: | ---: |',
    `| sendBatch, not delayed (baseline) | ${Math.round(plainRate).toLocaleString('en-US')} | 1.00x |`,
    `| sendBatch, delayed | ${Math.round(delayedRate).toLocaleString('en-US')} | ${(delayedRate / plainRate).toFixed(2)}x |`,
    '',
    '## Memory',
    '',
    `- JS heap and array buffers after a full GC: ${heapBefore.toFixed(1)} MiB before, ${heapAt100k.toFixed(1)} MiB with ${Math.min(100_000, N).toLocaleString('en-US')} pending, ${heapAtN.toFixed(1)} MiB with ${N.toLocaleString('en-US')} pending.`,
    `- RSS: ${rssBefore.toFixed(0)} MiB before, ${rssAtN.toFixed(0)} MiB with ${N.toLocaleString('en-US')} pending (the page cache of the mapped segments counts here too).`,
    '',
    '## Restart',
    '',
    `- Broker.open with ${pendingAfterReopen.toLocaleString('en-US')} pending: ${reopenMs.toFixed(0)} ms (scans the delay log once).`,
    '',
    '## Delivery accuracy',
    '',
    `Lateness = when the consumer's poll returned - the due time, over all ${s.count.toLocaleString('en-US')} (${early} polled before their due time: must be 0).`,
    `Inserting ended ${((insertEnd - (base - LEAD_MS)) / 1000).toFixed(1)} s after the first delayed send; the last delivery came ${((deliveryEnd - (base + WINDOW_MS)) / 1000).toFixed(2)} s after the last due time.`,
    '',
    '| p50 | p99 | p99.9 | max |',
    '| ---: | ---: | ---: | ---: |',
    `| ${ms(s.p50)} | ${ms(s.p99)} | ${ms(s.p999)} | ${ms(s.max)} |`,
    '',
    `- Target (issue 12): due within 50 ms under normal load: p99 ${s.p99 <= 50_000 ? 'met' : 'not met'} (${ms(s.p99)}).`,
    '',
    '## Schedule firings under that load',
    '',
    `A schedule every ${SCHEDULE_EVERY_MS} ms into a topic of its own while the delayed messages are delivered; lateness = when its consumer's poll returned - the firing's due time, over ${t.count} firings.`,
    '',
    '| p50 | p99 | p99.9 | max |',
    '| ---: | ---: | ---: | ---: |',
    `| ${ms(t.p50)} | ${ms(t.p99)} | ${ms(t.p999)} | ${ms(t.max)} |`,
    '',
    `- Target (issue 12): due within 50 ms under normal load: p99 ${t.p99 <= 50_000 ? 'met' : 'not met'} (${ms(t.p99)}).`,
    '',
  ].join('\n');
  writeResults('delayed', text);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
