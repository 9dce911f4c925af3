/**
 * Where `sluice mirror` reads: a Sluice data directory (opened read-only, so beside a running
 * serve; a read-only open sees what was on disk when it opened, so refresh() opens it again) or
 * a Kafka-protocol cluster. Both give committed records only: markers and aborted transactions
 * are passed over.
 */
import * as path from 'node:path';
import { Broker } from '../broker/broker';
import { clusterIdOf } from '../kafka/server';
import type { KafkaCluster } from './kafka-cluster';
import type { MirrorRecord } from './mirror-record';

export interface ReadResult {
  records: MirrorRecord[];
  nextOffset: number;
}

export interface Source {
  /** Names this source in the progress headers when --source-id does not. */
  defaultId(): Promise<string>;
  topics(): Promise<string[]>;
  /** null: no such topic. */
  partitionCount(topic: string): Promise<number | null>;
  /** Per partition, where committed records end now (the last stable offset), and the first offset kept. */
  offsets(topic: string): Promise<{ start: number[]; end: number[] }>;
  read(topic: string, partition: number, offset: number, maxRecords: number, maxBytes: number): Promise<ReadResult>;
  /** Sees what was added since the last refresh (a data directory is opened again). */
  refresh(): Promise<void>;
  close(): Promise<void>;
}

export class DataSource implements Source {
  readonly #dir: string;
  #broker: Broker;

  private constructor(dir: string, broker: Broker) {
    this.#dir = dir;
    this.#broker = broker;
  }

  static async open(dir: string): Promise<DataSource> {
    return new DataSource(dir, await Broker.open(dir, { readOnly: true }));
  }

  async defaultId(): Promise<string> {
    // What `sluice serve` of this directory reports as its cluster id, so both name it alike.
    return clusterIdOf(path.resolve(this.#dir));
  }

  async topics(): Promise<string[]> {
    return this.#broker.listTopics();
  }

  async partitionCount(topic: string): Promise<number | null> {
    return this.#broker.listTopics().includes(topic) ? this.#broker.describeTopic(topic).partitions.length : null;
  }

  async offsets(topic: string): Promise<{ start: number[]; end: number[] }> {
    const parts = this.#broker.describeTopic(topic).partitions;
    return { start: parts.map((p) => p.startOffset), end: parts.map((p) => p.lastStableOffset) };
  }

  async read(topic: string, partition: number, offset: number, maxRecords: number): Promise<ReadResult> {
    const access = this.#broker.partition(topic, partition);
    const at = Math.max(offset, access.offsets().startOffset);
    const { records, nextOffset } = access.read(at, maxRecords);
    return {
      records: records.map((r) => ({
        offset: r.offset,
        timestamp: r.timestamp,
        key: r.key,
        value: r.value,
        headers: r.headers.map((h) => [Buffer.from(h.key, 'utf8'), h.value] as [Buffer, Buffer | null]),
      })),
      nextOffset: Math.max(at, nextOffset),
    };
  }

  async refresh(): Promise<void> {
    const next = await Broker.open(this.#dir, { readOnly: true });
    const old = this.#broker;
    this.#broker = next;
    await old.close();
  }

  async close(): Promise<void> {
    await this.#broker.close();
  }
}

export class KafkaSource implements Source {
  readonly #cluster: KafkaCluster;
  readonly #brokers: string[];

  constructor(cluster: KafkaCluster, brokers: string[]) {
    this.#cluster = cluster;
    this.#brokers = brokers;
  }

  async defaultId(): Promise<string> {
    return (await this.#cluster.clusterId()) ?? [...this.#brokers].sort().join(',');
  }

  topics(): Promise<string[]> {
    return this.#cluster.topics();
  }

  partitionCount(topic: string): Promise<number | null> {
    return this.#cluster.partitionCount(topic);
  }

  offsets(topic: string): Promise<{ start: number[]; end: number[] }> {
    return this.#cluster.offsets(topic);
  }

  async read(topic: string, partition: number, offset: number, maxRecords: number, maxBytes: number): Promise<ReadResult> {
    const r = await this.#cluster.fetch(topic, partition, offset, maxBytes);
    if (r.records.length <= maxRecords) return r;
    const records = r.records.slice(0, maxRecords);
    return { records, nextOffset: records[records.length - 1].offset + 1 };
  }

  async refresh(): Promise<void> {}

  close(): Promise<void> {
    return this.#cluster.close();
  }
}
