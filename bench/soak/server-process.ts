/**
 * The server under soak: `sluice serve` (the built bin, dist/cli/sluice.js) in a child process of
 * its own, so that its resident memory and descriptors are measured alone, from /proc/<pid>.
 * Everything else (event-loop delay, connections, offsets, group lag) comes from its `--metrics`
 * endpoint, one scrape per sample.
 *
 * Lifetime: start() resolves once the child prints both addresses; stop() sends SIGTERM and
 * resolves with its exit code (SIGKILL after `stopTimeoutMs`).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const BIN = path.join(ROOT, 'dist', 'cli', 'sluice.js');
const STARTUP_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 30_000;

export interface ProcStats {
  rssBytes: number;
  /** The anonymous part of the RSS (heaps) and the file-backed part (mapped segments and indexes, code). */
  rssAnonBytes: number;
  rssFileBytes: number;
  fds: number;
}

/** One Prometheus sample: a metric name, its labels and value. */
export interface MetricSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export class ServerProcess {
  readonly #child: ChildProcess;
  readonly kafkaAddress: string;
  readonly #metricsUrl: string;
  #output: string;

  private constructor(child: ChildProcess, kafkaAddress: string, metricsUrl: string, output: string) {
    this.#child = child;
    this.kafkaAddress = kafkaAddress;
    this.#metricsUrl = metricsUrl;
    this.#output = output;
    child.stdout!.on('data', (d: Buffer) => this.#keep(d));
    child.stderr!.on('data', (d: Buffer) => this.#keep(d));
  }

  static async start(dataDir: string, extraArgs: string[] = []): Promise<ServerProcess> {
    if (!fs.existsSync(BIN)) throw new Error(`${BIN} is missing: run \`npx tsc -p tsconfig.json\` first`);
    const args = [BIN, 'serve', '--data', dataDir, '--listen', '127.0.0.1:0', '--metrics', '127.0.0.1:0', ...extraArgs];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const { kafka, metrics } = await new Promise<{ kafka: string; metrics: string }>((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error(`sluice serve did not start in ${STARTUP_TIMEOUT_MS} ms: ${out}`)), STARTUP_TIMEOUT_MS);
      const fail = (e: Error): void => {
        clearTimeout(timer);
        child.kill('SIGKILL');
        reject(e);
      };
      const onData = (d: Buffer): void => {
        out += d.toString();
        const k = /listening on (\S+)/.exec(out);
        const m = /metrics on (\S+)/.exec(out);
        if (k === null || m === null) return;
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        child.off('exit', onExit);
        resolve({ kafka: k[1], metrics: m[1] });
      };
      const onExit = (code: number | null): void => fail(new Error(`sluice serve exited (${code}) before listening: ${out}`));
      child.stdout!.on('data', onData);
      child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
      child.on('exit', onExit);
    });
    // A soak interrupted (scripts/soak.ts exits on SIGINT and SIGTERM) leaves no server behind.
    const reap = (): void => void child.kill('SIGKILL');
    process.once('exit', reap);
    child.once('exit', () => process.off('exit', reap));
    return new ServerProcess(child, kafka, metrics, out);
  }

  get pid(): number {
    return this.#child.pid!;
  }

  /** What the server printed (bounded: the last 64 KiB). */
  get output(): string {
    return this.#output;
  }

  /** VmRSS and the open descriptors, read from /proc; null once the child is gone. */
  procStats(): ProcStats | null {
    try {
      const status = fs.readFileSync(`/proc/${this.pid}/status`, 'utf8');
      const kib = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
      const fds = fs.readdirSync(`/proc/${this.pid}/fd`).length;
      return { rssBytes: kib('VmRSS'), rssAnonBytes: kib('RssAnon'), rssFileBytes: kib('RssFile'), fds };
    } catch {
      return null;
    }
  }

  /** One scrape of /metrics, parsed (comments skipped). */
  async scrape(): Promise<MetricSample[]> {
    const res = await fetch(this.#metricsUrl);
    if (!res.ok) throw new Error(`GET ${this.#metricsUrl}: ${res.status}`);
    return parseExposition(await res.text());
  }

  async stop(): Promise<number | null> {
    if (this.#child.exitCode !== null) return this.#child.exitCode;
    const exited = new Promise<number | null>((resolve) => this.#child.once('exit', (code) => resolve(code)));
    this.#child.kill('SIGTERM');
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    const code = await exited;
    clearTimeout(timer);
    return code;
  }

  #keep(d: Buffer): void {
    this.#output = (this.#output + d.toString()).slice(-65_536);
  }
}

const SAMPLE_LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** The samples of a Prometheus text exposition (the soak reads only plain numbers). */
export function parseExposition(text: string): MetricSample[] {
  const out: MetricSample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = SAMPLE_LINE.exec(line);
    if (m === null) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL)) labels[l[1]] = l[2].replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

/** The sum of every sample of `name` whose labels include `match`. */
export function metricSum(samples: MetricSample[], name: string, match: Record<string, string> = {}): number {
  let sum = 0;
  for (const s of samples) {
    if (s.name !== name) continue;
    if (Object.entries(match).every(([k, v]) => s.labels[k] === v)) sum += s.value;
  }
  return sum;
}
