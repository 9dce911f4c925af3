/**
 * Sluice's Prometheus metrics: a prom-client Registry holding the Node process's default metrics
 * (CPU, RSS, open file descriptors, event-loop lag, GC) and Sluice's own, read on each scrape
 * from broker.describe() and, when a Kafka server runs, server.stats(): one snapshot per scrape,
 * so every series of a scrape comes from the same moment.
 *
 *   per topic and partition   messages and bytes in and out (counters), start, end, high
 *                             watermark and durable offsets, failed (0/1)
 *   per topic                 retained messages, backlog, confirm latency and sync round
 *                             duration (histograms, seconds)
 *   per group                 lag, in flight, redeliveries per topic and partition; dead
 *                             letters and members per group
 *   broker                    delayed and half messages pending
 *   Kafka server              connections open, accepted, refused (at connectionsMax, per IP),
 *                             dropped, throttled now; request bytes buffered; requests, failures and latency per API;
 *                             requests throttled and throttle time per quota; fetch bytes sent
 *                             zero-copy and copied; members per Kafka consumer group
 *
 * Names follow Prometheus conventions (sluice_ prefix, _total counters, base units: bytes,
 * seconds). The histograms are the engine's power-of-two microsecond buckets
 * (storage/duration-histogram.ts), exported cumulatively with le in seconds.
 */
import { collectDefaultMetrics, Registry, type Metric } from 'prom-client';
import type { Broker } from '../broker/broker';
import type { BrokerDescription } from '../broker/describe';
import type { Server, ServerStats } from '../kafka/server';
import { bucketUpperMs, type DurationSnapshot } from '../storage/duration-histogram';

type Labels = Record<string, string | number>;
interface Sample {
  value: number;
  labels: Labels;
  metricName?: string;
}
interface Snapshot {
  broker: BrokerDescription;
  server: ServerStats | null;
}
type Type = 'counter' | 'gauge' | 'histogram';

/** What one metric takes from a snapshot. */
interface Definition {
  name: string;
  help: string;
  type: Type;
  samples(s: Snapshot): Sample[];
}

/** A histogram's samples: cumulative buckets (le in seconds), then _sum and _count. */
export function histogramSamples(name: string, h: DurationSnapshot, labels: Labels): Sample[] {
  const out: Sample[] = [];
  let cumulative = 0;
  for (let i = 0; i < h.counts.length; i++) {
    cumulative += h.counts[i];
    const le = bucketUpperMs(i);
    out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: le === Infinity ? '+Inf' : le / 1000 }, value: cumulative });
  }
  out.push({ metricName: `${name}_sum`, labels, value: h.sumMs / 1000 });
  out.push({ metricName: `${name}_count`, labels, value: h.count });
  return out;
}

const perPartition = (field: 'messagesIn' | 'bytesIn' | 'messagesOut' | 'bytesOut' | 'startOffset' | 'endOffset' | 'highWatermark' | 'durableOffset') => (s: Snapshot): Sample[] =>
  s.broker.topics.flatMap((t) => t.partitions.map((p) => ({ labels: { topic: t.name, partition: p.partition }, value: p[field] })));

const perGroupPartition = (field: 'lag' | 'inFlight' | 'redeliveries') => (s: Snapshot): Sample[] =>
  s.broker.groups.flatMap((g) => g.partitions.map((p) => ({ labels: { group: g.name, topic: p.topic, partition: p.partition }, value: p[field] })));

const ofServer = (f: (x: ServerStats) => Sample[]) => (s: Snapshot): Sample[] => (s.server === null ? [] : f(s.server));

