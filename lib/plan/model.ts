/**
 * The capacity model of `sluice plan`: pure formulas from a workload and host figures to verdicts.
 * Every figure carries its provenance (measured on this host, modelled from measured figures, or
 * assumed with a source) and a model that reaches beyond 2x the measured range says so.
 */
import type { PlanWorkload } from './workload';

export type Source = 'measured' | 'modelled' | 'assumed';

export interface Figure {
  value: number;
  unit: string;
  source: Source;
  /** The formula (modelled), the probe (measured) or the reference (assumed). */
  basis: string;
  /** min/max of the runs, for measured figures. */
  spread?: { min: number; max: number; runs: number };
  /** Set when the figure extrapolates beyond 2x what was measured. */
  extrapolated?: string;
}

export interface HostFigures {
  writeBytesPerSec: Figure;
  memcopyBytesPerSec: Figure;
  fdatasyncP99Ms: Figure;
  cores: Figure;
  memAvailableBytes: Figure;
  fdLimit: Figure;
  diskFreeBytes: Figure;
}

/** Assumed constants, each with its source. */
export const ASSUMED = {
  batchOverheadBytes: { value: 61, unit: 'B', source: 'assumed', basis: 'Kafka RecordBatch v2 header (61 B) per batch' } as Figure,
  recordOverheadBytes: { value: 10, unit: 'B', source: 'assumed', basis: 'Kafka record v2 varint framing, ~10 B per record without key/headers' } as Figure,
  segmentBytes: { value: 1 << 30, unit: 'B', source: 'assumed', basis: 'default segment size 1 GiB' } as Figure,
  fdsPerSegment: { value: 2, unit: 'fd', source: 'assumed', basis: 'one log + one index file open per segment' } as Figure,
  memPerPartitionBytes: { value: 1 << 20, unit: 'B', source: 'assumed', basis: 'index + buffers per partition, 1 MiB (unmeasured)' } as Figure,
  headroom: { value: 1.3, unit: 'x', source: 'assumed', basis: 'keep 30% spare on every resource (Redpanda/Confluent sizing guidance)' } as Figure,
  replicationFactor: { value: 3, unit: 'x', source: 'assumed', basis: 'RF 3, the usual production replication factor' } as Figure,
  brokerDiskBytesPerSec: { value: 500e6, unit: 'B/s', source: 'assumed', basis: 'one NVMe-backed broker, 500 MB/s sustained write' } as Figure,
  brokerNetBytesPerSec: { value: 1.25e9, unit: 'B/s', source: 'assumed', basis: '10 Gbit/s NIC per broker' } as Figure,
  brokerPartitionReplicas: { value: 4000, unit: 'replicas', source: 'assumed', basis: 'Kafka guidance: ≤ 4000 partition replicas per broker' } as Figure,
  brokerDiskBytes: { value: 4e12, unit: 'B', source: 'assumed', basis: '4 TB of disk per broker' } as Figure,
} as const;

/** A figure measured over runs: their median (the upper middle one of an even count), min and max. */
export function measuredRuns(xs: readonly number[], unit: string, basis: string): Figure {
  const s = [...xs].sort((a, b) => a - b);
  return { value: s[Math.floor(s.length / 2)], unit, source: 'measured', basis, spread: { min: s[0], max: s[s.length - 1], runs: s.length } };
}

/** The same measurement in another unit: value and spread times k (msg/s × bytes per message). */
export function scaledFigure(f: Figure, k: number, unit: string, basis: string): Figure {
  return { ...f, value: f.value * k, unit, basis, ...(f.spread ? { spread: { ...f.spread, min: f.spread.min * k, max: f.spread.max * k } } : {}) };
}

export function modelled(value: number, unit: string, basis: string): Figure {
  return { value, unit, source: 'modelled', basis };
}

/** Labels a modelled figure that reaches past 2x the measured range (loudly: it is in the basis). */
export function guardExtrapolation(f: Figure, needed: number, measuredMax: number): Figure {
  if (measuredMax > 0 && needed > 2 * measuredMax) {
    return { ...f, extrapolated: `EXTRAPOLATED: ${(needed / measuredMax).toFixed(1)}x the highest measured value (${measuredMax.toPrecision(3)}); do not trust without a measurement` };
  }
  return f;
}

export function storedBytesPerMessage(w: PlanWorkload, messagesPerBatch = 100): Figure {
  const v = w.messageSize + ASSUMED.recordOverheadBytes.value + ASSUMED.batchOverheadBytes.value / messagesPerBatch;
  return modelled(v, 'B', `messageSize + record overhead (${ASSUMED.recordOverheadBytes.value}) + batch header (${ASSUMED.batchOverheadBytes.value}) / ${messagesPerBatch} messages per batch`);
}

export function retentionBytes(w: PlanWorkload, perMessage: number): Figure {
  if ('bytes' in w.retention) return { value: w.retention.bytes, unit: 'B', source: 'modelled', basis: 'retention given in bytes' };
  return modelled(w.producerRate * perMessage * (w.retention.ms / 1000), 'B', 'producerRate × stored bytes/message × retention seconds');
}

