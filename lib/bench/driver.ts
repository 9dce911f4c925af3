/**
 * What the bench needs from a messaging system. A driver is one system at one setting
 * ("redis-durable": Redis Streams with AOF appendfsync always); the runner (runner.ts) owns the
 * schedule, the clocks and the histograms, drivers only move payloads.
 *
 * Lifetime: start() (servers, topics) -> consumers and producers -> stop() (closes what it
 * opened, removes its temp directory). A driver instance runs one workload once.
 */
import type { Workload } from './workload';

export type SettingValue = string | number | boolean;

export interface ProducerHandle {
  /** Sends the payloads to `topic` (any partition); resolves when the system confirms all of them. */
  send(payloads: Buffer[]): Promise<void>;
  close(): Promise<void>;
}

export interface ConsumerHandle {
  close(): Promise<void>;
}

export interface BenchDriver {
  /** e.g. 'sluice', 'redis-durable' */
  readonly name: string;
  /** how this system is set up, every setting stated (it goes into the JSON and the report) */
  readonly settings: Record<string, SettingValue>;
  /** Starts servers and creates the workload's topics (names from topicName()). */
  start(): Promise<void>;
  producer(topic: string): Promise<ProducerHandle>;
  /**
   * A member of `group` consuming `topic` from its start; calls onMessages with the payloads of
   * each delivery (acking or committing them as the driver's model says). Resolves once the
   * member is joined and will receive what is sent from now on.
   */
  consumer(topic: string, group: string, onMessages: (payloads: Buffer[]) => void): Promise<ConsumerHandle>;
  stop(): Promise<void>;
}

export interface DriverFactory {
  /** the driver family's name for --driver: 'sluice', 'sluice-kafka', 'redis', 'nats', 'rabbitmq' */
  readonly family: string;
  /** why it cannot run here (binary or client module missing), or null */
  unavailable(): string | null;
  /** a setting of this family that cannot run here though the family can (why), or null */
  partial?(): string | null;
  /** the drivers of this family for a workload (peers: their most durable and default settings) */
  create(w: Workload, dir: string): BenchDriver[];
}

export function topicName(w: Workload, i: number): string {
  return `${w.name.replace(/[^A-Za-z0-9_-]/g, '-')}-${i}`;
}
