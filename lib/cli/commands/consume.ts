/**
 * `sluice consume`: the messages of a topic of a data directory, to stdout, from a position
 * (earliest, latest, an offset, a time) to the end, or on with `--follow`.
 *
 * Without `--group` it is read-only and in no group: it reads the partitions directly, so it works
 * beside a running serve (it sees what was on disk when it opened; following, it opens the
 * directory again every `--poll-ms` to see what was added). With `--group` it is a member of that
 * consumer group (its model, or the offset model for a new group): it starts from the group's
 * position (`--from` only says where a new group starts) and moves it as it prints (commits, or
 * acks in the ack model), so it needs the directory to itself.
 *
 * `--format text` prints each value on a line; `json` one object per line with topic, partition,
 * offset, timestamp, key, value and headers (text, or base64 for bytes that are not UTF-8).
 */
import { type Command, Option } from 'commander';
import type { Broker } from '../../broker/broker';
import type { ConsumedMessage } from '../../broker/consume/consumed-message';
import type { Consumer } from '../../broker/consume/consumer';
import type { LogRecord } from '../../storage/log';
import { nonNegativeInteger, positiveInteger, position, type Position } from '../args';
import { UsageError } from '../exit-codes';
import { withData } from '../open';
import { textOrBase64 } from '../output';

interface ConsumeOptions {
  data: string;
  topic: string;
  partition?: number;
  group?: string;
  from: Position;
  max?: number;
  follow?: boolean;
  pollMs: number;
  format: 'text' | 'json';
}

const STEP = 1000;

export function consumeCommand(program: Command): void {
  program
    .command('consume')
    .description("print a topic's messages, from a position to the end or on (--follow); read-only unless in a --group")
    .requiredOption('--data <dir>', 'the broker data directory')
    .requiredOption('--topic <topic>', 'the topic to read')
    .option('--partition <n>', 'only this partition (not with --group)', nonNegativeInteger)
    .option('--group <group>', 'consume as a member of this group: from its position, moving it (needs the directory to itself)')
    .option('--from <position>', 'earliest, latest, an offset (per partition) or a time (ISO 8601); with --group, where a new group starts', position, { kind: 'earliest' } as Position)
    .option('--max <n>', 'stop after this many messages', positiveInteger)
    .option('--follow', 'keep printing new messages until interrupted (Ctrl-C)')
    .option('--poll-ms <ms>', 'following without a group: how often to look for new messages', positiveInteger, 1000)
    .addOption(new Option('--format <format>', 'how to print each message').choices(['text', 'json']).default('text'))
    .action(async (o: ConsumeOptions) => {
      if (o.group !== undefined) {
        if (o.partition !== undefined) throw new UsageError('--partition reads outside any group: leave out --group, or let the group assign partitions');
        if (o.from.kind === 'offset') throw new UsageError('a group starts at earliest, latest or a time: to move an existing group use `sluice groups reset`');
        await withData(o.data, 'write', async (b) => consumeInGroup(b, o));
      } else {
        await consumeDirect(o);
      }
    });
}

/** Stops a following consume on SIGINT or SIGTERM (the command then exits 0). */
function interruption(): { signal: AbortSignal; dispose: () => void } {
  const ac = new AbortController();
  const stop = (): void => ac.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return {
    signal: ac.signal,
    dispose: () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    },
  };
}

// ---- Without a group: read-only, partitions read directly ----

async function consumeDirect(o: ConsumeOptions): Promise<void> {
  const printer = new Printer(o);
  const stop = o.follow === true ? interruption() : null;
  try {
    // The next offset per partition, from the first open on.
    let next: Map<number, number> | null = null;
    for (;;) {
      next = await withData(o.data, 'read', async (b) => readOnce(b, o, printer, next));
      if (stop === null || printer.full) return;
      const waited = await sleep(o.pollMs, stop.signal);
      if (!waited) return;
    }
  } finally {
    stop?.dispose();
  }
}

/** Prints what the partitions hold from `next` (first time: from --from) to their stable end. */
async function readOnce(b: Broker, o: ConsumeOptions, printer: Printer, next: Map<number, number> | null): Promise<Map<number, number>> {
  const t = b.describeTopic(o.topic);
  if (o.partition !== undefined && o.partition >= t.partitions.length) throw new Error(`topic ${o.topic} has partitions 0 to ${t.partitions.length - 1}`);
  const partitions = o.partition === undefined ? t.partitions.map((p) => p.partition) : [o.partition];
  const out = new Map<number, number>();
  for (const p of partitions) {
    const access = b.partition(o.topic, p);
    const offsets = access.offsets();
    let at = Math.max(offsets.startOffset, next?.get(p) ?? startOf(o.from, offsets, (ts) => access.offsetForTime(ts)));
    while (at < offsets.lastStableOffset && !printer.full) {
      const { records, nextOffset } = access.read(at, STEP);
      for (const r of records) {
        if (printer.full) break;
        printer.print(o.topic, p, r);
        at = r.offset + 1;
      }
      if (nextOffset <= at && records.length === 0) break;
      if (!printer.full) at = Math.max(at, nextOffset);
    }
    out.set(p, at);
  }
  return out;
}

