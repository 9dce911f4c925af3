/**
 * `npm run abuse`: `sluice serve` (built, in dist/) in a child process, and from this process a
 * normal kafkajs client (a producer sending at a steady rate, a consumer of what it sends) whose
 * latency is measured first alone, then while abusive clients (test/helpers/abusers.ts) hold
 * thousands of idle connections, send requests one byte at a time, claim 2 GiB frames and
 * pipeline 50 MiB fetches they never read. Prints the normal client's produce and end-to-end
 * latency (p50, p99) in both phases, the server's RSS and heap before, during (the most seen)
 * and after the abuse, and the connections it held.
 *
 *   npm run abuse -- --connections 5000 --slowloris 100 --claims 200 --non-readers 20 --phase 40s
 *
 * The abusive clients run in a worker thread, so that their own work does not count as the
 * normal client's latency. The server's frameTimeoutMs is its default, 30 s, so the phase must be longer for slowloris
 * senders to be dropped (they reconnect and start again). Needs file descriptors for the
 * connections on both sides: the server is started under `ulimit -n` raised to the hard limit;
 * this process must have enough itself (see `ulimit -n`).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { Kafka, logLevel, type Consumer, type Producer } from 'kafkajs';
import { hugeClaims, idleConnections, nonReaders, slowloris, type Abusers } from '../test/helpers/abusers';

const ROOT = path.resolve(__dirname, '..');
const MIB = 1024 * 1024;

const { values: args } = parseArgs({
  args: isMainThread ? process.argv.slice(2) : [],
  options: {
    connections: { type: 'string', default: '5000' },
    slowloris: { type: 'string', default: '100' },
    claims: { type: 'string', default: '200' },
    'non-readers': { type: 'string', default: '20' },
    phase: { type: 'string', default: '40s' },
    rate: { type: 'string', default: '200' },
  },
});

function count(name: string): number {
  const n = Number(args[name as keyof typeof args]);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer, got ${args[name as keyof typeof args]}`);
  return n;
}

function durationMs(v: string): number {
  const m = /^(\d+)(ms|s|m)?$/.exec(v);
  if (m === null) throw new Error(`--phase must be a duration such as 40s or 500ms, got ${v}`);
  return Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 'm' ? 60_000 : 1000);
}

type Opts = { connections: number; slowloris: number; claims: number; nonReaders: number; phaseMs: number; rate: number };
const opts: Opts = isMainThread ? optionsOf() : (workerData as { opts: Opts }).opts;

function optionsOf(): Opts {
  return { connections: count('connections'), slowloris: count('slowloris'), claims: count('claims'), nonReaders: count('non-readers'), phaseMs: durationMs(args.phase!), rate: count('rate') };
}

interface Served {
  child: ChildProcess;
  port: number;
  metricsUrl: string;
}

function fdLimit(): number {
  return Number(spawnSync('bash', ['-c', 'ulimit -n'], { encoding: 'utf8' }).stdout.trim());
}

async function startServer(dir: string): Promise<Served> {
  const bin = path.join(ROOT, 'dist', 'cli', 'sluice.js');
  if (!fs.existsSync(bin)) throw new Error('build first: npx tsc -p tsconfig.json');
  const command = `ulimit -n "$(ulimit -Hn)" && exec "${process.execPath}" "${bin}" serve --data "${dir}" --listen 127.0.0.1:0 --metrics 127.0.0.1:0 --sync none`;
  const child = spawn('bash', ['-c', command], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`sluice serve exited with ${code}: ${out}`)));
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const listen = /listening on 127\.0\.0\.1:(\d+)/.exec(out);
      const metrics = /metrics on (http:\/\/\S+)/.exec(out);
      if (listen !== null && metrics !== null) resolve({ child, port: Number(listen[1]), metricsUrl: metrics[1] });
    });
  });
}

/** The server's resident set (from /proc), heap in use and connections open (from its metrics). */
async function sample(s: Served): Promise<{ rss: number; heap: number; connections: number }> {
  const status = fs.readFileSync(`/proc/${s.child.pid}/status`, 'utf8');
  const rss = Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
  const text = await (await fetch(s.metricsUrl)).text();
  const metric = (name: string): number => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)`, 'm').exec(text)?.[1] ?? NaN);
  return { rss, heap: metric('nodejs_heap_size_used_bytes'), connections: metric('sluice_server_connections') };
}

function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** The normal client: sends `rate` messages a second for `ms`, each timed to its ack and to its consumer. */
class NormalClient {
  readonly #producer: Producer;
  readonly #consumer: Consumer;
  readonly #arrivals = new Map<string, number>();

  constructor(kafka: Kafka) {
    this.#producer = kafka.producer();
    this.#consumer = kafka.consumer({ groupId: 'normal', maxWaitTimeInMs: 100 });
  }

  async start(): Promise<void> {
    await this.#producer.connect();
    await this.#consumer.connect();
    await this.#consumer.subscribe({ topic: 'normal', fromBeginning: false });
    await this.#consumer.run({ eachMessage: async ({ message }) => void this.#arrivals.set(message.value!.toString(), performance.now()) });
    // Until the consumer has its partition: messages that reach it.
    for (let i = 0; ; i++) {
      await this.#producer.send({ topic: 'normal', acks: 1, messages: [{ value: `warm-up-${i}` }] });
      await new Promise((r) => setTimeout(r, 200));
      if (this.#arrivals.size > 0) break;
    }
  }

  async measure(ms: number, rate: number): Promise<{ produce: number[]; endToEnd: number[]; sent: number; lost: number }> {
    const sent = new Map<string, number>();
    const produce: number[] = [];
    const until = performance.now() + ms;
    for (let i = 0; performance.now() < until; i++) {
      const id = `${process.hrtime.bigint()}-${i}`;
      const t0 = performance.now();
      sent.set(id, t0);
      await this.#producer.send({ topic: 'normal', acks: 1, messages: [{ value: id }] });
      produce.push(performance.now() - t0);
      const next = t0 + 1000 / rate - performance.now();
      if (next > 0) await new Promise((r) => setTimeout(r, next));
    }
    await new Promise((r) => setTimeout(r, 2000)); // the last ones' way to the consumer
    const endToEnd: number[] = [];
    for (const [id, t0] of sent) {
      const at = this.#arrivals.get(id);
      if (at !== undefined) endToEnd.push(at - t0);
    }
    return { produce, endToEnd, sent: sent.size, lost: sent.size - endToEnd.length };
  }

  async stop(): Promise<void> {
    await this.#consumer.disconnect();
    await this.#producer.disconnect();
  }
}

async function loadBigTopic(kafka: Kafka): Promise<void> {
  const p = kafka.producer();
  await p.connect();
  const value = Buffer.alloc(MIB / 2, 7);
  for (let i = 0; i < 128; i++) await p.send({ topic: 'big', acks: 1, messages: [{ value }] });
  await p.disconnect();
}

/** Claims 2 GiB frames, `n` at a time, until stopped: how many the server closed. */
function keepClaiming(port: number, n: number): { stop: () => Promise<number> } {
  let stopped = false;
  let closed = 0;
  const loop = (async () => {
    while (!stopped) {
      closed += await hugeClaims(port, n);
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return { stop: async () => ((stopped = true), await loop, closed) };
}

const mib = (b: number): string => (b / MIB).toFixed(1);
const ms = (x: number): string => x.toFixed(2);

async function main(): Promise<void> {
  const needed = opts.connections + opts.slowloris + opts.nonReaders + opts.claims + 100;
  if (fdLimit() < needed) throw new Error(`ulimit -n is ${fdLimit()}: this process needs about ${needed} descriptors (ulimit -n ${needed} first)`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-abuse-'));
  const served = await startServer(dir);
  try {
    const kafka = new Kafka({ brokers: [`127.0.0.1:${served.port}`], clientId: 'normal', logLevel: logLevel.NOTHING });
    await loadBigTopic(kafka);
    const normal = new NormalClient(kafka);
    await normal.start();
    const before = await sample(served);
    console.log(`baseline: ${opts.phaseMs} ms at ${opts.rate} msg/s ...`);
    const baseline = await normal.measure(opts.phaseMs, opts.rate);

    console.log(`abuse: ${opts.connections} idle, ${opts.slowloris} slowloris, ${opts.nonReaders} non-readers, 2 GiB claims ${opts.claims} at a time ...`);
    const abuse = await startAbuse(served.port);
    let during = await sample(served);
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const s = await sample(served);
        during = { rss: Math.max(during.rss, s.rss), heap: Math.max(during.heap, s.heap), connections: Math.max(during.connections, s.connections) };
        await new Promise((r) => setTimeout(r, 250));
      }
    })();
    const abused = await normal.measure(opts.phaseMs, opts.rate);
    sampling = false;
    await sampler;
    const { claimed, idleHeld, readersHeld, lorisesDropped } = await abuse.stop();
    await new Promise((r) => setTimeout(r, 3000));
    const after = await sample(served);
    await normal.stop();

    console.log('');
    console.log(`normal client (kafkajs, ${opts.rate} msg/s, acks 1)      alone           under abuse`);
    console.log(`  produce latency p50 / p99 (ms)          ${ms(percentile(baseline.produce, 50))} / ${ms(percentile(baseline.produce, 99))}     ${ms(percentile(abused.produce, 50))} / ${ms(percentile(abused.produce, 99))}`);
    console.log(`  end-to-end latency p50 / p99 (ms)       ${ms(percentile(baseline.endToEnd, 50))} / ${ms(percentile(baseline.endToEnd, 99))}     ${ms(percentile(abused.endToEnd, 50))} / ${ms(percentile(abused.endToEnd, 99))}`);
    console.log(`  messages sent (lost)                    ${baseline.sent} (${baseline.lost})          ${abused.sent} (${abused.lost})`);
    console.log(`server RSS before / during (max) / after   ${mib(before.rss)} / ${mib(during.rss)} / ${mib(after.rss)} MiB`);
    console.log(`server heap before / during (max) / after  ${mib(before.heap)} / ${mib(during.heap)} / ${mib(after.heap)} MiB`);
    console.log(`connections held (max)                    ${during.connections} (idle still open at the end: ${idleHeld} of ${opts.connections}; non-readers: ${readersHeld} of ${opts.nonReaders})`);
    console.log(`slowloris dropped by the server           ${lorisesDropped}`);
    console.log(`2 GiB claims closed by the server         ${claimed}`);
  } finally {
    served.child.kill('SIGTERM');
    await new Promise((r) => served.child.once('exit', r));
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

interface AbuseOutcome {
  claimed: number;
  idleHeld: number;
  readersHeld: number;
  lorisesDropped: number;
}

/** Starts the abusive clients in a worker thread; resolves once they are all connected. */
function startAbuse(port: number): Promise<{ stop: () => Promise<AbuseOutcome> }> {
  // The worker loads this file through tsx's CommonJS hook (the --import of the main thread does not reach workers).
  const worker = new Worker(`require('tsx/cjs'); require(${JSON.stringify(__filename)});`, { eval: true, workerData: { port, opts } });
  return new Promise((resolve, reject) => {
    worker.once('error', reject);
    worker.once('message', () =>
      resolve({
        stop: () =>
          new Promise((done) => {
            worker.once('message', (outcome: AbuseOutcome) => void worker.terminate().then(() => done(outcome)));
            worker.postMessage('stop');
          }),
      }),
    );
  });
}

/** The worker's part: open every abusive client, say so, and on 'stop' close them and report. */
async function abuseInWorker(): Promise<void> {
  const { port } = workerData as { port: number };
  const abusers: Abusers[] = [];
  abusers.push(await idleConnections(port, opts.connections));
  abusers.push(await nonReaders(port, opts.nonReaders, 'big', 32));
  const lorises = slowloris(port, opts.slowloris, 100, true);
  abusers.push(lorises);
  const claims = keepClaiming(port, opts.claims);
  parentPort!.postMessage('ready');
  parentPort!.once('message', async () => {
    const claimed = await claims.stop();
    const outcome: AbuseOutcome = { claimed, idleHeld: abusers[0].open, readersHeld: abusers[1].open, lorisesDropped: lorises.closedByServer };
    await Promise.all(abusers.map((a) => a.close()));
    parentPort!.postMessage(outcome);
  });
}

if (isMainThread) {
  main().then(
    () => process.exit(0),
    (e: Error) => {
      console.error(e.message);
      process.exit(1);
    },
  );
} else {
  void abuseInWorker();
}