export interface Needs {
  writeBytesPerSec: Figure;
  readBytesPerSec: Figure;
  diskBytes: Figure;
  memoryBytes: Figure;
  fds: Figure;
  /** Disk free ÷ write rate, when the free space is known. */
  timeToFullSeconds?: Figure;
}

/** Measured figures that replace assumed ones in needs() when the plan has them. */
export interface MeasuredInputs {
  /** Measured memory per partition (plan/memory-probe.ts); else ASSUMED.memPerPartitionBytes. */
  memPerPartitionBytes?: Figure;
  /** Free space on the data directory's filesystem, for the time to full. */
  diskFreeBytes?: Figure;
}

export function needs(w: PlanWorkload, load = 1, m: MeasuredInputs = {}): Needs {
  const per = storedBytesPerMessage(w).value;
  const partitions = w.topics * w.partitionsPerTopic;
  const disk = retentionBytes(w, per);
  const segments = partitions * Math.max(1, Math.ceil(disk.value / partitions / ASSUMED.segmentBytes.value) + 1);
  const mem = m.memPerPartitionBytes ?? ASSUMED.memPerPartitionBytes;
  const write = w.producerRate * load * per;
  return {
    writeBytesPerSec: modelled(write, 'B/s', `producerRate × ${load} × stored bytes/message`),
    readBytesPerSec: modelled(w.producerRate * load * per * w.subscriptionsPerTopic, 'B/s', 'write rate × subscriptions'),
    diskBytes: disk,
    memoryBytes: modelled(partitions * mem.value, 'B', `partitions × memory per partition (${mem.value.toFixed(0)} B, ${mem.source}: ${mem.basis})`),
    fds: modelled(segments * ASSUMED.fdsPerSegment.value + 64, 'fd', 'partitions × (retained segments + 1) × fds per segment + 64'),
    ...(m.diskFreeBytes && write > 0 ? { timeToFullSeconds: modelled(m.diskFreeBytes.value / write, 's', 'disk free (measured, statfs) ÷ write rate; retention never reached if disk need < free') } : {}),
  };
}

export interface Headroom {
  resource: string;
  need: number;
  capacity: number;
  /** capacity ÷ need; < 1 means it does not fit. */
  headroom: number;
  unit: string;
}

export function headrooms(n: Needs, h: HostFigures): Headroom[] {
  const rows: [string, Figure, Figure][] = [
    ['disk write bandwidth', n.writeBytesPerSec, h.writeBytesPerSec],
    ['memory copy (reads)', n.readBytesPerSec, h.memcopyBytesPerSec],
    ['disk space', n.diskBytes, h.diskFreeBytes],
    ['memory', n.memoryBytes, h.memAvailableBytes],
    ['file descriptors', n.fds, h.fdLimit],
  ];
  return rows.map(([resource, need, cap]) => ({ resource, need: need.value, capacity: cap.value, headroom: need.value > 0 ? cap.value / need.value : Infinity, unit: need.unit }));
}

export interface Verdict {
  load: number;
  fits: boolean;
  limiting: Headroom;
  latencyFits: boolean;
  rows: Headroom[];
}

export function verdict(w: PlanWorkload, h: HostFigures, load: number, m: MeasuredInputs = {}): Verdict {
  const rows = headrooms(needs(w, load, m), h);
  const limiting = rows.reduce((a, b) => (b.headroom < a.headroom ? b : a));
  const latencyFits = w.durability.mode !== 'always' || h.fdatasyncP99Ms.value <= w.p99Ms;
  return { load, fits: limiting.headroom >= 1 && latencyFits, limiting, latencyFits, rows };
}

export interface ClusterEstimate {
  brokers: number;
  perResource: { resource: string; brokers: number }[];
  assumed: Figure[];
}

/** brokers = ceil(max over resources of need × RF / per-broker capacity × headroom), at least RF. */
export function clusterBrokers(w: PlanWorkload, load = 1): ClusterEstimate {
  const n = needs(w, load);
  const rf = ASSUMED.replicationFactor.value;
  const hr = ASSUMED.headroom.value;
  const partitions = w.topics * w.partitionsPerTopic;
  const perResource = [
    { resource: 'disk write', brokers: (n.writeBytesPerSec.value * rf) / ASSUMED.brokerDiskBytesPerSec.value },
    { resource: 'network', brokers: ((n.writeBytesPerSec.value + n.readBytesPerSec.value) * rf) / ASSUMED.brokerNetBytesPerSec.value },
    { resource: 'partition replicas', brokers: (partitions * rf) / ASSUMED.brokerPartitionReplicas.value },
    { resource: 'disk space', brokers: (n.diskBytes.value * rf) / ASSUMED.brokerDiskBytes.value },
  ].map((r) => ({ resource: r.resource, brokers: Math.ceil(r.brokers * hr) }));
  const brokers = Math.max(rf, ...perResource.map((r) => r.brokers));
  return {
    brokers,
    perResource,
    assumed: [ASSUMED.replicationFactor, ASSUMED.headroom, ASSUMED.brokerDiskBytesPerSec, ASSUMED.brokerNetBytesPerSec, ASSUMED.brokerPartitionReplicas, ASSUMED.brokerDiskBytes],
  };
}
