/**
 * Metrics: a broker served to kcat (produce with acks -1, consume with zero-copy fetch) and used
 * in-process (an ack-model group that dead-letters one message), scraped over HTTP. The text is
 * read with a strict Prometheus text-format parser (and promtool where installed), and its
 * values are the broker's describe() and the server's stats(): messages and bytes in and out per
 * partition, offsets, lag and dead letters per group, confirm latency and sync round histograms,
 * connections, requests per API, fetch bytes zero-copy vs copied, process metrics. /health and
 * /explain answer as documented; bad queries and paths get 4xx, never a crash.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { Broker } from '../../lib/broker/broker';
import { Server } from '../../lib/kafka';
import { MetricsServer } from '../../lib/metrics/metrics-server';
import { SLUICE_METRIC_NAMES } from '../../lib/metrics/sluice-metrics';
import { parsePrometheusText, promtoolCheck, type Family } from '../helpers/prometheus-text';
import { tmpDir } from '../helpers/tmp';

const run = promisify(execFile);
const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function started(): Promise<{ broker: Broker; server: Server; metrics: MetricsServer; url: string; kafka: string }> {
  const broker = await Broker.open(tmpDir());
  cleanup.push(() => broker.close());
  const server = await Server.start({ broker, port: 0, groupInitialRebalanceDelayMs: 0 });
  cleanup.push(() => server.close());
  const metrics = await MetricsServer.start({ broker, server, port: 0 });
  cleanup.push(() => metrics.close());
  return { broker, server, metrics, url: `http://127.0.0.1:${metrics.address.port}`, kafka: `127.0.0.1:${server.address.port}` };
}

function value(f: Map<string, Family>, name: string, labels: Record<string, string> = {}, sample = name): number | undefined {
  const fam = f.get(name);
  const s = fam?.samples.find((x) => x.name === sample && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  return s?.value;
}

async function scrape(url: string): Promise<{ text: string; families: Map<string, Family>; type: string | null }> {
  const res = await fetch(`${url}/metrics`);
  expect(res.status).toBe(200);
  const text = await res.text();
  return { text, families: parsePrometheusText(text), type: res.headers.get('content-type') };
}

describe('sluice metrics', () => {
  it('exports the broker and server figures in the Prometheus text format', async () => {
    const { broker, server, url, kafka } = await started();
    await broker.createTopic('k', { partitions: 1, sync: 'always' });
    const lines = Array.from({ length: 50 }, (_, i) => `line-${i}`).join('\n');
    await run('sh', ['-c', `printf '%s\\n' "$LINES" | kcat -P -b ${kafka} -t k -X acks=-1`], { env: { ...process.env, LINES: lines } });
    const { stdout } = await run('kcat', ['-C', '-b', kafka, '-t', 'k', '-o', 'beginning', '-e', '-q']);
    expect(stdout.trim().split('\n')).toHaveLength(50);

    // In-process: an ack-model group rejects one message (dead-lettered to q.dlq), acks the other.
    await broker.createTopic('q', { partitions: 1, sync: 'always' });
    await broker.sendBatch('q', [{ value: 'bad' }, { value: 'good' }]);
    const c = broker.consumer({ group: 'workers', topics: 'q', model: 'ack' });
    cleanup.push(() => c.close());
    const got = await c.poll(2, { timeoutMs: 5000 });
    expect(got).toHaveLength(2);
    got[0].reject({ reason: 'unparseable' });
    await got[1].ack();
    for (let i = 0; i < 200 && broker.describeGroup('workers').deadLetters === 0; i++) await new Promise((r) => setTimeout(r, 10));

    const { text, families: f, type } = await scrape(url);
    expect(type).toContain('text/plain');
    for (const name of SLUICE_METRIC_NAMES) expect(f.has(name), name).toBe(true);
    const k0 = { topic: 'k', partition: '0' };
    const d = broker.describeTopic('k').partitions[0];
    expect(value(f, 'sluice_partition_messages_in_total', k0)).toBe(50);
    expect(value(f, 'sluice_partition_bytes_in_total', k0)).toBe(d.bytesIn);
    expect(d.bytesIn).toBeGreaterThan(50 * 'line-0'.length);
    expect(value(f, 'sluice_partition_end_offset', k0)).toBe(50);
    expect(value(f, 'sluice_partition_start_offset', k0)).toBe(0);
    expect(value(f, 'sluice_partition_durable_offset', k0)).toBe(50);
    expect(value(f, 'sluice_partition_failed', k0)).toBe(0);
    expect(value(f, 'sluice_partition_messages_out_total', k0)).toBeGreaterThanOrEqual(50);
    expect(value(f, 'sluice_partition_bytes_out_total', k0)).toBeGreaterThan(0);
    expect(value(f, 'sluice_topic_messages', { topic: 'k' })).toBe(50);

    // Durability: kcat's produce confirmed after a sync round; both are histograms in seconds.
    expect(value(f, 'sluice_confirm_latency_seconds', { topic: 'k' }, 'sluice_confirm_latency_seconds_count')).toBeGreaterThanOrEqual(1);
    const syncs = value(f, 'sluice_sync_duration_seconds', { topic: 'k' }, 'sluice_sync_duration_seconds_count')!;
    expect(syncs).toBeGreaterThanOrEqual(1);
    expect(value(f, 'sluice_sync_duration_seconds', { topic: 'k', le: '+Inf' }, 'sluice_sync_duration_seconds_bucket')).toBe(syncs);
    expect(value(f, 'sluice_sync_duration_seconds', { topic: 'k' }, 'sluice_sync_duration_seconds_sum')).toBeGreaterThan(0);

    // Groups: the ack group dead-lettered one message and has nothing left to do.
    expect(value(f, 'sluice_group_dead_letters_total', { group: 'workers' })).toBe(1);
    expect(value(f, 'sluice_group_lag', { group: 'workers', topic: 'q', partition: '0' })).toBe(0);
    expect(value(f, 'sluice_group_members', { group: 'workers' })).toBe(1);
    // The dead letter and the commit marker of the transaction that moved it.
    expect(value(f, 'sluice_partition_messages_in_total', { topic: 'q.dlq', partition: '0' })).toBe(2);

    // The Kafka server: two kcat connections (at least), requests per API, zero-copy fetch.
    const stats = server.stats();
    expect(value(f, 'sluice_server_connections_accepted_total')).toBeGreaterThanOrEqual(2);
    expect(value(f, 'sluice_server_requests_total', { api: 'Produce' })).toBeGreaterThanOrEqual(1);
    expect(value(f, 'sluice_server_requests_total', { api: 'Fetch' })).toBeGreaterThanOrEqual(1);
    const metadata = stats.requests.find((r) => r.api === 'Metadata')!;
    expect(value(f, 'sluice_server_requests_total', { api: 'Metadata' })).toBe(metadata.count);
    expect(value(f, 'sluice_server_request_duration_seconds', { api: 'Metadata' }, 'sluice_server_request_duration_seconds_count')).toBe(metadata.count + metadata.errors);
    expect(value(f, 'sluice_fetch_bytes_total', { mode: 'zero_copy' })).toBe(stats.fetchBytesZeroCopy);
    expect(stats.fetchBytesZeroCopy + stats.fetchBytesCopied).toBeGreaterThan(0);
    expect(value(f, 'sluice_fetch_bytes_total', { mode: 'copied' })).toBe(stats.fetchBytesCopied);

    // The Node process's own (prom-client's defaults).
    expect(value(f, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(f.has('nodejs_eventloop_lag_seconds')).toBe(true);

    // promtool's lint: nothing about Sluice's metrics (prom-client's nodejs_active_*_total gauges it does flag).
    const lint = promtoolCheck(text);
    if (lint !== null) expect(lint.output.split('\n').filter((l) => l.startsWith('sluice_') || /error/i.test(l))).toEqual([]);
  });

  it('answers /health, /explain and bad requests', async () => {
    const { broker, url } = await started();
    await broker.createTopic('t', { partitions: 2 });
    const [confirm] = await broker.sendBatch('t', [{ value: 'x', partition: 1 }]);
    const c = broker.consumer({ group: 'g', topics: 't' });
    cleanup.push(() => c.close());

    const health = await fetch(`${url}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok', failed: [] });

    const ex = await fetch(`${url}/explain?topic=t&group=g&partition=1&offset=${confirm.offset}`);
    expect(ex.status).toBe(200);
    const body = await ex.json();
    expect(body).toEqual(JSON.parse(JSON.stringify(broker.explain({ topic: 't', group: 'g', partition: 1, offset: confirm.offset }))));
    expect(body).toMatchObject({ topic: 't', partition: 1, offset: confirm.offset, group: 'g' });

    const bad: [string, number, RegExp][] = [
      ['/explain?topic=t&partition=1&offset=0', 400, /group is required/],
      ['/explain?topic=t&group=g&partition=1', 400, /partition and offset, or delayId/],
      ['/explain?topic=t&group=g&partition=x&offset=0', 400, /partition must be a non-negative integer/],
      ['/explain?topic=t&group=g&partition=1&offset=0&extra=1', 400, /unknown parameter "extra"/],
      ['/explain?topic=nope&group=g&partition=0&offset=0', 400, /nope/],
      ['/explain?topic=t&group=g&partition=9&offset=0', 400, /partition/],
      ['/nothing', 404, /try \/metrics/],
    ];
    for (const [path, status, error] of bad) {
      const res = await fetch(`${url}${path}`);
      expect(res.status, path).toBe(status);
      expect(((await res.json()) as { error: string }).error, path).toMatch(error);
    }
    const post = await fetch(`${url}/metrics`, { method: 'POST' });
    expect(post.status).toBe(405);
    const head = await fetch(`${url}/metrics`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    // Still serving after all that.
    expect((await fetch(`${url}/health`)).status).toBe(200);
  });

  it('works without a Kafka server (an embedded broker) and reports no server series', async () => {
    const broker = await Broker.open(tmpDir());
    cleanup.push(() => broker.close());
    const metrics = await MetricsServer.start({ broker, port: 0 });
    cleanup.push(() => metrics.close());
    await broker.createTopic('t', { partitions: 1, sync: 'interval' });
    await broker.send('t', { value: 'a' });
    const { families: f } = await scrape(`http://127.0.0.1:${metrics.address.port}`);
    expect(value(f, 'sluice_partition_messages_in_total', { topic: 't', partition: '0' })).toBe(1);
    expect(f.get('sluice_server_connections')!.samples).toEqual([]);
  });
});
