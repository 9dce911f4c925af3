/**
 * Schedules: `broker.schedule(name, {every | cron, topic, message})` sends `message` to `topic`
 * on a recurring time, durably: the schedule is in the group state (SCHEDULE_SET, durable when
 * schedule() resolves), and each firing is a transaction that appends the message and records
 * [SCHEDULE_FIRED, name, at, next, generation] in one commit point, so a crash never fires one
 * time twice and never loses a firing whose message was confirmed.
 *
 * Times: `every` (ms, at least EVERY_MS_MIN) fires at start + k * every, `start` defaulting to
 * one period after the schedule was made; `cron` (five fields, or six with seconds first; croner) fires at
 * the expression's times in `timezone` (IANA name; default UTC). Each firing's message carries
 * the headers sluice.schedule (the name) and sluice.schedule.at (the time it was due, ms, which
 * is also its timestamp).
 *
 * Missed firings (one or more fell due while the broker was closed or the process down):
 * `missed: 'once'` (the default) fires once at open for all of them, stamped with the first
 * missed time, then goes on from the next time after now; `'skip'` fires none and goes on from
 * the next time after now. Firings late while running (a busy process, a full topic) coalesce
 * the same way: one, then the next time after now. A keyless message goes to the partition the
 * schedule's name hashes to (all its firings in order). A schedule whose expression has no next
 * time stops (next null).
 * Redefining a schedule by name replaces it (its generation goes up, so a firing of the old one
 * still in progress does not move the new one's times). Thread-confined.
 */
import { Cron } from 'croner';
import { ErrorCode, SluiceError } from '../../errors';
import type { Message } from '../../storage/log';
import { checkKeys, oneOf, optionsObject } from '../../validate';
import { OP_SCHEDULE_FIRED, type GroupState, type ScheduleRecord, type ScheduleSpec } from '../group/group-state';
import type { GroupStateLog } from '../group/group-state-log';
import { keyPartition } from '../produce/partitioner';
import type { ProducerMessage } from '../produce/producer';
import type { Clock, TimerHandle } from '../time/clock';
import type { Topic } from '../topic/topic';
import type { Transaction } from '../txn/transaction';

import { SCHEDULE_HEADERS } from '../codec/reserved-headers';
export { SCHEDULE_HEADERS };
/** The shortest `every`. */
export const EVERY_MS_MIN = 100;
const RETRY_MS = 1000;
const NAME = /^[A-Za-z0-9._-]{1,249}$/;

export interface ScheduleOptions {
  /** Fire every this many ms (at least EVERY_MS_MIN), from `start`. */
  every?: number;
  /** Or a cron expression: five fields, or six with seconds first. */
  cron?: string;
  /** The IANA time zone of `cron` (default UTC). */
  timezone?: string;
  /** `every`: the first firing time (Date or ms; default now + every). */
  start?: Date | number;
  topic: string;
  /** What to send each time: value, key, headers, partition (no delays or expiry). */
  message: ProducerMessage;
  /** What a restart does with firings it missed (default 'once'). */
  missed?: 'once' | 'skip';
}

export interface ScheduleDescription {
  name: string;
  every: number | null;
  cron: string | null;
  timezone: string | null;
  topic: string;
  missed: 'once' | 'skip';
  /** The next firing time (ms), or null if it will not fire again. */
  next: number | null;
  /** The due time of the last firing done (ms), or null. */
  lastFiredFor: number | null;
}

/** What the scheduler needs of the broker. */
export interface ScheduleLink {
  readonly clock: Clock;
  readonly state: GroupState;
  readonly groupLog: GroupStateLog;
  topic(name: string): Topic | undefined;
  /** `message` validated and encoded as `topic` stores it (throws for bad input). */
  encode(topic: string, message: ProducerMessage): { partition: number | null; message: Message };
  transaction(fn: (tx: Transaction) => Promise<void>): Promise<void>;
}

const OPTION_KEYS = new Set(['every', 'cron', 'timezone', 'start', 'topic', 'message', 'missed']);

export class Scheduler {
  readonly #link: ScheduleLink;
  /** Per armed schedule, what cancels its timer. */
  readonly #timers = new Map<string, () => void>();
  /** When start() ran: a firing due before it was missed (the broker was not running). */
  #startedAt = Infinity;
  readonly #firing = new Map<string, Promise<void>>();
  #closed = false;

  constructor(link: ScheduleLink) {
    this.#link = link;
  }

