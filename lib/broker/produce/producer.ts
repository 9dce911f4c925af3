/**
 * Producers: send one message or a batch to a topic and get confirms {topic, partition, offset,
 * durable} once the partition Logs have them (as durable as the topic's sync policy: on stable
 * storage under 'always', sealed and readable otherwise, with `durable` saying which).
 *
 * A batch is validated and encoded whole before anything is appended (a bad message fails the
 * batch with nothing written, its index in the caller's batch in the error; message sizes are
 * checked here too when the batch spans partitions, because each partition's appendBatch only
 * checks its own share and one too large would fail after others were written), grouped by partition, appended with one Log.appendBatch per
 * partition, and confirmed with one Log confirm callback per partition; the batch's order is kept
 * within each partition. Bounded topics admit the batch as a whole (see backlog-gate.ts).
 * A Producer holds no resources; it is a view of the broker with a partitioner.
 */
import type { Bytes, HeadersInput, Message as LogMessage } from '../../storage/log';
import type { ProducerMessage } from './producer-message';
import { EXPIRES_HEADER } from '../topic/ttl';
import { byteLength, checkSize } from '../../storage/batch-stager';
import { payloadBytesSurelyFitting } from '../../limits';
import { encodeHeaders } from '../../storage/record-headers';
import { checkKeys, optionalDuration, optionsObject } from '../../validate';
import type { Clock } from '../time/clock';
import { checkPartitionResult, keyPartition, KeylessRotation, type Partitioner } from './partitioner';
import type { Topic } from '../topic/topic';
import { messageBytesMaxOf } from '../topic/topic-config';
import { checkUserHeaders, isRawValue, packValue, viewAsBytes, withCodecHeader } from '../codec/value-codec';
import { dueTimeOf } from '../delay/due-time';
import { checkId, ID_HEADER, type IdConfirm } from '../topic/dedup-window';
import type { DelayedMessage } from '../delay/delay-store';
import type { PreparedMessage } from '../txn/half-messages';

export type { ProducerMessage } from './producer-message';

export interface SendOptions {
  /** When the topic is full, wait this long for room before failing with QUEUE_FULL. Default 0. */
  timeoutMs?: number;
}

export interface SendConfirm {
  topic: string;
  partition: number;
  offset: number;
  /** Whether the message is on stable storage (always true for topics with sync 'always'). */
  durable: boolean;
  /**
   * A delayed message: when it is due (ms since the epoch). It is durable in the delay store, and
   * `offset` is -1 until it is moved into its topic then.
   */
  deliverAt?: number;
  /** A delayed message: its place in the delay store, for `broker.explain({delayId})`. */
  delayId?: number;
  /** A send with an id that was sent before (within the dedup window): nothing was written; this is where the first one went. */
  duplicate?: true;
}

export interface ProducerOptions {
  /** Chooses the partition of messages without an explicit one (default: Kafka's, see partitioner.ts). */
  partitioner?: Partitioner;
}

/** What the broker lends a producer. */
export interface ProducerLink {
  topic(name: unknown): Topic;
  clock: Clock;
  /** True when the clock is the system clock (the Log stamps messages itself). */
  systemClock: boolean;
  /** Stores delayed messages (resolves once they are durable). */
  /** Stores delayed messages durably; resolves with the delay id of the first (the others follow). */
  delay(messages: readonly DelayedMessage[]): Promise<number>;
  /** Stores a half message (resolves once it is durable). */
  prepare(topic: Topic, partition: number, message: LogMessage): Promise<PreparedMessage>;
}

type Prepared = Bytes | null | LogMessage;

export class Producer {
  readonly #link: ProducerLink;
  readonly #partitioner: Partitioner | undefined;
  readonly #rotation = new KeylessRotation();
  /** The keyless partition of the send being routed (-1: not taken yet): one per send or batch. */
  #keyless = -1;
  readonly #systemClock: boolean;

