/**
 * NATS JetStream (the nats client, an optional dependency): one stream per topic with file
 * storage and one replica, js.publish per message awaited together per send (each publish ack is
 * the confirm), one durable pull consumer per group (explicit acks; members of a group share it).
 * Partitions do not apply (one subject per topic). Settings: "durable" is file storage with
 * `sync_interval: always` (fsync before each ack), available from nats-server 2.10; "default"
 * is file storage with the server's default sync (every 2 minutes). A bounded topic is an
 * interest-retention stream with max_msgs and discard new (a full stream refuses publishes).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as Nats from 'nats';
import type { BenchDriver, ConsumerHandle, DriverFactory, ProducerHandle, SettingValue } from '../driver';
import { topicName } from '../driver';
import { findBinary, freePort, PeerProcess } from '../peer-process';
import type { Workload } from '../workload';

function loadClient(): typeof Nats | null {
  try {
    return require('nats') as typeof Nats;
  } catch {
    return null;
  }
}

function serverVersion(bin: string): [number, number, string] {
  try {
    const v = /v(\d+)\.(\d+)\.\d+/.exec(execFileSync(bin, ['--version'], { encoding: 'utf8' }));
    return v ? [Number(v[1]), Number(v[2]), v[0]] : [0, 0, 'unknown'];
  } catch {
    return [0, 0, 'unknown'];
  }
}

export function natsHasSyncAlways(bin: string): boolean {
  const [major, minor] = serverVersion(bin);
  return major > 2 || (major === 2 && minor >= 10);
}

class NatsDriver implements BenchDriver {
  readonly name: string;
  readonly settings: Record<string, SettingValue>;
  #server: PeerProcess | null = null;
  #nc: Nats.NatsConnection | null = null;
  readonly #dir: string;
  readonly #stops: (() => void)[] = [];

  constructor(private readonly w: Workload, dir: string, private readonly bin: string, private readonly durable: boolean) {
    this.name = durable ? 'nats-durable' : 'nats-default';
    this.#dir = path.join(dir, this.name);
    this.settings = {
      server: `nats-server ${serverVersion(bin)[2]}`,
      client: 'nats.js 2',
      storage: 'file, 1 replica',
      sync: durable ? 'sync_interval: always (fsync before each publish ack)' : 'server default (fsync every 2 min)',
      structure: 'one stream per topic, one subject (partitions do not apply)',
      model: 'ack (durable pull consumer per group, explicit acks)',
      producer: 'js.publish per message, awaited together per send',
      bounded: w.maxBacklog > 0 ? `interest retention, max_msgs ${w.maxBacklog}, discard new` : 'unbounded (limits retention)',
    };
  }

  async start(): Promise<void> {
    fs.mkdirSync(this.#dir, { recursive: true });
    const port = await freePort();
    const conf = path.join(this.#dir, 'nats.conf');
    const js = [`store_dir: ${JSON.stringify(path.join(this.#dir, 'js'))}`, ...(this.durable ? ['sync_interval: always'] : [])];
    fs.writeFileSync(conf, `listen: 127.0.0.1:${port}\njetstream {\n  ${js.join('\n  ')}\n}\n`);
    this.#server = await PeerProcess.start({ name: 'nats-server', bin: this.bin, args: ['-c', conf], port, cwd: this.#dir });
    const nats = loadClient()!;
    this.#nc = await nats.connect({ servers: `127.0.0.1:${port}` });
    const jsm = await this.#nc.jetstreamManager();
    for (let t = 0; t < this.w.topics; t++) {
      const name = topicName(this.w, t);
      const bounded = this.w.maxBacklog > 0;
      await jsm.streams.add({
        name,
        subjects: [name],
        storage: nats.StorageType.File,
        num_replicas: 1,
        retention: bounded ? nats.RetentionPolicy.Interest : nats.RetentionPolicy.Limits,
        ...(bounded ? { max_msgs: this.w.maxBacklog, discard: nats.DiscardPolicy.New } : {}),
      });
    }
  }

  async producer(topic: string): Promise<ProducerHandle> {
    const js = this.#nc!.jetstream();
    return {
      send: async (payloads) => {
        await Promise.all(payloads.map((p) => js.publish(topic, p)));
      },
      close: async () => undefined,
    };
  }

  async consumer(topic: string, group: string, onMessages: (p: Buffer[]) => void): Promise<ConsumerHandle> {
    const nats = loadClient()!;
    const jsm = await this.#nc!.jetstreamManager();
    await jsm.consumers.add(topic, { durable_name: group, ack_policy: nats.AckPolicy.Explicit, deliver_policy: nats.DeliverPolicy.All, max_ack_pending: 20_000 }).catch((e: Error) => {
      if (!/already|exists/i.test(e.message)) throw e;
    });
    const c = await this.#nc!.jetstream().consumers.get(topic, group);
    const messages = await c.consume({ max_messages: 1000 });
    const loop = (async () => {
      for await (const m of messages) {
        onMessages([Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength)]);
        m.ack();
      }
    })().catch(() => undefined);
    const stop = (): void => void messages.stop();
    this.#stops.push(stop);
    return {
      close: async () => {
        stop();
        await loop;
      },
    };
  }

  async stop(): Promise<void> {
    for (const s of this.#stops.splice(0)) s();
    await this.#nc?.drain().catch(() => undefined);
    this.#nc = null;
    await this.#server?.stop();
    this.#server = null;
    fs.rmSync(this.#dir, { recursive: true, force: true });
  }
}

export const natsFactory: DriverFactory = {
  family: 'nats',
  unavailable: () => (findBinary('nats-server') === null ? 'nats-server is not on PATH' : loadClient() === null ? 'the nats module is not installed (npm install nats)' : null),
  partial: () => natsDurableMissing(),
  create: (w, dir) => {
    const bin = findBinary('nats-server')!;
    return natsHasSyncAlways(bin) ? [new NatsDriver(w, dir, bin, true), new NatsDriver(w, dir, bin, false)] : [new NatsDriver(w, dir, bin, false)];
  },
};

/** Why nats-durable is not run on this host, or null. */
export function natsDurableMissing(): string | null {
  const bin = findBinary('nats-server');
  if (bin === null || natsHasSyncAlways(bin)) return null;
  return `nats-server ${serverVersion(bin)[2]} has no sync_interval setting (nats-server 2.10 added sync_interval: always); only its default durability is run`;
}