const DEFINITIONS: Definition[] = [
  { name: 'sluice_partition_messages_in_total', help: 'Offsets appended to the partition since the broker opened (messages and transaction markers).', type: 'counter', samples: perPartition('messagesIn') },
  { name: 'sluice_partition_bytes_in_total', help: 'Bytes appended to the partition log since the broker opened (records in their RecordBatch framing, as stored).', type: 'counter', samples: perPartition('bytesIn') },
  { name: 'sluice_partition_messages_out_total', help: 'Messages read out for consumers: in-process deliveries (redeliveries included) and Kafka fetch responses.', type: 'counter', samples: perPartition('messagesOut') },
  { name: 'sluice_partition_bytes_out_total', help: 'Bytes read out for consumers: key and value bytes of in-process deliveries, batch bytes of Kafka fetches.', type: 'counter', samples: perPartition('bytesOut') },
  { name: 'sluice_partition_start_offset', help: 'The first offset the partition retains.', type: 'gauge', samples: perPartition('startOffset') },
  { name: 'sluice_partition_end_offset', help: 'The offset the next message appended to the partition gets.', type: 'gauge', samples: perPartition('endOffset') },
  { name: 'sluice_partition_high_watermark', help: 'Offsets below it are readable.', type: 'gauge', samples: perPartition('highWatermark') },
  { name: 'sluice_partition_durable_offset', help: 'Offsets below it are on stable storage.', type: 'gauge', samples: perPartition('durableOffset') },
  {
    name: 'sluice_partition_failed',
    help: '1 when the partition stopped taking writes after a failed write or sync (fail-stop; broker.reopenPartition or SIGHUP to sluice serve resumes), else 0.',
    type: 'gauge',
    samples: (s) => s.broker.topics.flatMap((t) => t.partitions.map((p) => ({ labels: { topic: t.name, partition: p.partition }, value: p.failure === null ? 0 : 1 }))),
  },
  { name: 'sluice_topic_messages', help: 'Messages the topic retains, all partitions together.', type: 'gauge', samples: (s) => s.broker.topics.map((t) => ({ labels: { topic: t.name }, value: t.messages })) },
  { name: 'sluice_topic_backlog', help: 'What the slowest group tracking the topic has not consumed (every retained message if none does).', type: 'gauge', samples: (s) => s.broker.topics.map((t) => ({ labels: { topic: t.name }, value: t.backlog })) },
  {
    name: 'sluice_confirm_latency_seconds',
    help: "From a confirm request to its settling: durable for sync 'always' topics, visible (sealed and written) for the others.",
    type: 'histogram',
    samples: (s) => s.broker.topics.flatMap((t) => histogramSamples('sluice_confirm_latency_seconds', t.confirmLatency, { topic: t.name })),
  },
  {
    name: 'sluice_sync_duration_seconds',
    help: "Each flusher sync round of the topic's partitions (fdatasync or msync, directory fsyncs, index and metadata writes).",
    type: 'histogram',
    samples: (s) => s.broker.topics.flatMap((t) => histogramSamples('sluice_sync_duration_seconds', t.syncDuration, { topic: t.name })),
  },
  { name: 'sluice_group_lag', help: 'Messages the group has yet to consume of what the partition retains.', type: 'gauge', samples: perGroupPartition('lag') },
  { name: 'sluice_group_in_flight', help: 'Messages handed to the group and not yet processed (offset model) or acked or nacked (ack model).', type: 'gauge', samples: perGroupPartition('inFlight') },
  { name: 'sluice_group_redeliveries_total', help: 'Deliveries of a message after its first.', type: 'counter', samples: perGroupPartition('redeliveries') },
  { name: 'sluice_group_dead_letters_total', help: 'Messages the group sent to dead-letter topics since the broker opened.', type: 'counter', samples: (s) => s.broker.groups.map((g) => ({ labels: { group: g.name }, value: g.deadLetters })) },
  { name: 'sluice_group_members', help: 'In-process consumers of the group.', type: 'gauge', samples: (s) => s.broker.groups.map((g) => ({ labels: { group: g.name }, value: g.members.length })) },
  { name: 'sluice_delayed_messages', help: 'Delayed messages waiting in the delay store.', type: 'gauge', samples: (s) => (s.broker.delayed === null ? [] : [{ labels: {}, value: s.broker.delayed.pending }]) },
  { name: 'sluice_half_messages', help: 'Half messages prepared and not yet committed or rolled back.', type: 'gauge', samples: (s) => (s.broker.half === null ? [] : [{ labels: {}, value: s.broker.half.pending }]) },
  { name: 'sluice_server_connections', help: 'Kafka protocol connections open.', type: 'gauge', samples: ofServer((x) => [{ labels: {}, value: x.connections }]) },
  { name: 'sluice_server_connections_accepted_total', help: 'Kafka protocol connections accepted.', type: 'counter', samples: ofServer((x) => [{ labels: {}, value: x.connectionsAccepted }]) },
  { name: 'sluice_server_connections_refused_total', help: 'Connections closed at once because the connection limit was reached.', type: 'counter', samples: ofServer((x) => [{ labels: {}, value: x.connectionsRefused }]) },
  { name: 'sluice_server_connections_refused_per_ip_total', help: 'Connections closed at once because their IP address had its connection limit (connectionsPerIpMax or an override) open.', type: 'counter', samples: ofServer((x) => [{ labels: {}, value: x.connectionsRefusedPerIp }]) },
  { name: 'sluice_server_request_bytes_buffered', help: 'Bytes of Kafka request frames read and not yet handled, all connections together (bounded by requestBufferBytesMax).', type: 'gauge', samples: ofServer((x) => [{ labels: {}, value: x.requestBytesBuffered }]) },
  { name: 'sluice_server_connections_throttled', help: 'Connections muted now (nothing read from them) for a quota throttle time.', type: 'gauge', samples: ofServer((x) => [{ labels: {}, value: x.connectionsThrottled }]) },
  {
    name: 'sluice_server_throttled_requests_total',
    help: 'Requests answered with a throttle time because the client was over its byte-rate quota, per quota (produce, fetch).',
    type: 'counter',
    samples: ofServer((x) => (['produce', 'fetch'] as const).map((q) => ({ labels: { quota: q }, value: x.quotas.throttledRequests[q] }))),
  },
  {
    name: 'sluice_server_throttle_seconds_total',
    help: 'Throttle time given to clients over their byte-rate quota, summed, per quota (produce, fetch).',
    type: 'counter',
    samples: ofServer((x) => (['produce', 'fetch'] as const).map((q) => ({ labels: { quota: q }, value: x.quotas.throttleTimeMs[q] / 1000 }))),
  },
  { name: 'sluice_server_connections_dropped_total', help: 'Connections the server closed for a problem: a malformed request, a limit, a timeout.', type: 'counter', samples: ofServer((x) => [{ labels: {}, value: x.connectionsDropped }]) },
  { name: 'sluice_server_group_members', help: 'Members of each Kafka consumer group the server coordinates (state: its rebalance state).', type: 'gauge', samples: ofServer((x) => x.groups.map((g) => ({ labels: { group: g.group, state: g.state }, value: g.members }))) },
  { name: 'sluice_server_requests_total', help: 'Kafka requests handled, per API.', type: 'counter', samples: ofServer((x) => x.requests.map((r) => ({ labels: { api: r.api }, value: r.count }))) },
  { name: 'sluice_server_request_errors_total', help: 'Kafka requests whose handling failed (the connection was dropped), per API.', type: 'counter', samples: ofServer((x) => x.requests.map((r) => ({ labels: { api: r.api }, value: r.errors }))) },
  {
    name: 'sluice_server_request_duration_seconds',
    help: 'From a whole request frame read to its response ready to write, per API (long-polling fetches include their wait).',
    type: 'histogram',
    samples: ofServer((x) => x.requests.flatMap((r) => histogramSamples('sluice_server_request_duration_seconds', r.latency, { api: r.api }))),
  },
  {
    name: 'sluice_server_zero_copy',
    help: 'Whether fetches may send records with sendfile (1) or copy them (0); reason: none, or why not (tls, disabled, platform).',
    type: 'gauge',
    samples: ofServer((x) => [{ labels: { reason: x.zeroCopyOff ?? 'none' }, value: x.zeroCopy ? 1 : 0 }]),
  },
  {
    name: 'sluice_server_authentications_total',
    help: 'SASL authentications, by result (succeeded or failed).',
    type: 'counter',
    samples: ofServer((x) => [
      { labels: { result: 'succeeded' }, value: x.authenticationsSucceeded },
      { labels: { result: 'failed' }, value: x.authenticationsFailed },
    ]),
  },
  {
    name: 'sluice_fetch_bytes_total',
    help: 'Record bytes Kafka fetches sent, by how: zero_copy (sendfile from the segment file) or copied (read and written: TLS, probes of a full socket, no sendfile).',
    type: 'counter',
    samples: ofServer((x) => [
      { labels: { mode: 'zero_copy' }, value: x.fetchBytesZeroCopy },
      { labels: { mode: 'copied' }, value: x.fetchBytesCopied },
    ]),
  },
];

