/**
 * One soak run: `sluice serve` in a child process, the soak's clients against it for the run's
 * minutes, a sample every few seconds, then a drain, the server's shutdown and the verdict.
 *
 * Timeline (fractions of the run): the slow group consumes at `slowFactor` of the rate until
 * `slowUntil`, then runs free and must catch up; every `rebalanceEveryMs` an extra member joins
 * or leaves a group (join fast, leave fast, join slow, leave slow, ...); a short-lived client
 * every `churnEveryMs`. After the run the producers stop and the groups get `drainTimeoutMs` to
 * consume the rest.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { hostFingerprint } from '../../lib/bench/host-fingerprint';
import { mulberry32 } from '../../test/helpers/prng';
import { type GroupSample, type Sample, logStartAfter } from './analysis';
import { Ledger } from './ledger';
import { Churn, Group, Pace, SteadyProducer, kafkaClient, sleep, type ProduceTarget } from './load';
import { STORED_OVERHEAD_BYTES, type SoakOptions, checkOptions, retentionBytesFor } from './options';
import { type SoakSummary, summarize } from './summary';
import { type MetricSample, ServerProcess, metricSum } from './server-process';

/** prom-client's monitorEventLoopDelay resolution: each recorded delay includes this timer period. */
const ELD_TIMER_MS = 10;
const FAST = 'soak-fast';
const SLOW = 'soak-slow';
const DRAIN_POLL_MS = 500;

interface RebalanceEvent {
  tS: number;
  action: string;
}

/** Names every segment file of the topic, so deleted ones are counted even between samples. */
function segmentNames(dataDir: string, topic: string, partitions: number): string[] {
  const names: string[] = [];
  for (let p = 0; p < partitions; p++) {
    const dir = path.join(dataDir, 'topics', topic, String(p));
    for (const f of fs.existsSync(dir) ? fs.readdirSync(dir) : []) if (f.endsWith('.log')) names.push(`${p}/${f}`);
  }
  return names;
}

class Run {
  readonly ledger = new Ledger();
  readonly samples: Sample[] = [];
  readonly rebalances: RebalanceEvent[] = [];
  readonly segmentsSeen = new Set<string>();
  /** When the load started: the members have joined, the producers start. */
  startedAtMs = Date.now();
  phase: Sample['phase'] = 'slow';
  #cpu = { seconds: 0, atS: 0 };
  groups: Group[] = [];

  constructor(
    readonly o: SoakOptions,
    readonly server: ServerProcess,
    readonly dataDir: string,
  ) {}

  elapsedS(): number {
    return (Date.now() - this.startedAtMs) / 1000;
  }

