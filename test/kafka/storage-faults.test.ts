/**
 * Storage faults at the Kafka-compatible server. `sluice serve`'s serve() runs in a child process
 * with SLUICE_FAULT_INJECTION=1 (test/helpers/serve-fault-child.cjs), which arms native faults on
 * one partition's directory only (the path-targeted arming of lib/storage/fault-injection.ts), so
 * the other partitions of the process keep their disk. Each test checks, from outside as a client
 * would: the producer of the failed partition gets KAFKA_STORAGE_ERROR (kafkajs with retries: 0,
 * kcat with retries=0, and the raw code through the wire), the other topic keeps taking writes and
 * serving fetches, the process stays up, Metadata and the metrics say which partition failed,
 * SIGHUP reopens it, producing resumes, and after shutdown every acknowledged record is in the
 * data directory exactly once. Waits poll with generous deadlines: nothing asserts a timing.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { afterEach, describe, expect, it } from 'vitest';
import { Broker } from '../../lib/broker/broker';
import { KafkaError } from '../../lib/kafka/protocol/error-codes';
import { decodeMetadataResponse, decodeProduceResponse, encodeMetadataRequest, encodeProduceRequest } from '../../lib/kafka/protocol/generated';
import { encodeBatch } from '../helpers/kafka-batch-encoder';
import { exchange } from '../helpers/kafka-wire';
import { parsePrometheusText } from '../helpers/prometheus-text';
import { tmpDir } from '../helpers/tmp';

const CHILD = path.join(__dirname, '..', 'helpers', 'serve-fault-child.cjs');
const DEADLINE_MS = 30_000;
const run = promisify(execFile);

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f().catch(() => {});
});

interface Serve {
  child: ChildProcess;
  address: string;
  port: number;
  metricsUrl: string;
  output: () => string;
  /** Resolves once the output (from `from` on) matches `pattern`. */
  waitFor: (pattern: RegExp, from?: number) => Promise<RegExpExecArray>;
  command: (line: string, reply: string) => Promise<void>;
  exited: Promise<number | null>;
}

async function startServe(data: string): Promise<Serve> {
  const child = spawn(process.execPath, [CHILD, data], { env: { ...process.env, SLUICE_FAULT_INJECTION: '1' }, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  const listeners = new Set<() => void>();
  const onData = (d: Buffer): void => {
    out += d.toString();
    for (const l of [...listeners]) l();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  cleanup.push(async () => {
    if (child.exitCode === null) child.kill('SIGKILL');
    await exited;
  });
  const waitFor = (pattern: RegExp, from = 0): Promise<RegExpExecArray> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => done(new Error(`gave up waiting for ${pattern}; output:\n${out}`)), DEADLINE_MS);
      const check = (): void => {
        const m = pattern.exec(out.slice(from));
        if (m !== null) done(null, m);
      };
      const done = (err: Error | null, m?: RegExpExecArray): void => {
        clearTimeout(timer);
        listeners.delete(check);
        if (err !== null) reject(err);
        else resolve(m!);
      };
      listeners.add(check);
      check();
    });
  const [, address] = await waitFor(/listening on (\S+)/);
  const [, metricsUrl] = await waitFor(/metrics on (http:\/\/\S+)\/metrics/);
  const command = async (line: string, reply: string): Promise<void> => {
    const from = out.length;
    child.stdin!.write(`${line}\n`);
    await waitFor(new RegExp(`^${reply}$`, 'm'), from);
  };
  return { child, address, port: Number(address.split(':')[1]), metricsUrl, output: () => out, waitFor, command, exited };
}

/** A data directory with topics made before serving (so that no fault strikes their creation). */
async function dataWith(topics: Record<string, { segmentBytes?: number }>): Promise<string> {
  const data = tmpDir('sluice-server-faults-');
  const broker = await Broker.open(data);
  for (const [name, config] of Object.entries(topics)) await broker.createTopic(name, { sync: 'always', ...config });
  await broker.close();
  return data;
}

/** Every value in a topic's partition 0, read from the data directory after the server is gone. */
async function valuesIn(data: string, topic: string): Promise<string[]> {
  const broker = await Broker.open(data);
  try {
    const p = broker.partition(topic, 0);
    const values: string[] = [];
    for (let offset = 0; ; ) {
      const { records, nextOffset } = p.read(offset, 1000);
      if (records.length === 0) break;
      for (const r of records) values.push(r.value!.toString());
      offset = nextOffset;
    }
    return values;
  } finally {
    await broker.close();
  }
}