/** The names of Sluice's own metrics (for the README and the tests). */
export const SLUICE_METRIC_NAMES: readonly string[] = DEFINITIONS.map((d) => d.name);

export class SluiceMetrics {
  readonly registry = new Registry();
  readonly #broker: Broker;
  readonly #server: Server | null;
  #snapshot: Snapshot | null = null;

  constructor(broker: Broker, server: Server | null = null) {
    this.#broker = broker;
    this.#server = server;
    collectDefaultMetrics({ register: this.registry });
    for (const d of DEFINITIONS) this.registry.registerMetric(this.#metric(d));
  }

  /** The Prometheus text exposition of every metric, from one snapshot of the broker and server. */
  async text(): Promise<string> {
    this.#snapshot = { broker: this.#broker.describe(), server: this.#server?.stats() ?? null };
    try {
      return await this.registry.metrics();
    } finally {
      this.#snapshot = null;
    }
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  // The registry's own metric protocol: a name, help, type and a get() of the values.
  #metric(d: Definition): Metric<string> {
    const get = () => {
      const s = this.#snapshot;
      return { name: d.name, help: d.help, type: d.type, aggregator: 'sum', values: s === null ? [] : d.samples(s) };
    };
    return { name: d.name, help: d.help, type: d.type, aggregator: 'sum', get } as unknown as Metric<string>;
  }
}
