/**
 * The HTTP endpoint of `sluice serve --metrics HOST:PORT`:
 *
 *   GET /metrics   the Prometheus text exposition (sluice-metrics.ts)
 *   GET /health    200 {"status":"ok",...} while every partition takes writes; 503 with
 *                  "status":"failing" and the failed partitions (fail-stop) otherwise, or while
 *                  the broker is closing
 *   GET /explain   ?topic=T&group=G&partition=P&offset=O (or &delayId=N): broker.explain() as
 *                  JSON (what `sluice why --server` asks); 400 with {"error"} for a bad query
 *
 * Anything else is 404, a method other than GET or HEAD 405. Loopback unless told otherwise.
 * It only reads: no endpoint changes the broker.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Broker } from '../broker/broker';
import type { ExplainQuery } from '../broker/explain/explanation';
import { SluiceError } from '../errors';
import type { Server } from '../kafka/server';
import { SluiceMetrics } from './sluice-metrics';

export interface MetricsServerOptions {
  broker: Broker;
  /** The Kafka server whose connections and requests are reported, if one runs. */
  server?: Server | null;
  /** Default '127.0.0.1'. */
  host?: string;
  /** Default 9644; 0 picks a free port (see `address`). */
  port?: number;
}

/** A bad /explain query: answered 400. */
class QueryError extends Error {}

export class MetricsServer {
  readonly #http: http.Server;
  readonly #broker: Broker;
  readonly #metrics: SluiceMetrics;

  private constructor(httpServer: http.Server, broker: Broker, metrics: SluiceMetrics) {
    this.#http = httpServer;
    this.#broker = broker;
    this.#metrics = metrics;
  }

  static async start(o: MetricsServerOptions): Promise<MetricsServer> {
    const metrics = new SluiceMetrics(o.broker, o.server ?? null);
    const httpServer = http.createServer();
    const server = new MetricsServer(httpServer, o.broker, metrics);
    httpServer.on('request', (req, res) => void server.#answer(req, res));
    await new Promise<void>((resolve, reject) => {
      httpServer.once('error', reject);
      httpServer.listen(o.port ?? 9644, o.host ?? '127.0.0.1', () => {
        httpServer.off('error', reject);
        resolve();
      });
    });
    return server;
  }

  get address(): { host: string; port: number } {
    const a = this.#http.address() as AddressInfo;
    return { host: a.address, port: a.port };
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.#http.close(() => resolve());
      this.#http.closeAllConnections();
    });
  }

  async #answer(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, { error: 'only GET and HEAD' }, { allow: 'GET, HEAD' });
    const url = new URL(req.url ?? '/', 'http://localhost');
    try {
      switch (url.pathname) {
        case '/metrics':
          return send(res, 200, await this.#metrics.text(), { 'content-type': this.#metrics.contentType });
        case '/health':
          return this.#health(res);
        case '/explain':
          return send(res, 200, this.#broker.explain(explainQuery(url.searchParams)));
        default:
          return send(res, 404, { error: `no ${url.pathname} here: try /metrics, /health or /explain` });
      }
    } catch (e) {
      if (e instanceof QueryError || e instanceof TypeError || e instanceof RangeError) return send(res, 400, { error: e.message });
      if (e instanceof SluiceError) return send(res, e.code === 'CLOSED' ? 503 : 400, { error: e.message, code: e.code });
      return send(res, 500, { error: (e as Error).message });
    }
  }

  #health(res: http.ServerResponse): void {
    let failed: { topic: string; partition: number; failure: string }[];
    try {
      failed = this.#broker.describe().topics.flatMap((t) => t.partitions.filter((p) => p.failure !== null).map((p) => ({ topic: t.name, partition: p.partition, failure: p.failure! })));
    } catch (e) {
      return send(res, 503, { status: 'failing', error: (e as Error).message });
    }
    send(res, failed.length === 0 ? 200 : 503, { status: failed.length === 0 ? 'ok' : 'failing', dir: this.#broker.dir, failed });
  }
}

function send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = typeof body === 'string' ? body : `${JSON.stringify(body)}\n`;
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers, 'content-length': Buffer.byteLength(text) });
  res.end(res.req.method === 'HEAD' ? undefined : text);
}

const QUERY_KEYS = new Set(['topic', 'group', 'partition', 'offset', 'delayId']);

/** ?topic=&group=&partition=&offset= or &delayId=: an ExplainQuery, or a QueryError naming what is wrong. */
export function explainQuery(q: URLSearchParams): ExplainQuery {
  for (const k of q.keys()) if (!QUERY_KEYS.has(k)) throw new QueryError(`unknown parameter ${JSON.stringify(k)} (known: ${[...QUERY_KEYS].join(', ')})`);
  const topic = q.get('topic');
  const group = q.get('group');
  if (topic === null || topic === '') throw new QueryError('topic is required');
  if (group === null || group === '') throw new QueryError('group is required');
  const int = (k: string): number | undefined => {
    const v = q.get(k);
    if (v === null) return undefined;
    if (!/^\d+$/.test(v) || !Number.isSafeInteger(Number(v))) throw new QueryError(`${k} must be a non-negative integer, got ${JSON.stringify(v)}`);
    return Number(v);
  };
  const query: ExplainQuery = { topic, group };
  const partition = int('partition');
  const offset = int('offset');
  const delayId = int('delayId');
  if (delayId !== undefined) {
    if (offset !== undefined) throw new QueryError('give offset (with partition) or delayId, not both');
    query.delayId = delayId;
    if (partition !== undefined) query.partition = partition;
  } else {
    if (partition === undefined || offset === undefined) throw new QueryError('give partition and offset, or delayId');
    query.partition = partition;
    query.offset = offset;
  }
  return query;
}
