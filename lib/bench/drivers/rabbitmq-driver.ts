/**
 * RabbitMQ (amqplib, an optional dependency), started from /usr/lib/rabbitmq/bin/rabbitmq-server
 * (Debian's /usr/sbin wrapper switches to the rabbitmq user, which cannot use our temp dir) with
 * its node name, ports, database and logs in the temp dir and no plugins. One fanout exchange per
 * topic, one queue per group (its members share it), publisher confirms on a confirm channel
 * (every publish's confirm is awaited), consumers with prefetch 1000 and a manual ack each.
 * Settings: "durable" is quorum queues with persistent messages (a confirm after the quorum log
 * is fsynced); "default" is a classic queue with transient messages, confirms still on (to
 * measure them). Partitions do not apply. A bounded topic is x-max-length with overflow
 * reject-publish (a full queue nacks the publish).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as Amqp from 'amqplib';
import type { BenchDriver, ConsumerHandle, DriverFactory, ProducerHandle, SettingValue } from '../driver';
import { findBinary, freePort, PeerProcess } from '../peer-process';
import type { Workload } from '../workload';

const SERVER = '/usr/lib/rabbitmq/bin/rabbitmq-server';
let nodes = 0;

function loadClient(): typeof Amqp | null {
  try {
    return require('amqplib') as typeof Amqp;
  } catch {
    return null;
  }
}

function serverBinary(): string | null {
  if (fs.existsSync(SERVER)) return SERVER;
  return findBinary('rabbitmq-server');
}

function serverVersion(): string {
  try {
    const out = execFileSync('dpkg-query', ['-W', '-f=${Version}', 'rabbitmq-server'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return out.trim() || 'unknown';
  } catch {
    return 'unknown';
  }
}

class RabbitDriver implements BenchDriver {
  readonly name: string;
  readonly settings: Record<string, SettingValue>;
  #server: PeerProcess | null = null;
  #url = '';
  readonly #dir: string;
  readonly #connections: Amqp.ChannelModel[] = [];

  constructor(private readonly w: Workload, dir: string, private readonly bin: string, private readonly durable: boolean) {
    this.name = durable ? 'rabbitmq-durable' : 'rabbitmq-default';
    this.#dir = path.join(dir, this.name);
    this.settings = {
      server: `rabbitmq-server ${serverVersion()}`,
      client: 'amqplib 0.10',
      queue: durable ? 'quorum queue (durable), persistent messages' : 'classic queue (durable declaration), transient messages',
      confirms: 'publisher confirms, each publish awaited',
      structure: 'fanout exchange per topic, one queue per group (partitions do not apply)',
      model: 'ack (prefetch 1000, manual ack per message)',
      bounded: w.maxBacklog > 0 ? `x-max-length ${w.maxBacklog}, x-overflow reject-publish` : 'unbounded',
    };
  }

  async #connect(): Promise<Amqp.ChannelModel> {
    const c = await loadClient()!.connect(this.#url);
    c.on('error', () => undefined);
    this.#connections.push(c);
    return c;
  }

  async start(): Promise<void> {
    fs.mkdirSync(this.#dir, { recursive: true });
    fs.writeFileSync(path.join(this.#dir, 'enabled_plugins'), '[].\n');
    const port = await freePort();
    const dist = await freePort();
    this.#url = `amqp://guest:guest@127.0.0.1:${port}`;
    const env = {
      HOME: this.#dir,
      RABBITMQ_NODENAME: `sluice-bench-${process.pid}-${nodes++}@localhost`,
      RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
      RABBITMQ_NODE_PORT: String(port),
      RABBITMQ_DIST_PORT: String(dist),
      RABBITMQ_MNESIA_BASE: path.join(this.#dir, 'mnesia'),
      RABBITMQ_LOG_BASE: path.join(this.#dir, 'log'),
      RABBITMQ_ENABLED_PLUGINS_FILE: path.join(this.#dir, 'enabled_plugins'),
      RABBITMQ_CONFIG_FILE: path.join(this.#dir, 'rabbitmq'),
      RABBITMQ_ADVANCED_CONFIG_FILE: path.join(this.#dir, 'advanced.config'),
      RABBITMQ_PID_FILE: path.join(this.#dir, 'rabbitmq.pid'),
    };
    const amqp = loadClient()!;
    this.#server = await PeerProcess.start({
      name: 'rabbitmq-server',
      bin: this.bin,
      args: [],
      port,
      env,
      cwd: this.#dir,
      readyTimeoutMs: 90_000,
      ready: async () => {
        const c = await amqp.connect(this.#url);
        await c.close();
        return true;
      },
    });
  }

  #queueArgs(): Amqp.Options.AssertQueue {
    const args: Record<string, unknown> = this.durable ? { 'x-queue-type': 'quorum' } : {};
    if (this.w.maxBacklog > 0) Object.assign(args, { 'x-max-length': this.w.maxBacklog, 'x-overflow': 'reject-publish' });
    return { durable: true, arguments: args };
  }

  async producer(topic: string): Promise<ProducerHandle> {
    const ch = await (await this.#connect()).createConfirmChannel();
    await ch.assertExchange(topic, 'fanout', { durable: true });
    const persistent = this.durable;
    return {
      send: (payloads) =>
        Promise.all(
          payloads.map(
            (p) => new Promise<void>((resolve, reject) => ch.publish(topic, '', p, { persistent }, (err) => (err ? reject(new Error('publish nacked (queue full?)')) : resolve()))),
          ),
        ).then(() => undefined),
      close: () => ch.close().catch(() => undefined),
    };
  }

  async consumer(topic: string, group: string, onMessages: (p: Buffer[]) => void): Promise<ConsumerHandle> {
    const ch = await (await this.#connect()).createChannel();
    await ch.assertExchange(topic, 'fanout', { durable: true });
    const queue = `${topic}.${group}`;
    await ch.assertQueue(queue, this.#queueArgs());
    await ch.bindQueue(queue, topic, '');
    await ch.prefetch(1000);
    const { consumerTag } = await ch.consume(queue, (m) => {
      if (m === null) return;
      onMessages([m.content]);
      ch.ack(m);
    });
    return {
      close: async () => {
        await ch.cancel(consumerTag).catch(() => undefined);
        await ch.close().catch(() => undefined);
      },
    };
  }

  async stop(): Promise<void> {
    for (const c of this.#connections.splice(0)) await c.close().catch(() => undefined);
    await this.#server?.stop();
    this.#server = null;
    fs.rmSync(this.#dir, { recursive: true, force: true });
  }
}

export const rabbitmqFactory: DriverFactory = {
  family: 'rabbitmq',
  unavailable: () => (serverBinary() === null ? 'rabbitmq-server is not on PATH' : loadClient() === null ? 'the amqplib module is not installed (npm install amqplib)' : null),
  create: (w, dir) => {
    const bin = serverBinary()!;
    return [new RabbitDriver(w, dir, bin, true), new RabbitDriver(w, dir, bin, false)];
  },
};
