/**
 * Peer servers the bench starts itself: found on PATH (plus /usr/sbin and /sbin, where Debian
 * puts nats-server and rabbitmq-server), started as a child on 127.0.0.1 and a free port in a temp
 * directory, ready once the port accepts connections, stopped with SIGTERM (SIGKILL after 10 s).
 * Lifetime: start() -> stop(); stop() is safe to call twice. Its output is kept (the last 64 KiB)
 * for the error when it does not come up.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export function findBinary(name: string): string | null {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin', '/sbin', '/usr/local/sbin'];
  for (const d of dirs) {
    if (d === '') continue;
    const f = path.join(d, name);
    try {
      fs.accessSync(f, fs.constants.X_OK);
      return f;
    } catch {
      // next
    }
  }
  return null;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect({ host: '127.0.0.1', port });
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

export interface PeerStart {
  name: string;
  bin: string;
  args: string[];
  port: number;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  readyTimeoutMs?: number;
  /** a readiness check beyond the port accepting connections (rabbitmq answers before it boots) */
  ready?: () => Promise<boolean>;
}

export class PeerProcess {
  #child: ChildProcess;
  #output = '';
  #exited: Promise<void>;
  #exitCode: number | null = null;
  #done = false;

  private constructor(spec: PeerStart) {
    this.#child = spawn(spec.bin, spec.args, { cwd: spec.cwd, env: { ...process.env, ...spec.env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const keep = (b: Buffer): void => {
      this.#output = (this.#output + b.toString()).slice(-65536);
    };
    this.#child.stdout!.on('data', keep);
    this.#child.stderr!.on('data', keep);
    this.#exited = new Promise((resolve) => {
      this.#child.once('exit', (code) => {
        this.#done = true;
        this.#exitCode = code;
        resolve();
      });
      this.#child.once('error', (e) => {
        this.#done = true;
        keep(Buffer.from(String(e)));
        resolve();
      });
    });
  }

  static async start(spec: PeerStart): Promise<PeerProcess> {
    const p = new PeerProcess(spec);
    const deadline = Date.now() + (spec.readyTimeoutMs ?? 20_000);
    for (;;) {
      if (p.#done) throw new Error(`${spec.name} exited (${p.#exitCode}) before it was ready: ${p.#output.trim().split('\n').slice(-5).join(' | ')}`);
      if ((await accepts(spec.port)) && (spec.ready === undefined || (await spec.ready().catch(() => false)))) return p;
      if (Date.now() > deadline) {
        await p.stop();
        throw new Error(`${spec.name} was not ready on 127.0.0.1:${spec.port} within ${spec.readyTimeoutMs ?? 20_000} ms: ${p.#output.trim().split('\n').slice(-5).join(' | ')}`);
      }
      await sleep(100);
    }
  }

  get output(): string {
    return this.#output;
  }

  async stop(): Promise<void> {
    if (this.#done) return;
    const pid = this.#child.pid;
    const kill = (sig: NodeJS.Signals): void => {
      try {
        // The whole process group: rabbitmq-server is a shell script over an Erlang VM.
        if (pid !== undefined) process.kill(-pid, sig);
      } catch {
        // already gone
      }
    };
    kill('SIGTERM');
    const timer = setTimeout(() => kill('SIGKILL'), 10_000);
    await this.#exited;
    clearTimeout(timer);
  }
}