/** One raw Produce (v8, acks -1) of `values` as one batch: the partition's error code and base offset. */
async function rawProduce(port: number, topic: string, values: string[]): Promise<{ errorCode: number; baseOffset: number; errorMessage: string | null }> {
  const records = encodeBatch(values.map((value) => ({ value })), { baseTimestamp: Date.now() });
  const res = await exchange(port, 0, 8, encodeProduceRequest, decodeProduceResponse, { transactionalId: null, acks: -1, timeoutMs: 10_000, topicData: [{ name: topic, partitionData: [{ index: 0, records }] }] });
  return res.responses[0].partitionResponses[0];
}

async function offlineReplicas(port: number, topic: string): Promise<{ errorCode: number; leaderId: number; offlineReplicas: number[] }> {
  const res = await exchange(port, 3, 5, encodeMetadataRequest, decodeMetadataResponse, { topics: [{ name: topic }], allowAutoTopicCreation: false });
  const p = res.topics[0].partitions[0];
  return { errorCode: p.errorCode, leaderId: p.leaderId, offlineReplicas: p.offlineReplicas };
}

/** The failed-partition gauge of each topic, and /health's status code. */
async function health(metricsUrl: string): Promise<{ status: number; failed: Record<string, number> }> {
  const f = parsePrometheusText(await (await fetch(`${metricsUrl}/metrics`)).text());
  const failed: Record<string, number> = {};
  for (const s of f.get('sluice_partition_failed')!.samples) failed[s.labels.topic] = s.value;
  return { status: (await fetch(`${metricsUrl}/health`)).status, failed };
}

/** Produce requests the server has handled so far (its request counter). */
async function produceRequests(metricsUrl: string): Promise<number> {
  const f = parsePrometheusText(await (await fetch(`${metricsUrl}/metrics`)).text());
  return f.get('sluice_server_requests_total')!.samples.find((x) => x.labels.api === 'Produce')?.value ?? 0;
}

/** Polls `condition` until it holds; the deadline only turns a hang into a failure. */
async function until(what: string, condition: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + DEADLINE_MS;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Everything kcat reads from a topic's start to its end, one value a line. */
async function kcatValues(address: string, topic: string): Promise<string[]> {
  const { stdout } = await run('kcat', ['-b', address, '-C', '-t', topic, '-p', '0', '-o', 'beginning', '-e', '-q', '-f', '%s\\n']);
  return stdout.split('\n').filter((l) => l.length > 0);
}

function kafkajsProducer(address: string): Producer {
  const kafka = new Kafka({ clientId: 'faults', brokers: [address], logLevel: logLevel.NOTHING, retry: { retries: 0 } });
  const producer = kafka.producer({ retry: { retries: 0 }, allowAutoTopicCreation: false });
  cleanup.push(() => producer.disconnect());
  return producer;
}

/** What a send did: 'ok', or the Kafka error type kafkajs surfaced. */
async function sendOutcome(producer: Producer, topic: string, values: string[]): Promise<string> {
  try {
    await producer.send({ topic, acks: -1, messages: values.map((value) => ({ value, partition: 0 })) });
    return 'ok';
  } catch (e) {
    const err = e as { type?: string; cause?: { type?: string }; name?: string };
    return err.type ?? err.cause?.type ?? err.name ?? String(e);
  }
}

/** SIGHUP, then the line serve prints for it. */
async function hangUp(s: Serve, pattern: RegExp): Promise<string> {
  const from = s.output().length;
  s.child.kill('SIGHUP');
  return (await s.waitFor(pattern, from))[0];
}

async function stop(s: Serve): Promise<void> {
  s.child.kill('SIGTERM');
  expect(await s.exited).toBe(0);
}

/** The smallest segment a topic takes: a roll every ~60 records of 1 KB. */
const SMALL_SEGMENT = 65536;

/** Produces `values` with kcat (librdkafka) at acks -1 with no retries: whether any delivery failed, and what it said. */
async function kcatProduce(address: string, topic: string, values: string[], settings = ['-X', 'retries=0', '-X', 'message.timeout.ms=10000']): Promise<{ failed: boolean; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile('kcat', ['-b', address, '-P', '-t', topic, '-p', '0', '-X', 'acks=all', ...settings], (err, _stdout, stderr) => {
      resolve({ failed: err !== null || /Delivery failed|ERROR/.test(stderr), stderr });
    });
    child.stdin!.end(values.map((v) => `${v}\n`).join(''));
  });
}

const range = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

