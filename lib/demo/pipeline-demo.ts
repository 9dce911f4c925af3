/**
 * `npm start`: the messaging layer end to end, in one temporary directory.
 *
 *  1. Two producers send orders (msgpack objects, keyed by customer) to a bounded topic with four
 *     partitions; a burst past its maxBacklog is shaved: sends wait for room, then go in.
 *  2. Two groups read the same topic (publish/subscribe): "billing" (ack model, two members
 *     sharing the partitions, one nack to show a redelivery) and "analytics" (offset model).
 *  3. A crash: a child process consumes as "shipping" (ack model), acks a few orders and is killed
 *     with SIGKILL in the middle of one; the broker is reopened and "shipping" drains the topic:
 *     the order in progress comes back with delivery count 2, the acked ones do not come back.
 *  4. A replay: "analytics" seeks back to a point in time and reads those orders again.
 *  5. describe(): lag, in flight and redeliveries per group.
 *
 * SLUICE_DEMO_MESSAGES sets how many orders the producers send (default 200000).
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Broker, type AckMessage, type ConsumedMessage } from '../index';

const ORDERS = Number(process.env.SLUICE_DEMO_MESSAGES ?? 200_000);
const BATCH = 1000;
const TOPIC = 'orders';

interface Order {
  id: number;
  customer: string;
  total: number;
}

function rate(count: number, ms: number): string {
  return `${((count / ms) * 1000).toLocaleString('en', { maximumFractionDigits: 0 })} msg/s`;
}

function until(cond: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const check = (): void => (cond() ? resolve() : void setImmediate(check));
    check();
  });
}

/** Child mode: consume as "shipping", ack three orders, then hang in the fourth until killed. */
async function child(dir: string): Promise<void> {
  const broker = await Broker.open(dir);
  const shipping = broker.consumer({ group: 'shipping', topics: TOPIC, model: 'ack', maxInFlight: 8 });
  let acked = 0;
  await shipping.run(async (msg) => {
    const order = msg.value as Order;
    if (acked < 3) {
      await msg.ack();
      acked++;
      fs.writeSync(1, `acked ${msg.partition}/${msg.offset} order ${order.id}\n`);
      return;
    }
    // A pause first, so that this delivery's record (count 1) is written to the group-state log
    // (by its writer thread, after any sync in progress) before the parent kills us: the
    // redelivery then shows count 2. A record not yet written when a process dies is lost, as an
    // unconfirmed one may be.
    await new Promise((resolve) => setTimeout(resolve, 200));
    fs.writeSync(1, `processing ${msg.partition}/${msg.offset} order ${order.id}: crash now\n`);
    await new Promise(() => setInterval(() => {}, 1000));
  });
}