  async sample(): Promise<void> {
    const proc = this.server.procStats();
    let metrics: MetricSample[] = [];
    try {
      metrics = await this.server.scrape();
    } catch (e) {
      this.o.log(`scrape failed: ${(e as Error).message}`);
    }
    const partitions = Array.from({ length: this.o.partitions }, (_, p) => p);
    const offsets = (name: string): number[] => partitions.map((p) => metricSum(metrics, name, { topic: this.o.topic, partition: String(p) }));
    const logStart = offsets('sluice_partition_start_offset');
    const groups: Record<string, GroupSample> = {};
    for (const g of this.groups) {
      const tally = this.ledger.group(g.name);
      groups[g.name] = {
        backlog: this.ledger.unconsumed(g.name),
        lag: metricSum(metrics, 'sluice_group_lag', { group: g.name }),
        consumed: tally.distinct,
        duplicates: tally.duplicates,
        // Only where retention has deleted something: before that, a group at 0 is not at risk.
        headroom: Math.min(...partitions.filter((p) => logStart[p] > 0).map((p) => tally.position(p) - logStart[p])),
      };
    }
    const segments = segmentNames(this.dataDir, this.o.topic, this.o.partitions);
    for (const s of segments) this.segmentsSeen.add(s);
    const cpuSeconds = metricSum(metrics, 'process_cpu_seconds_total');
    const nowS = this.elapsedS();
    const cpuPercent = nowS > this.#cpu.atS ? (100 * (cpuSeconds - this.#cpu.seconds)) / (nowS - this.#cpu.atS) : 0;
    this.#cpu = { seconds: cpuSeconds, atS: nowS };
    const eld = (name: string): number => Math.max(0, metricSum(metrics, name) * 1000 - ELD_TIMER_MS);
    const s: Sample = {
      tS: Math.round(this.elapsedS() * 10) / 10,
      phase: this.phase,
      rssBytes: proc?.rssBytes ?? 0,
      rssAnonBytes: proc?.rssAnonBytes ?? 0,
      rssFileBytes: proc?.rssFileBytes ?? 0,
      heapUsedBytes: metricSum(metrics, 'nodejs_heap_size_used_bytes'),
      externalBytes: metricSum(metrics, 'nodejs_external_memory_bytes'),
      fds: proc?.fds ?? 0,
      eldP99Ms: eld('nodejs_eventloop_lag_p99_seconds'),
      eldMaxMs: eld('nodejs_eventloop_lag_max_seconds'),
      serverCpuPercent: Math.round(cpuPercent * 10) / 10,
      loadAverage: os.loadavg()[0],
      connections: metricSum(metrics, 'sluice_server_connections'),
      connectionsAccepted: metricSum(metrics, 'sluice_server_connections_accepted_total'),
      produced: this.ledger.acked,
      groups,
      logStart,
      logEnd: offsets('sluice_partition_end_offset'),
      segments: segments.length,
    };
    this.samples.push(s);
    const g = Object.entries(groups).map(([name, x]) => `${name.replace('soak-', '')} backlog ${x.backlog}`).join(', ');
    this.o.log(`t=${s.tS}s ${s.phase} rss ${(s.rssBytes / 2 ** 20).toFixed(1)} MiB (anon ${(s.rssAnonBytes / 2 ** 20).toFixed(1)}, heap ${(s.heapUsedBytes / 2 ** 20).toFixed(1)}) fds ${s.fds} eld p99 ${s.eldP99Ms.toFixed(1)} ms cpu ${s.serverCpuPercent}% load ${s.loadAverage.toFixed(1)} conns ${s.connections} produced ${s.produced} ${g} segments ${s.segments}`);
  }

  /** Samples every `sampleMs` until `done()` is true, on a fixed schedule. */
  async sampleUntil(done: () => boolean): Promise<void> {
    let next = Date.now();
    while (!done()) {
      await this.sample();
      next += this.o.sampleMs;
      while (!done() && Date.now() < next) await sleep(Math.min(DRAIN_POLL_MS, next - Date.now()));
    }
  }

  drained(): boolean {
    const last = this.samples[this.samples.length - 1];
    return this.groups.every((g) => this.ledger.unconsumed(g.name) === 0 && (last?.groups[g.name]?.lag ?? 1) === 0);
  }
}

async function createTopic(o: SoakOptions, address: string): Promise<number> {
  const retentionBytes = retentionBytesFor(o);
  const admin = kafkaClient(address, 'soak-admin').admin();
  await admin.connect();
  try {
    await admin.createTopics({
      waitForLeaders: true,
      topics: [
        {
          topic: o.topic,
          numPartitions: o.partitions,
          configEntries: [
            { name: 'segment.bytes', value: String(o.segmentBytes) },
            { name: 'retention.bytes', value: String(retentionBytes) },
            { name: 'retention.ms', value: '-1' },
          ],
        },
      ],
    });
  } finally {
    await admin.disconnect();
  }
  return retentionBytes;
}

/** The rebalance schedule: join fast, leave fast, join slow, leave slow, ... */
function startRebalances(run: Run, fast: Group, slow: Group, rng: () => number): { stop: () => Promise<void> } {
  let timer: NodeJS.Timeout | null = null;
  let inFlight: Promise<void> = Promise.resolve();
  let k = 0;
  const schedule = (): void => {
    const jitter = 0.9 + 0.2 * rng();
    timer = setTimeout(() => {
      const group = k % 4 < 2 ? fast : slow;
      const join = k % 2 === 0;
      k++;
      run.rebalances.push({ tS: Math.round(run.elapsedS()), action: `${join ? 'join' : 'leave'} ${group.name}` });
      run.o.log(`rebalance: a member ${join ? 'joins' : 'leaves'} ${group.name}`);
      inFlight = (join ? group.join() : group.leave()).catch((e: unknown) => run.o.log(`rebalance failed: ${(e as Error).message}`));
      schedule();
    }, run.o.rebalanceEveryMs * jitter);
  };
  schedule();
  return {
    stop: async () => {
      if (timer !== null) clearTimeout(timer);
      await inFlight;
    },
  };
}