describe('storage faults at the Kafka server', () => {
  it('a failed fsync: kafkajs gets KAFKA_STORAGE_ERROR for that partition only, and SIGHUP reopens it', async () => {
    const data = await dataWith({ fragile: {}, sturdy: {} });
    const s = await startServe(data);
    const producer = kafkajsProducer(s.address);
    await producer.connect();
    expect(await sendOutcome(producer, 'fragile', range('f', 5))).toBe('ok');
    expect(await sendOutcome(producer, 'sturdy', range('s', 5))).toBe('ok');

    await s.command('arm sync EIO 1 topics/fragile/0', 'armed');
    expect(await sendOutcome(producer, 'fragile', ['unacked'])).toBe('KAFKA_STORAGE_ERROR');
    // Fail-stop: the partition stays read-only although the fault is spent.
    const raw = await rawProduce(s.port, 'fragile', ['refused']);
    expect(raw.errorCode).toBe(KafkaError.KAFKA_STORAGE_ERROR);
    expect(raw.errorMessage).toMatch(/Input\/output error/);
    // The other topic takes writes and serves fetches; the failed one serves what it holds.
    expect(await sendOutcome(producer, 'sturdy', ['s5'])).toBe('ok');
    expect(await kcatValues(s.address, 'sturdy')).toEqual(range('s', 6));
    expect((await kcatValues(s.address, 'fragile')).slice(0, 5)).toEqual(range('f', 5));
    expect(await offlineReplicas(s.port, 'fragile')).toEqual({ errorCode: 0, leaderId: 0, offlineReplicas: [0] });
    expect(await offlineReplicas(s.port, 'sturdy')).toEqual({ errorCode: 0, leaderId: 0, offlineReplicas: [] });
    expect(await health(s.metricsUrl)).toEqual({ status: 503, failed: { fragile: 1, sturdy: 0 } });

    expect(await hangUp(s, /SIGHUP: reopened .*\n/)).toMatch(/^SIGHUP: reopened fragile\/0, taking writes from offset \d+ \(it had failed: .*Input\/output error.*\)/);
    expect(await health(s.metricsUrl)).toEqual({ status: 200, failed: { fragile: 0, sturdy: 0 } });
    expect(await offlineReplicas(s.port, 'fragile')).toMatchObject({ offlineReplicas: [] });
    expect(await sendOutcome(producer, 'fragile', ['after-reopen'])).toBe('ok');
    expect(await hangUp(s, /SIGHUP: .*\n/)).toBe('SIGHUP: no failed partitions\n');
    await producer.disconnect();
    await stop(s);

    // Every acknowledged record once; the unacknowledged one at most once (it reached the page
    // cache before the fsync failed, so the reopened log may hold it, as Kafka's would).
    const fragile = await valuesIn(data, 'fragile');
    expect(fragile.filter((v) => v !== 'unacked')).toEqual([...range('f', 5), 'after-reopen']);
    expect(fragile.filter((v) => v === 'unacked').length).toBeLessThanOrEqual(1);
    expect(await valuesIn(data, 'sturdy')).toEqual(range('s', 6));
  });

  it('a failed write (EIO): a kcat producer (acks -1) gets the storage error, and producing resumes after the reopen', async () => {
    const data = await dataWith({ fragile: {}, sturdy: {} });
    const s = await startServe(data);
    expect((await kcatProduce(s.address, 'fragile', range('f', 5))).failed).toBe(false);
    await s.command('arm write EIO 1 topics/fragile/0', 'armed');
    const failed = await kcatProduce(s.address, 'fragile', ['unwritten']);
    expect(failed.failed).toBe(true);
    expect(failed.stderr).toMatch(/KAFKA_STORAGE_ERROR|Disk error/);
    expect((await kcatProduce(s.address, 'sturdy', range('s', 3))).failed).toBe(false);
    expect(await kcatValues(s.address, 'sturdy')).toEqual(range('s', 3));
    // The batch that could not be written never became visible.
    expect(await kcatValues(s.address, 'fragile')).toEqual(range('f', 5));
    expect((await rawProduce(s.port, 'fragile', ['refused'])).errorCode).toBe(KafkaError.KAFKA_STORAGE_ERROR);
    expect(await health(s.metricsUrl)).toEqual({ status: 503, failed: { fragile: 1, sturdy: 0 } });

    expect(await hangUp(s, /SIGHUP: reopened .*\n/)).toMatch(/^SIGHUP: reopened fragile\/0, taking writes from offset 5 \(it had failed: .*pwrite.*\)/);
    expect((await kcatProduce(s.address, 'fragile', ['after-reopen'])).failed).toBe(false);
    expect(await health(s.metricsUrl)).toEqual({ status: 200, failed: { fragile: 0, sturdy: 0 } });
    await stop(s);
    expect(await valuesIn(data, 'fragile')).toEqual([...range('f', 5), 'after-reopen']);
    expect(await valuesIn(data, 'sturdy')).toEqual(range('s', 3));
  });

  it('a full disk at segment preallocation (ENOSPC): the storage error until space is back, then writes resume without a reopen', async () => {
    const data = await dataWith({ full: { segmentBytes: SMALL_SEGMENT }, sturdy: {} });
    const s = await startServe(data);
    // From here on no segment of "full" can be reserved (the next one may be ready already).
    await s.command('arm allocate ENOSPC 1000000 topics/full/0', 'armed');
    const big = (i: number): string => `v${i}`.padEnd(1000, '.');
    const acked: string[] = [];
    let refused: { errorCode: number; errorMessage: string | null } | null = null;
    for (let i = 0; refused === null && i < 1000; i++) {
      const r = await rawProduce(s.port, 'full', [big(i)]);
      if (r.errorCode === KafkaError.NONE) acked.push(big(i));
      else refused = r;
    }
    expect(refused).toMatchObject({ errorCode: KafkaError.KAFKA_STORAGE_ERROR, errorMessage: expect.stringMatching(/No space left on device/) });
    expect(acked.length).toBeGreaterThan(SMALL_SEGMENT / 1000 - 10);
    expect((await rawProduce(s.port, 'full', ['still full'])).errorCode).toBe(KafkaError.KAFKA_STORAGE_ERROR);
    expect((await rawProduce(s.port, 'sturdy', ['s0'])).errorCode).toBe(KafkaError.NONE);
    expect(await kcatValues(s.address, 'full')).toEqual(acked);
    // A full disk does not fail the log: nothing to reopen, no failed partition.
    expect(await health(s.metricsUrl)).toEqual({ status: 200, failed: { full: 0, sturdy: 0 } });
    expect(await hangUp(s, /SIGHUP: .*\n/)).toBe('SIGHUP: no failed partitions\n');

    await s.command('disarm allocate', 'disarmed');
    const after = range('after-', 100).map((v) => v.padEnd(1000, '.'));
    for (const v of after) expect((await rawProduce(s.port, 'full', [v])).errorCode).toBe(KafkaError.NONE);
    await stop(s);
    expect(await valuesIn(data, 'full')).toEqual([...acked, ...after]);
    expect(await valuesIn(data, 'sturdy')).toEqual(['s0']);
  });

  it('clients that retry get through once the partition is reopened: kcat, and a kafkajs idempotent producer stores its batch once', async () => {
    const data = await dataWith({ fragile: {}, sturdy: {} });
    const s = await startServe(data);
    const kafka = new Kafka({ clientId: 'retrying', brokers: [s.address], logLevel: logLevel.NOTHING });
    const producer = kafka.producer({ idempotent: true, allowAutoTopicCreation: false, retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 500 } });
    cleanup.push(() => producer.disconnect());
    await producer.connect();
    await producer.send({ topic: 'fragile', acks: -1, messages: range('f', 5).map((value) => ({ value, partition: 0 })) });

    // The fsync of this batch fails after its write: the partition fails with the batch in the
    // page cache, and the producer retries the same sequence number while it is read-only.
    await s.command('arm sync EIO 1 topics/fragile/0', 'armed');
    const retried = producer.send({ topic: 'fragile', acks: -1, messages: [{ value: 'retried', partition: 0 }] });
    await until('the partition failed', async () => (await health(s.metricsUrl)).failed.fragile === 1);
    // kcat (librdkafka) retries KAFKA_STORAGE_ERROR too (refreshing metadata between tries).
    const kcat = kcatProduce(s.address, 'fragile', ['kcat-retried'], ['-X', 'message.timeout.ms=60000']);
    const requestsBefore = await produceRequests(s.metricsUrl);
    await until('kcat tried', async () => (await produceRequests(s.metricsUrl)) > requestsBefore);
    expect(await hangUp(s, /SIGHUP: reopened .*\n/)).toMatch(/^SIGHUP: reopened fragile\/0/);
    await expect(retried).resolves.toEqual([expect.objectContaining({ errorCode: 0 })]);
    expect((await kcat).failed).toBe(false);
    await producer.disconnect();
    await stop(s);
    // The reopened log kept the batch whose fsync failed: the idempotent retry was answered from
    // it (the producer state is rebuilt from the reopened log), not stored a second time.
    const fragile = await valuesIn(data, 'fragile');
    expect(fragile.slice(0, 5)).toEqual(range('f', 5));
    expect(fragile.filter((v) => v === 'retried')).toEqual(['retried']);
    expect(fragile.filter((v) => v === 'kcat-retried')).toEqual(['kcat-retried']);
    expect(fragile).toHaveLength(7);
  });
});