function startOf(from: Position, offsets: { startOffset: number; endOffset: number }, forTime: (ts: number) => number): number {
  switch (from.kind) {
    case 'earliest':
      return offsets.startOffset;
    case 'latest':
      return offsets.endOffset;
    case 'offset':
      return Math.max(offsets.startOffset, from.offset);
    default:
      return forTime(from.timestamp);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(false);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

// ---- In a group ----

/** How long a poll waits before the command checks whether the group has caught up. */
const GROUP_POLL_MS = 200;

async function consumeInGroup(b: Broker, o: ConsumeOptions): Promise<void> {
  const group = o.group!;
  // Without --follow the command stops once the group has passed what the topic held when it started.
  const target = new Map(b.describeTopic(o.topic).partitions.map((p) => [p.partition, p.lastStableOffset]));
  const model = b.listGroups().includes(group) ? b.describeGroup(group).model : 'offset';
  const options = { group, topics: o.topic, start: startPosition(o.from) };
  const done = o.follow === true ? null : (): boolean => caughtUp(b, group, o.topic, target);
  if (model === 'ack') {
    const c = b.consumer({ ...options, model: 'ack' });
    await drain(c, o, done, (m) => m.ack());
  } else {
    await drain(b.consumer({ ...options, model: 'offset' }), o, done, () => undefined);
  }
}

/**
 * Polls `c` and prints what it gets until --max, `done()` after an empty poll, or an interruption
 * (following); `settle` acks a printed message in the ack model (the offset model commits at the
 * next poll and at close).
 */
async function drain<M extends ConsumedMessage>(c: Consumer<M>, o: ConsumeOptions, done: (() => boolean) | null, settle: (m: M) => unknown): Promise<void> {
  const printer = new Printer(o);
  const stop = done === null ? interruption() : null;
  try {
    while (!printer.full && stop?.signal.aborted !== true) {
      const room = o.max === undefined ? STEP : Math.min(STEP, o.max - printer.count);
      let messages: M[];
      try {
        messages = await c.poll(room, { timeoutMs: GROUP_POLL_MS, signal: stop?.signal });
      } catch (e) {
        if ((e as Error).name === 'AbortError') break; // interrupted while following
        throw e;
      }
      const settled: unknown[] = [];
      for (const m of messages) {
        printer.print(m.topic, m.partition, m.record);
        settled.push(settle(m));
      }
      await Promise.all(settled);
      if (messages.length === 0 && done?.() === true) break;
    }
  } finally {
    // Closing commits what was printed (offset model, autoCommit), durably.
    await c.close();
    stop?.dispose();
  }
}

function startPosition(from: Position): 'earliest' | 'latest' | { timestamp: number } {
  if (from.kind === 'time') return { timestamp: from.timestamp };
  return from.kind === 'latest' ? 'latest' : 'earliest';
}

/** Whether the group's position is at or past `target` in every partition of the topic. */
function caughtUp(b: Broker, group: string, topic: string, target: ReadonlyMap<number, number>): boolean {
  return b
    .describeGroup(group)
    .partitions.filter((p) => p.topic === topic)
    .every((p) => p.committedOffset >= (target.get(p.partition) ?? 0));
}

// ---- Output ----

class Printer {
  count = 0;
  readonly #o: ConsumeOptions;

  constructor(o: ConsumeOptions) {
    this.#o = o;
  }

  get full(): boolean {
    return this.#o.max !== undefined && this.count >= this.#o.max;
  }

  print(topic: string, partition: number, r: LogRecord): void {
    process.stdout.write(`${this.#o.format === 'json' ? JSON.stringify(asJson(topic, partition, r)) : (r.value?.toString() ?? '')}\n`);
    this.count++;
  }
}

function asJson(topic: string, partition: number, r: LogRecord): unknown {
  return {
    topic,
    partition,
    offset: r.offset,
    timestamp: r.timestamp,
    key: textOrBase64(r.key),
    value: textOrBase64(r.value),
    headers: Object.fromEntries(r.headers.map((h) => [h.key, textOrBase64(h.value)])),
  };
}