  /** Arms every stored schedule; missed firings are handled by their policy. */
  start(): void {
    this.#startedAt = this.#link.clock.now();
    for (const r of this.#link.state.schedules.values()) this.#arm(r);
  }

  /** Defines (or replaces) a schedule; resolves once it is durable, with its description. */
  async define(name: string, options: ScheduleOptions): Promise<ScheduleDescription> {
    if (typeof name !== 'string' || !NAME.test(name)) throw new RangeError(`invalid schedule name ${JSON.stringify(name)}: use 1 to 249 of a-z A-Z 0-9 . _ -`);
    const spec = this.#spec(name, options);
    this.#disarm(name);
    const r = this.#link.state.setSchedule(name, spec);
    await this.#link.groupLog.confirm();
    // Replaced or removed meanwhile: that one is armed (or not) by whoever did it.
    if (this.#link.state.schedules.get(name) === r) this.#arm(r);
    return describeSchedule(r);
  }

  /** Removes a schedule; false if there was none. A firing in progress finishes. */
  async remove(name: string): Promise<boolean> {
    if (!this.#link.state.schedules.has(name)) return false;
    this.#disarm(name);
    this.#link.state.deleteSchedule(name);
    await this.#link.groupLog.confirm();
    return true;
  }

  list(): ScheduleDescription[] {
    return [...this.#link.state.schedules.values()].map(describeSchedule);
  }

  /** Stops firing; waits for firings in progress. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const name of [...this.#timers.keys()]) this.#disarm(name);
    await Promise.allSettled(this.#firing.values());
  }

  // ---- Internals ----

  #spec(name: string, options: ScheduleOptions): ScheduleSpec {
    const o = optionsObject(options, 'schedule options');
    checkKeys(o, OPTION_KEYS, 'schedule option');
    const now = this.#link.clock.now();
    if ((o.every === undefined) === (o.cron === undefined)) throw new TypeError(`schedule ${name}: give every or cron (one of them)`);
    if (typeof o.topic !== 'string') throw new TypeError(`schedule ${name}: topic must be a string`);
    if (this.#link.topic(o.topic) === undefined) throw new SluiceError(`schedule ${name}: no topic ${JSON.stringify(o.topic)}`, ErrorCode.UNKNOWN_TOPIC);
    const message = options.message;
    if (message === null || typeof message !== 'object') throw new TypeError(`schedule ${name}: message must be an object {value, key?, headers?, partition?}`);
    if (message.delayMs !== undefined || message.deliverAt !== undefined || message.ttlMs !== undefined || message.timestamp !== undefined) {
      throw new TypeError(`schedule ${name}: a scheduled message has no delayMs, deliverAt, ttlMs or timestamp (each firing is stamped with its time)`);
    }
    const encoded = this.#link.encode(o.topic, message);
    const missed = oneOf(o.missed, 'missed', ['once', 'skip'] as const, 'once');
    const generation = (this.#link.state.schedules.get(name)?.spec.generation ?? 0) + 1;
    const stored = storedMessage(encoded.message, encoded.partition);
    const base = { topic: o.topic, message: stored, missed, createdAt: now, generation };
    if (o.every !== undefined) {
      if (typeof o.every !== 'number' || !Number.isSafeInteger(o.every) || o.every < EVERY_MS_MIN) throw new RangeError(`schedule ${name}: every must be an integer of at least ${EVERY_MS_MIN} ms, got ${String(o.every)}`);
      if (o.timezone !== undefined) throw new TypeError(`schedule ${name}: timezone is for cron schedules`);
      const first = startTime(name, o.start, now + o.every);
      return { ...base, every: o.every, first, next: first };
    }
    if (o.start !== undefined) throw new TypeError(`schedule ${name}: start is for every schedules`);
    if (typeof o.cron !== 'string') throw new TypeError(`schedule ${name}: cron must be a string`);
    if (o.timezone !== undefined && typeof o.timezone !== 'string') throw new TypeError(`schedule ${name}: timezone must be an IANA time zone name`);
    const spec: ScheduleSpec = { ...base, cron: o.cron, next: null };
    if (o.timezone !== undefined) spec.timezone = o.timezone;
    spec.next = nextTime(spec, now, name);
    return spec;
  }

  #arm(r: ScheduleRecord): void {
    if (this.#closed || r.next === null || this.#firing.has(r.name)) return;
    this.#after(r.name, r.next - this.#link.clock.now());
  }

  /** Calls #due(name) in `ms` (on the next turn if not positive: a manual clock runs timers only when advanced). */
  #after(name: string, ms: number): void {
    this.#disarm(name); // one timer per schedule
    const clock = this.#link.clock;
    if (ms <= 0) {
      const i = setImmediate(() => this.#due(name));
      this.#timers.set(name, () => clearImmediate(i));
    } else {
      const t: TimerHandle = clock.setTimeout(() => this.#due(name), ms);
      this.#timers.set(name, () => clock.clearTimeout(t));
    }
  }

  #disarm(name: string): void {
    const cancel = this.#timers.get(name);
    if (cancel === undefined) return;
    this.#timers.delete(name);
    cancel();
  }

  #due(name: string): void {
    this.#timers.delete(name);
    const r = this.#link.state.schedules.get(name);
    if (this.#closed || r === undefined || r.next === null || this.#firing.has(name)) return;
    const now = this.#link.clock.now();
    if (r.next > now) {
      this.#arm(r);
      return;
    }
    const at = r.next;
    const firing = this.#fire(r, now).then(
      () => {
        this.#firing.delete(name);
        const current = this.#link.state.schedules.get(name);
        if (current !== undefined) this.#arm(current);
      },
      () => {
        this.#firing.delete(name);
        // Failed before its commit point (a full topic, a failed write): again shortly. After it,
        // the firing is recorded and the schedule goes on. A replacement defined meanwhile is armed.
        const current = this.#link.state.schedules.get(name);
        if (this.#closed || current === undefined) return;
        if (current === r && r.next === at) this.#after(name, RETRY_MS);
        else this.#arm(current);
      },
    );
    this.#firing.set(name, firing);
  }

  /**
   * One firing: the message and SCHEDULE_FIRED in one transaction. A firing due before the
   * broker started was missed: 'skip' records it without a message. Either way the next time is
   * the first after now (late firings coalesce into one).
   */
  async #fire(r: ScheduleRecord, now: number): Promise<void> {
    const at = r.next!;
    const spec = r.spec;
    const next = nextTime(spec, now, r.name);
    const send = !(spec.missed === 'skip' && at < this.#startedAt);
    const t = this.#link.topic(spec.topic);
    await this.#link.transaction(async (tx) => {
      if (send && t !== undefined) {
        const m = spec.message;
        const partition = m.partition ?? keyPartition(m.key ?? r.name, t.partitions.length);
        if (partition < t.partitions.length) await tx.appendStored(t, partition, firingMessage(r.name, m, at));
      }
      tx.recordOnCommit([OP_SCHEDULE_FIRED, r.name, at, next, spec.generation]);
    });
  }
}

function describeSchedule(r: ScheduleRecord): ScheduleDescription {
  const s = r.spec;
  return { name: r.name, every: s.every ?? null, cron: s.cron ?? null, timezone: s.timezone ?? null, topic: s.topic, missed: s.missed, next: r.next, lastFiredFor: r.lastFiredFor };
}

/** The next firing time strictly after `after` (null: none). */
function nextTime(spec: ScheduleSpec, after: number, name: string): number | null {
  if (spec.every !== undefined) {
    const first = spec.first!;
    if (first > after) return first;
    return first + (Math.floor((after - first) / spec.every) + 1) * spec.every;
  }
  try {
    const d = new Cron(spec.cron!, { paused: true, timezone: spec.timezone ?? 'Etc/UTC' }).nextRun(new Date(after));
    return d === null ? null : d.getTime();
  } catch (e) {
    throw new RangeError(`schedule ${name}: invalid cron expression ${JSON.stringify(spec.cron)}${spec.timezone === undefined ? '' : ` or time zone ${JSON.stringify(spec.timezone)}`}: ${(e as Error).message}`);
  }
}

function startTime(name: string, start: unknown, dflt: number): number {
  if (start === undefined) return dflt;
  const t = start instanceof Date ? start.getTime() : start;
  if (typeof t !== 'number' || !Number.isSafeInteger(t) || t < 0) throw new TypeError(`schedule ${name}: start must be a Date or a non-negative integer number of ms since the epoch`);
  return t;
}

function storedMessage(m: Message, partition: number | null): ScheduleSpec['message'] {
  const headers: [string, Uint8Array | null][] = [];
  const h = m.headers;
  if (Array.isArray(h)) for (const [k, v] of h as ReadonlyArray<readonly [string, string | Uint8Array | null]>) headers.push([k, typeof v === 'string' ? Buffer.from(v) : v]);
  else if (h !== undefined) for (const [k, v] of Object.entries(h as Record<string, string | Uint8Array | null>)) headers.push([k, typeof v === 'string' ? Buffer.from(v) : v]);
  const value = typeof m.value === 'string' ? Buffer.from(m.value) : m.value;
  const out: ScheduleSpec['message'] = { key: m.key ?? null, value, headers };
  if (partition !== null) out.partition = partition;
  return out;
}

function firingMessage(name: string, m: ScheduleSpec['message'], at: number): Message {
  const headers: [string, string | Uint8Array | null][] = [...m.headers, [SCHEDULE_HEADERS.name, name], [SCHEDULE_HEADERS.at, String(at)]];
  return { key: m.key, value: m.value, headers, timestamp: at };
}


