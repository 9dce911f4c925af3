/**
 * Redis Streams (ioredis, an optional dependency): one stream per partition, XADD pipelined per
 * send (the replies are the confirm), consumer groups with XREADGROUP (COUNT 1000, BLOCK 100 ms)
 * and XACK: Redis groups are an ack model. Two settings: "durable", AOF with appendfsync always
 * (a reply after the write is fsynced); "default", redis-server's built-in defaults (no AOF, RDB
 * snapshots). Redis cannot refuse an XADD to a full stream (MAXLEN trims the oldest), so a
 * bounded topic is not bounded here.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { BenchDriver, ConsumerHandle, DriverFactory, ProducerHandle, SettingValue } from '../driver';
import { findBinary, freePort, PeerProcess } from '../peer-process';
import type { Workload } from '../workload';

type RedisClient = {
  pipeline(): { xadd(...a: unknown[]): unknown; xack(...a: unknown[]): unknown; exec(): Promise<[Error | null, unknown][] | null> };
  xgroup(...a: unknown[]): Promise<unknown>;
  xreadgroupBuffer(...a: unknown[]): Promise<[Buffer, [Buffer, Buffer[]][]][] | null>;
  quit(): Promise<unknown>;
  disconnect(): void;
  ping(): Promise<string>;
};
type RedisCtor = new (options: Record<string, unknown>) => RedisClient;

function loadClient(): RedisCtor | null {
  try {
    return require('ioredis') as RedisCtor;
  } catch {
    return null;
  }
}

function serverVersion(bin: string): string {
  try {
    return /v=(\S+)/.exec(execFileSync(bin, ['--version'], { encoding: 'utf8' }))?.[1] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

class RedisDriver implements BenchDriver {
  readonly name: string;
  readonly settings: Record<string, SettingValue>;
  #server: PeerProcess | null = null;
  #port = 0;
  readonly #dir: string;
  readonly #clients: RedisClient[] = [];

  constructor(private readonly w: Workload, dir: string, private readonly bin: string, private readonly durable: boolean) {
    this.name = durable ? 'redis-durable' : 'redis-default';
    this.#dir = path.join(dir, this.name);
    this.settings = {
      server: `redis-server ${serverVersion(bin)}`,
      client: 'ioredis 5',
      persistence: durable ? 'AOF, appendfsync always (fsync before each reply)' : 'built-in defaults: no AOF, RDB snapshots (save 3600 1 300 100 60 10000)',
      structure: `one stream per partition (${w.partitionsPerTopic} per topic)`,
      model: 'ack (XREADGROUP COUNT 1000 BLOCK 100, XACK)',
      producer: 'pipelined XADD per send',
      bounded: w.maxBacklog > 0 ? 'no (Redis streams trim, they cannot refuse a write)' : 'unbounded',
    };
  }

  #client(): RedisClient {
    const Redis = loadClient()!;
    const c = new Redis({ host: '127.0.0.1', port: this.#port, lazyConnect: false, maxRetriesPerRequest: 2, enableAutoPipelining: false });
    this.#clients.push(c);
    return c;
  }

  #keys(topic: string): string[] {
    return Array.from({ length: this.w.partitionsPerTopic }, (_, p) => `${topic}:${p}`);
  }

  async start(): Promise<void> {
    fs.mkdirSync(this.#dir, { recursive: true });
    this.#port = await freePort();
    const args = ['--port', String(this.#port), '--bind', '127.0.0.1', '--dir', this.#dir, '--daemonize', 'no', '--logfile', ''];
    if (this.durable) args.push('--appendonly', 'yes', '--appendfsync', 'always', '--save', '');
    this.#server = await PeerProcess.start({ name: 'redis-server', bin: this.bin, args, port: this.#port, cwd: this.#dir });
    const admin = this.#client();
    await admin.ping();
  }

  async producer(topic: string): Promise<ProducerHandle> {
    const c = this.#client();
    const keys = this.#keys(topic);
    let next = 0;
    return {
      send: async (payloads) => {
        const key = keys[next++ % keys.length];
        const pipe = c.pipeline();
        for (const p of payloads) pipe.xadd(key, '*', 'd', p);
        const replies = await pipe.exec();
        const err = replies?.find(([e]) => e !== null)?.[0];
        if (err) throw err;
      },
      close: async () => undefined,
    };
  }

  async consumer(topic: string, group: string, onMessages: (p: Buffer[]) => void): Promise<ConsumerHandle> {
    const c = this.#client();
    const keys = this.#keys(topic);
    for (const k of keys) {
      await c.xgroup('CREATE', k, group, '0', 'MKSTREAM').catch((e: Error) => {
        if (!/BUSYGROUP/.test(e.message)) throw e;
      });
    }
    const member = `m-${this.#clients.length}`;
    let stopped = false;
    const loop = (async () => {
      while (!stopped) {
        const res = await c.xreadgroupBuffer('GROUP', group, member, 'COUNT', 1000, 'BLOCK', 100, 'STREAMS', ...keys, ...keys.map(() => '>'));
        if (res === null) continue;
        const pipe = c.pipeline();
        for (const [key, entries] of res) {
          onMessages(entries.map(([, fields]) => fields[1]));
          pipe.xack(key, group, ...entries.map(([id]) => id));
        }
        void pipe.exec().catch(() => undefined);
      }
    })().catch(() => undefined);
    return {
      close: async () => {
        stopped = true;
        await loop;
      },
    };
  }

  async stop(): Promise<void> {
    for (const c of this.#clients.splice(0)) await c.quit().catch(() => c.disconnect());
    await this.#server?.stop();
    this.#server = null;
    fs.rmSync(this.#dir, { recursive: true, force: true });
  }
}

export const redisFactory: DriverFactory = {
  family: 'redis',
  unavailable: () => (findBinary('redis-server') === null ? 'redis-server is not on PATH' : loadClient() === null ? 'the ioredis module is not installed (npm install ioredis)' : null),
  create: (w, dir) => {
    const bin = findBinary('redis-server')!;
    return [new RedisDriver(w, dir, bin, true), new RedisDriver(w, dir, bin, false)];
  },
};