  /** @internal Made by Broker.producer(). */
  constructor(link: ProducerLink, options: ProducerOptions = {}) {
    if (options === null || typeof options !== 'object') throw new TypeError('producer options must be an object');
    if (options.partitioner !== undefined && typeof options.partitioner !== 'function') throw new TypeError('partitioner must be a function');
    this.#link = link;
    this.#systemClock = link.systemClock;
    this.#partitioner = options.partitioner;
  }

  /** Sends one message; resolves with its confirm. */
  async send(topic: string, message: ProducerMessage, options?: SendOptions): Promise<SendConfirm> {
    const t = this.#link.topic(topic);
    const waitMs = checkSendOptions(options);
    if (message !== null && typeof message === 'object' && message.id !== undefined) return (await this.#sendWithIds(t, [message], waitMs))[0];
    return this.#sendOne(t, message, waitMs);
  }

  async #sendOne(t: Topic, message: ProducerMessage, waitMs: number | undefined): Promise<SendConfirm> {
    this.#keyless = -1;
    const partition = this.#partitionOf(t, message, 0);
    const due = dueTimeOf(message, 0, this.#link.clock.now());
    if (due !== null) return (await this.#sendDelayed(t, [message]))[0];
    const prepared = this.#prepare(message, 0);
    const tp = t.partitions[partition];
    const offset = await t.gate.admit(1, waitMs, () => tp.append([prepared]));
    return new Promise((resolve, reject) => {
      tp.confirm(offset, (err, c) => {
        if (err !== null) reject(err);
        else resolve({ topic: t.name, partition, offset, durable: c!.durable });
      });
    });
  }

  /**
   * A half message (txn/half-messages.ts): stored durably, invisible to consumers and holding
   * nothing back, until the handle's commit() delivers it or rollback() drops it; one left
   * unresolved is settled by the broker's onTransactionCheck callback, also after a restart.
   */
  async prepare(topic: string, message: ProducerMessage): Promise<PreparedMessage> {
    if (message !== null && typeof message === 'object' && (message.delayMs !== undefined || message.deliverAt !== undefined || message.id !== undefined)) {
      throw new TypeError('a half message has no delayMs, deliverAt or id');
    }
    const { topic: t, partition, prepared } = this.route(topic, message);
    return this.#link.prepare(t, partition, asMessage(prepared));
  }

  /**
   * @internal One message validated, routed and encoded, not appended (a transaction appends it
   * as its own): its topic, partition and bytes.
   */
  route(topic: string, message: ProducerMessage): { topic: Topic; partition: number; prepared: Prepared } {
    const t = this.#link.topic(topic);
    this.#keyless = -1;
    const partition = this.#partitionOf(t, message, 0);
    if (message.delayMs !== undefined || message.deliverAt !== undefined) throw new TypeError('a transaction cannot send delayed messages (delayMs, deliverAt)');
    if (message.id !== undefined) throw new TypeError('a transaction sends each message once already: id is for send and sendBatch');
    return { topic: t, partition, prepared: this.#prepare(message, 0) };
  }

  /** Sends messages in one go; resolves with their confirms, in the batch's order. */
  sendBatch(topic: string, messages: readonly ProducerMessage[], options?: SendOptions): Promise<SendConfirm[]> {
    // Not an async function: a batch admitted at once (the common case) costs one promise, not
    // three, and no hop through the microtask queue before its confirm is requested.
    try {
      const t = this.#link.topic(topic);
      const waitMs = checkSendOptions(options);
      if (!Array.isArray(messages)) throw new TypeError('sendBatch takes an array of messages');
      if (messages.length === 0) return Promise.resolve([]);
      const batch = this.#route(t, messages);
      if (batch === WITH_IDS) return this.#sendWithIds(t, messages, waitMs);
      if (batch.delayed) return this.#sendMixed(t, messages, waitMs);
      const firsts = t.gate.admit(messages.length, waitMs, () => appendGroups(t, batch.groups));
      if (firsts instanceof Promise) return firsts.then((f) => confirmBatch(t, batch, f));
      return confirmBatch(t, batch, firsts);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Validates, encodes and routes a batch, before anything is appended. */
  #route(t: Topic, messages: readonly ProducerMessage[]): RoutedBatch {
    const n = messages.length;
    const partitions = t.config.partitions;
    this.#keyless = -1;
    if (partitions === 1) {
      const all = new Array<Prepared>(n);
      for (let i = 0; i < n; i++) {
        const m = messages[i];
        this.#partitionOf(t, m, i);
        if (m.id !== undefined && !this.#idsChecked) return WITH_IDS;
        if (m.delayMs !== undefined || m.deliverAt !== undefined) return DELAYED;
        all[i] = this.#prepare(m, i);
      }
      return { n, groups: [all], where: null, only: 0, delayed: false };
    }
    const groups: Prepared[][] = new Array(partitions);
    let where: Int32Array | null = null;
    let only = -1;
    for (let i = 0; i < n; i++) {
      const m = messages[i];
      const p = this.#partitionOf(t, m, i);
      if (m.id !== undefined && !this.#idsChecked) return WITH_IDS;
      if (m.delayMs !== undefined || m.deliverAt !== undefined) return DELAYED;
      if (i === 0) only = p;
      else if (p !== only && where === null) {
        // The batch spans partitions: from here on each message's partition is remembered.
        where = new Int32Array(n).fill(only, 0, i);
      }
      if (where !== null) where[i] = p;
      (groups[p] ??= []).push(this.#prepare(m, i));
    }
    if (where !== null) {
      const prepared = new Array<Prepared>(n);
      const next = new Int32Array(partitions);
      for (let i = 0; i < n; i++) prepared[i] = groups[where[i]][next[where[i]]++];
      checkSizes(prepared, messageBytesMaxOf(t.config));
    }
    return { n, groups, where, only, delayed: false };
  }

  /**
   * A send or batch with ids: each id already in the topic's window (or earlier in the batch)
   * gets that confirm, marked duplicate; the others are sent as one batch, their ids remembered
   * with it before anything else can run.
   */
  async #sendWithIds(t: Topic, messages: readonly ProducerMessage[], waitMs: number | undefined): Promise<SendConfirm[]> {
    const now = this.#link.clock.now();
    const ids = messages.map((m, i) => {
      if (m === null || typeof m !== 'object' || m.id === undefined) return undefined;
      if (m.delayMs !== undefined || m.deliverAt !== undefined) throw new TypeError(`message ${i}: a delayed message cannot have an id`);
      return checkId(m.id, i);
    });
    const window = t.dedup;
    await window.ready(now);
    // Per message: sent now (its index among the fresh), or a duplicate of a fresh one or of the window's.
    const plan: ({ fresh: number } | { sameAs: number } | { seen: IdConfirm | Promise<IdConfirm> })[] = new Array(messages.length);
    const inBatch = new Map<string, number>();
    const fresh: ProducerMessage[] = [];
    for (let i = 0; i < messages.length; i++) {
      const id = ids[i];
      const seen = id === undefined ? undefined : window.lookup(id, now);
      const same = id === undefined ? undefined : inBatch.get(id);
      if (seen !== undefined) plan[i] = { seen };
      else if (same !== undefined) plan[i] = { sameAs: same };
      else {
        if (id !== undefined) inBatch.set(id, fresh.length);
        plan[i] = { fresh: fresh.length };
        fresh.push(messages[i]);
      }
    }
    const sending = fresh.length === 0 ? Promise.resolve([]) : this.#sendChecked(t, fresh, waitMs);
    // Aged by the messages' timestamps, as a rebuild from the log ages them.
    for (const [id, j] of inBatch) window.remember(id, fresh[j].timestamp ?? now, sending.then((cs) => idConfirm(cs[j])));
    const confirms = await sending;
    return Promise.all(
      plan.map(async (p) => {
        if ('fresh' in p) return confirms[p.fresh];
        if ('sameAs' in p) return duplicateOf(t, idConfirm(confirms[p.sameAs]));
        return duplicateOf(t, await p.seen);
      }),
    );
  }

  /** sendBatch for messages whose ids were checked. */
  #sendChecked(t: Topic, messages: readonly ProducerMessage[], waitMs: number | undefined): Promise<SendConfirm[]> {
    this.#idsChecked = true;
    try {
      return this.sendBatch(t.name, messages, waitMs === undefined ? undefined : { timeoutMs: waitMs });
    } finally {
      this.#idsChecked = false;
    }
  }
  #idsChecked = false;

  /**
   * Delayed messages (every one of `messages` is): validated and encoded whole, then stored in
   * the delay store at once; their confirms say when each is due.
   */
  async #sendDelayed(t: Topic, messages: readonly ProducerMessage[]): Promise<SendConfirm[]> {
    const now = this.#link.clock.now();
    const delayed: DelayedMessage[] = [];
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i];
      const partition = this.#partitionOf(t, m, i);
      if (m.id !== undefined) throw new TypeError(`message ${i}: a delayed message cannot have an id`);
      const deliverAt = dueTimeOf(m, i, now) ?? now;
      delayed.push({ topic: t.name, partition, deliverAt, message: asMessage(this.#prepare(m, i, deliverAt)) });
    }
    checkSizes(delayed.map((d) => d.message), messageBytesMaxOf(t.config));
    const first = await this.#link.delay(delayed);
    return delayed.map((d, i) => ({ topic: t.name, partition: d.partition, offset: -1, durable: true, deliverAt: d.deliverAt, delayId: first + i }));
  }

  /**
   * A batch with delayed messages: those due later go to the delay store, the others are sent
   * (two steps: a failure of the second leaves the first done). Confirms in the batch's order.
   */
  async #sendMixed(t: Topic, messages: readonly ProducerMessage[], waitMs: number | undefined): Promise<SendConfirm[]> {
    const now = this.#link.clock.now();
    const later: ProducerMessage[] = [];
    const nowOnes: ProducerMessage[] = [];
    const isLater = messages.map((m, i) => dueTimeOf(m, i, now) !== null);
    for (let i = 0; i < messages.length; i++) (isLater[i] ? later : nowOnes).push(isLater[i] ? messages[i] : withoutDelay(messages[i]));
    const sent = nowOnes.length === 0 ? [] : await this.sendBatch(t.name, nowOnes, waitMs === undefined ? undefined : { timeoutMs: waitMs });
    const stored = later.length === 0 ? [] : await this.#sendDelayed(t, later);
    let a = 0;
    let b = 0;
    return isLater.map((l) => (l ? stored[b++] : sent[a++]));
  }

  #partitionOf(t: Topic, m: ProducerMessage, index: number): number {
    if (m === null || typeof m !== 'object') throw new TypeError(`message ${index} must be an object {value, key?, headers?, timestamp?, partition?}`);
    checkMessageFields(m, index);
    const partitions = t.config.partitions;
    if (m.partition !== undefined) {
      if (typeof m.partition !== 'number' || !Number.isInteger(m.partition)) throw new TypeError(`message ${index}: partition must be an integer`);
      if (m.partition < 0 || m.partition >= partitions) {
        throw new RangeError(`message ${index}: partition ${m.partition} does not exist (topic ${t.name} has partitions 0 to ${partitions - 1})`);
      }
      return m.partition;
    }
    const key = m.key ?? null;
    if (key !== null && typeof key !== 'string' && !(key instanceof Uint8Array)) throw new TypeError(`message ${index}: key must be a string, Buffer, Uint8Array or null`);
    if (this.#partitioner !== undefined) {
      return checkPartitionResult(this.#partitioner({ topic: t.name, partitions, key, value: m.value }), partitions, t.name);
    }
    if (partitions === 1) return 0;
    if (key !== null) return keyPartition(key, partitions);
    if (this.#keyless < 0) this.#keyless = this.#rotation.take(t.name, partitions);
    return this.#keyless;
  }

  /** `m` encoded as its topic stores it; `deliverAt`: a delayed message's due time (its ttlMs counts from then). */
  #prepare(m: ProducerMessage, index: number, deliverAt?: number): Prepared {
    const value = viewAsBytes(m.value);
    const key = m.key ?? null;
    let timestamp = m.timestamp;
    // The common case: bytes, no key, headers or timestamp, stamped by the Log itself.
    if (key === null && timestamp === undefined && m.headers === undefined && m.ttlMs === undefined && m.id === undefined && deliverAt === undefined && this.#systemClock && (value instanceof Uint8Array || typeof value === 'string')) {
      return value;
    }
    if (value === undefined) throw new TypeError(`message ${index}: value is missing (use null for an empty value)`);
    const raw = isRawValue(value);
    if (m.headers !== undefined) checkUserHeaders(m.headers);
    // A delayed message is stamped with its due time (when it enters its topic).
    if (timestamp === undefined) timestamp = deliverAt ?? (this.#systemClock ? undefined : this.#link.clock.now());
    else if (timestamp !== undefined && (typeof timestamp !== 'number' || !Number.isSafeInteger(timestamp) || timestamp < 0)) {
      throw new RangeError(`message ${index}: timestamp must be a non-negative integer number of milliseconds`);
    }
    if (raw && key === null && m.headers === undefined && timestamp === undefined && m.ttlMs === undefined && m.id === undefined) return value;
    const bytes = raw ? value : packValue(value, index);
    let headers = raw ? m.headers : withCodecHeader(m.headers);
    if (m.ttlMs !== undefined) {
      if (typeof m.ttlMs !== 'number' || !Number.isSafeInteger(m.ttlMs) || m.ttlMs <= 0) throw new RangeError(`message ${index}: ttlMs must be a positive integer number of milliseconds, got ${String(m.ttlMs)}`);
      const at = (timestamp ?? deliverAt ?? this.#link.clock.now()) + m.ttlMs;
      if (!Number.isSafeInteger(at)) throw new RangeError(`message ${index}: ttlMs ${m.ttlMs} runs past the largest time`);
      headers = withHeader(headers, EXPIRES_HEADER, String(at));
    }
    if (m.id !== undefined) headers = withHeader(headers, ID_HEADER, m.id);
    const out: LogMessage = { value: bytes, key };
    if (headers !== undefined) out.headers = headers;
    if (timestamp !== undefined) out.timestamp = timestamp;
    return out;
  }
}

/** A batch ready to append: its messages grouped by partition, and where each went. */
interface RoutedBatch {
  n: number;
  groups: Prepared[][];
  /** Each message's partition; null when they all went to `only`. */
  where: Int32Array | null;
  only: number;
  /** The batch has delayed messages: sent another way (nothing else is filled in). */
  delayed: boolean;
}
const DELAYED: RoutedBatch = Object.freeze({ n: 0, groups: [], where: null, only: -1, delayed: true });
/** The batch has messages with ids: sent through the topic's dedup window. */
const WITH_IDS: RoutedBatch = Object.freeze({ n: 0, groups: [], where: null, only: -1, delayed: false });

function idConfirm(c: SendConfirm): IdConfirm {
  return { partition: c.partition, offset: c.offset, durable: c.durable };
}

function duplicateOf(t: Topic, c: IdConfirm): SendConfirm {
  return { topic: t.name, partition: c.partition, offset: c.offset, durable: c.durable, duplicate: true };
}

/** A prepared message as a Message (the delay store and schedules add headers of their own). */
export function asMessage(p: Prepared): LogMessage {
  if (p === null || typeof p === 'string' || p instanceof Uint8Array) return { value: p, key: null };
  return p;
}

function withoutDelay(m: ProducerMessage): ProducerMessage {
  const { delayMs: _d, deliverAt: _a, ...rest } = m;
  return rest;
}

/** Appends each partition's share (one Log.appendBatch each); returns each one's first offset. */
function appendGroups(t: Topic, groups: Prepared[][]): number[] {
  const out = new Array<number>(groups.length);
  for (let p = 0; p < groups.length; p++) {
    const g = groups[p];
    if (g !== undefined) out[p] = t.partitions[p].append(g);
  }
  return out;
}

/** One confirm per partition, then the per-message confirms in the batch's order. */
function confirmBatch(t: Topic, batch: RoutedBatch, firsts: number[]): Promise<SendConfirm[]> {
  const { n, groups, where, only } = batch;
  const promise = new Promise<SendConfirm[]>(capture);
  const resolve = captured.resolve!;
  const reject = captured.reject!;
  if (where === null) {
    // One partition: its confirm is the batch's.
    const first = firsts[only];
    t.partitions[only].confirm(first + n - 1, (err, c) => {
      if (err !== null) {
        reject(err);
        return;
      }
      const confirms = new Array<SendConfirm>(n);
      const durable = c!.durable;
      for (let i = 0; i < n; i++) confirms[i] = { topic: t.name, partition: only, offset: first + i, durable };
      resolve(confirms);
    });
    return promise;
  }
  const durable = new Array<boolean>(groups.length);
  let pending = 0;
  let failed = false;
  for (let p = 0; p < groups.length; p++) {
    const g = groups[p];
    if (g === undefined) continue;
    pending++;
    t.partitions[p].confirm(firsts[p] + g.length - 1, (err, c) => {
      if (failed) return;
      if (err !== null) {
        failed = true;
        reject(err);
        return;
      }
      durable[p] = c!.durable;
      if (--pending > 0) return;
      const next = firsts.slice();
      const confirms = new Array<SendConfirm>(n);
      for (let i = 0; i < n; i++) {
        const q = where[i];
        confirms[i] = { topic: t.name, partition: q, offset: next[q]++, durable: durable[q] };
      }
      resolve(confirms);
    });
  }
  return promise;
}

// The executor of confirmBatch's promise, shared (it runs synchronously, in the constructor): a
// closure per batch would be garbage.
const captured: { resolve: ((v: SendConfirm[]) => void) | null; reject: ((e: unknown) => void) | null } = { resolve: null, reject: null };
function capture(resolve: (v: SendConfirm[]) => void, reject: (e: unknown) => void): void {
  captured.resolve = resolve;
  captured.reject = reject;
}

/** TOO_LARGE (with the caller's index) for a message its partition's Log would refuse. */
function checkSizes(prepared: readonly Prepared[], messageBytesMax: number): void {
  const quickLimit = payloadBytesSurelyFitting(messageBytesMax);
  for (let i = 0; i < prepared.length; i++) {
    const m = prepared[i];
    let keyLen = -1;
    let valueLen: number;
    let headersLen = 0;
    if (m === null || typeof m === 'string' || m instanceof Uint8Array) {
      const quick = m === null ? 0 : typeof m === 'string' ? m.length * 3 : m.byteLength;
      if (quick <= quickLimit) continue;
      valueLen = byteLength(m);
    } else {
      keyLen = byteLength(m.key ?? null);
      valueLen = byteLength(m.value);
      headersLen = m.headers === undefined ? 0 : (encodeHeaders(m.headers)?.length ?? 0);
    }
    checkSize(keyLen, valueLen, headersLen, i, messageBytesMax);
  }
}

/** TypeError for a field a message may not have (a typo would otherwise be silently ignored). */
function checkMessageFields(m: object, index: number): void {
  for (const k in m) {
    if (k !== 'value' && k !== 'key' && k !== 'headers' && k !== 'timestamp' && k !== 'partition' && k !== 'ttlMs' && k !== 'delayMs' && k !== 'deliverAt' && k !== 'id') {
      throw new TypeError(`message ${index}: unknown field ${JSON.stringify(k)} (a message has value, key, headers, timestamp, partition, ttlMs, delayMs, deliverAt and id)`);
    }
  }
}

const SEND_KEYS = new Set(['timeoutMs']);

function checkSendOptions(options: SendOptions | undefined): number | undefined {
  if (options === undefined) return undefined;
  const o = optionsObject(options, 'send options');
  checkKeys(o, SEND_KEYS, 'send option');
  const t = o.timeoutMs;
  return optionalDuration(t, 'timeoutMs');
}

/** `headers` with one more header (either input form). */
function withHeader(headers: HeadersInput | undefined, key: string, value: string): HeadersInput {
  if (headers === undefined) return { [key]: value };
  if (Array.isArray(headers)) return [...(headers as ReadonlyArray<readonly [string, string | Uint8Array | null]>), [key, value]];
  return { ...(headers as Record<string, string | Uint8Array | null>), [key]: value };
}