export interface SoakResult {
  summary: SoakSummary;
  samples: Sample[];
}

export async function runSoak(o: SoakOptions): Promise<SoakResult> {
  checkOptions(o);
  const tmp = o.dataDir === null ? fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-soak-')) : null;
  const dataDir = o.dataDir ?? tmp!;
  const server = await ServerProcess.start(dataDir, ['--partitions', String(o.partitions), '--sync', 'always']);
  o.log(`sluice serve pid ${server.pid} at ${server.kafkaAddress}, data ${dataDir}`);
  const stoppers: (() => Promise<unknown>)[] = [];
  const stopAll = async (): Promise<void> => {
    for (const stop of stoppers.splice(0).reverse()) await stop();
  };
  try {
    const retentionBytes = await createTopic(o, server.kafkaAddress);
    const sendMessagesMax = Math.max(1, Math.floor((o.partitions * o.segmentBytes) / 2 / (o.valueBytes + STORED_OVERHEAD_BYTES)));
    const target: ProduceTarget = { address: server.kafkaAddress, topic: o.topic, partitions: o.partitions, valueBytes: o.valueBytes, sendMessagesMax };
    const run = new Run(o, server, dataDir);
    const rng = mulberry32(o.seed);
    const pace = new Pace(o.rate * o.slowFactor);
    const fast = new Group(FAST, target, run.ledger.group(FAST), null);
    const slow = new Group(SLOW, target, run.ledger.group(SLOW), pace);
    run.groups = [fast, slow];
    stoppers.push(() => fast.stop(), () => slow.stop());
    // Together, so that each group's first members land in one generation.
    await Promise.all([...Array.from({ length: o.fastMembers }, () => fast.join()), ...Array.from({ length: o.slowMembers }, () => slow.join())]);
    run.startedAtMs = Date.now();
    const loadEndMs = run.startedAtMs + o.minutes * 60_000;
    const speedUpMs = run.startedAtMs + o.minutes * 60_000 * o.slowUntil;
    pace.untilMs = speedUpMs;
    const producer = new SteadyProducer(target, run.ledger, o.rate, rng);
    await producer.start();
    stoppers.push(() => producer.stop());
    const churn = new Churn(target, run.ledger, o.churnEveryMs, rng);
    churn.start();
    stoppers.push(() => churn.stop());
    const rebalancer = startRebalances(run, fast, slow, rng);
    stoppers.push(() => rebalancer.stop());
    await run.sampleUntil(() => {
      if (run.phase === 'slow' && Date.now() >= speedUpMs) run.phase = 'free';
      return Date.now() >= loadEndMs;
    });
    // Rebalances, churn and the producer stop; the groups stay to drain.
    for (let i = 0; i < 3; i++) await stoppers.pop()!();
    run.phase = 'drain';
    o.log(`producers stopped: ${run.ledger.acked} acknowledged; draining`);
    const drainEndMs = Date.now() + o.drainTimeoutMs;
    await run.sampleUntil(() => Date.now() >= drainEndMs || run.drained());
    await run.sample();
    await stopAll();
    const segmentsAtEnd = segmentNames(dataDir, o.topic, o.partitions);
    for (const s of segmentsAtEnd) run.segmentsSeen.add(s);
    const verdicts = run.groups.map((g) => run.ledger.verdict(g.name, (p, atMs) => logStartAfter(run.samples, run.startedAtMs, p, atMs)));
    const serverExitCode = await server.stop();
    const host = hostFingerprint(dataDir);
    const summary = summarize({
      options: o,
      retentionBytes,
      samples: run.samples,
      verdicts,
      groups: run.groups,
      ledger: run.ledger,
      producer,
      churn,
      rebalances: run.rebalances,
      segments: { created: run.segmentsSeen.size, atEnd: segmentsAtEnd.length },
      serverExitCode,
      loadS: o.minutes * 60,
      speedUpS: (speedUpMs - run.startedAtMs) / 1000,
      slowGroup: SLOW,
      host,
    });
    return { summary, samples: run.samples };
  } catch (e) {
    await stopAll().catch(() => {});
    await server.stop();
    o.log(`server output:\n${server.output}`);
    throw e;
  } finally {
    if (tmp !== null) fs.rmSync(tmp, { recursive: true, force: true });
  }
}