async function main(): Promise<void> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-pipeline-'));
  const dir = path.join(root, 'broker');
  try {
    console.log(`Sluice pipeline demo in ${dir}\n`);
    let broker = await Broker.open(dir);
    await broker.createTopic(TOPIC, { partitions: 4, maxBacklog: 50_000, segmentBytes: 64 * 1024 * 1024 });

    // ---- 2. Consumers first, so that the queue drains while the producers fill it ----
    let billed = 0;
    let analysed = 0;
    let nacked = false;
    const billing = [1, 2].map(() => broker.consumer({ group: 'billing', topics: TOPIC, model: 'ack', maxInFlight: 2000 }));
    const analytics = broker.consumer({ group: 'analytics', topics: TOPIC });
    const runs = [
      ...billing.map((c) =>
        c.run((msg: AckMessage) => {
          if (!nacked && msg.offset === 10) {
            nacked = true;
            msg.nack(); // comes back at once, delivery count 2
            return;
          }
          billed++;
        }),
      ),
      analytics.run(() => {
        analysed++;
      }),
    ];
    console.log(`billing members: ${billing.map((c) => `${c.name} holds ${c.assignment().map((a) => a.partition).join(',')}`).join('; ')}`);
    // Billing starts paused (a slow downstream): the topic fills up to maxBacklog.
    for (const c of billing) c.pause();

    // ---- 1. Producers ----
    const t0 = performance.now();
    const producers = [0, 1].map(async (p) => {
      const producer = broker.producer();
      for (let i = p * BATCH; i < ORDERS; i += 2 * BATCH) {
        const batch = [];
        for (let k = i; k < Math.min(i + BATCH, ORDERS); k++) batch.push({ key: `customer-${k % 97}`, value: { id: k, customer: `customer-${k % 97}`, total: (k % 500) / 10 } });
        await producer.sendBatch(TOPIC, batch, { timeoutMs: 30_000 }); // waits for room when full
        await new Promise((r) => setImmediate(r)); // let the consumers' I/O in between batches
      }
    });
    await until(() => broker.describeTopic(TOPIC).waitingSends > 0);
    const full = broker.describeTopic(TOPIC);
    console.log(`peak: backlog ${full.backlog} of maxBacklog 50000, ${full.waitingSends} sends waiting for room`);
    await broker.send(TOPIC, { value: 'one more' }).catch((e: { code?: string }) => console.log(`  a send that does not wait fails at once: ${e.code}`));
    for (const c of billing) c.resume();
    console.log('billing resumed: the queue drains and the waiting sends go in');
    await Promise.all(producers);
    const produceMs = performance.now() - t0;
    await until(() => billed >= ORDERS && analysed >= ORDERS);
    const consumeMs = performance.now() - t0;
    console.log(`produced ${ORDERS.toLocaleString('en')} orders in ${produceMs.toFixed(0)} ms (${rate(ORDERS, produceMs)})`);
    console.log(`both groups had every order after ${consumeMs.toFixed(0)} ms (${rate(2 * ORDERS, consumeMs)} delivered in all)`);
    const billingState = broker.describeGroup('billing');
    console.log(`billing: lag ${billingState.lag}, redeliveries ${billingState.redeliveries} (the nacked order)`);
    await Promise.all([...billing, analytics].map((c) => c.close()));
    await Promise.all(runs);
    await broker.close();

    // ---- 3. A crash in the middle of processing ----
    console.log('\nshipping consumer in a child process:');
    const proc = spawn(process.execPath, [__filename, '--child', dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    proc.stdout.setEncoding('utf8');
    await new Promise<void>((resolve) =>
      proc.stdout.on('data', (chunk: string) => {
        out += chunk;
        if (out.includes('crash now')) resolve();
      }),
    );
    proc.kill('SIGKILL');
    await new Promise((resolve) => proc.on('exit', resolve));
    for (const line of out.trim().split('\n')) console.log(`  child: ${line}`);
    console.log('  child killed with SIGKILL');

    const refs = (what: string): string[] => [...out.matchAll(new RegExp(`${what} (\\d+/\\d+)`, 'g'))].map((m) => m[1]);
    const ackedRefs = new Set(refs('acked'));
    const crashedRef = refs('processing')[0];
    broker = await Broker.open(dir);
    const shipping = broker.consumer({ group: 'shipping', topics: TOPIC, model: 'ack', maxInFlight: 10_000 });
    let drained = 0;
    let crashed: AckMessage | undefined;
    const ackedAgain: string[] = [];
    for (;;) {
      const batch = (await shipping.poll(10_000, { timeoutMs: 200 })) as AckMessage[];
      if (batch.length === 0) break;
      for (const m of batch) {
        const ref = `${m.partition}/${m.offset}`;
        if (ref === crashedRef) crashed = m;
        if (ackedRefs.has(ref)) ackedAgain.push(ref);
        void m.ack();
      }
      drained += batch.length;
    }
    console.log(`after reopening, shipping drains ${drained.toLocaleString('en')} orders:`);
    console.log(`  ${crashedRef}, in progress at the kill, comes again: ${crashed === undefined ? 'NO (lost!)' : `delivery ${crashed.deliveryCount}`}`);
    console.log(`  the acked ${[...ackedRefs].join(', ')}: ${ackedAgain.length === 0 ? 'not delivered again' : `delivered again: ${ackedAgain.join(', ')} (wrong!)`}`);
    await shipping.close();

    // ---- 4. Replay by time ----
    const analyticsAgain = broker.consumer({ group: 'analytics', topics: TOPIC });
    const partition = analyticsAgain.assignment()[0].partition;
    const log = broker.describeTopic(TOPIC).partitions[partition];
    const replayFrom = log.endOffset - 5;
    analyticsAgain.seek({ topic: TOPIC, partition, offset: replayFrom });
    const replayed: ConsumedMessage[] = await analyticsAgain.poll(5, { timeoutMs: 1000 });
    console.log(`\nanalytics replays partition ${partition} from offset ${replayFrom}: orders ${replayed.map((m) => (m.value as Order).id).join(', ')}`);
    const fromTime = replayed[0].timestamp;
    analyticsAgain.seek({ topic: TOPIC, timestamp: fromTime });
    console.log(`  seek to time ${new Date(fromTime).toISOString()}: every partition moves to its first order at or after it`);
    await analyticsAgain.close();

    // ---- 5. Observability ----
    console.log('\ndescribe() (analytics\' lag is from the replay seek):');
    for (const g of broker.describe().groups) {
      console.log(`  ${g.name.padEnd(10)} ${g.model.padEnd(6)} lag ${String(g.lag).padStart(7)}  in flight ${g.inFlight}  redeliveries ${g.redeliveries}`);
    }
    await broker.close();
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--child') {
  child(process.argv[3]).catch((err) => {
    console.error(err);
    process.exit(1);
  });
} else {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
