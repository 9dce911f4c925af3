/**
 * What consumers receive. A message wraps the Log record it was read from: key, value and header
 * values are zero-copy views of the partition's segment (valid for as long as the message is
 * referenced, even after the broker closes). `value` is decoded on first access when the producer
 * sent a non-byte value (msgpack), and is the stored Buffer otherwise; the codec header is hidden.
 * A value marked msgpack that does not decode (written by another client) makes `value` throw
 * UNDECODABLE, on every access.
 *
 * OffsetMessage (offset model) and AckMessage (ack model) add what each model needs. Both are
 * created on the consumer's hot path, so construction only stores references.
 */
import { ErrorCode, SluiceError } from '../../errors';
import type { LogRecord, RecordHeader } from '../../storage/log';
import type { StateConfirm } from '../group/state-confirm';
import { duration } from '../../validate';
import { CODEC_HEADER, isPacked, MSGPACK, unpackValue, userHeaders } from '../codec/value-codec';

const UNDECODED: unique symbol = Symbol('undecoded');

export abstract class ConsumedMessage {
  /** @internal */ readonly record: LogRecord;
  #value: unknown = UNDECODED;

  constructor(record: LogRecord) {
    this.record = record;
  }

  abstract get topic(): string;
  abstract get partition(): number;

  get offset(): number {
    return this.record.offset;
  }

  /** Milliseconds since the epoch: the producer's timestamp, or the broker clock's at send. */
  get timestamp(): number {
    return this.record.timestamp;
  }

  get key(): Buffer | null {
    return this.record.key;
  }

  /**
   * The value: a Buffer for byte and string values (or null), the decoded value for anything else.
   * Throws UNDECODABLE if the value is marked msgpack but its bytes do not decode.
   */
  get value(): unknown {
    if (this.#value === UNDECODED) {
      const r = this.record;
      this.#value = r.value !== null && r.headers.length > 0 && isPacked(r.headers) ? this.#decode(r.value) : r.value;
    }
    return this.#value;
  }

  /** @internal Decodes a packed value now, so that run() can fail its delivery before the handler sees it. */
  decodeValue(): void {
    if (this.#value === UNDECODED && this.record.headers.length > 0) void this.value;
  }

  #decode(bytes: Buffer): unknown {
    try {
      return unpackValue(bytes);
    } catch (e) {
      const err = new SluiceError(
        `the value of ${this.topic}/${this.partition}@${this.offset} is marked ${CODEC_HEADER}: ${MSGPACK} but does not decode: ${(e as Error)?.message ?? String(e)}`,
        ErrorCode.UNDECODABLE,
      );
      err.cause = e;
      throw err;
    }
  }

  /** The stored bytes of the value (msgpack for decoded values). */
  get rawValue(): Buffer | null {
    return this.record.value;
  }

  /** The producer's headers, in order (duplicates kept). */
  get headers(): readonly RecordHeader[] {
    return userHeaders(this.record.headers);
  }

  /** One header's value as a UTF-8 string (the last one of that name), or undefined. */
  header(name: string): string | undefined {
    const hs = this.record.headers;
    for (let i = hs.length - 1; i >= 0; i--) if (hs[i].key === name) return hs[i].value?.toString('utf8');
    return undefined;
  }
}

/** Where an offset-model message came from (the consumer's cursor over the partition). */
export interface OffsetSource {
  readonly topic: string;
  readonly partition: number;
  /** Bumped by seeks, rewinds and handovers: messages of an older epoch no longer count. */
  readonly epoch: number;
}

/** A message of an offset-model (log style) group. */
export class OffsetMessage extends ConsumedMessage {
  /** @internal */ readonly source: OffsetSource;
  /** @internal */ readonly epoch: number;

  constructor(record: LogRecord, source: OffsetSource) {
    super(record);
    this.source = source;
    this.epoch = source.epoch;
  }

  get topic(): string {
    return this.source.topic;
  }

  get partition(): number {
    return this.source.partition;
  }
}

/** The group-level side of an ack-model message: where acks and nacks go. */
export interface AckTarget {
  readonly groupName: string;
  readonly tp: { readonly topic: string; readonly index: number };
  ack(msg: AckMessage): StateConfirm;
  /** A failed delivery: redelivered after `delayMs` (undefined: the holder's backoff, else at once). */
  nack(msg: AckMessage, delayMs: number | undefined, error?: string): void;
  /** Dead-letters `msg` now. */
  reject(msg: AckMessage, reason: string): void;
  autoAck(msg: AckMessage): void;
  /** Throws as ack() would if `msg` cannot be acked now (a transaction takes its ack). */
  checkAckable(msg: AckMessage): void;
  /** A transaction's commit acked `msg` (in the group state already): it leaves flight. */
  settleTransactionAck(msg: AckMessage): void;
}

/** The consumer an ack-model message was delivered to, as far as its in-flight count goes. */
export interface AckHolderRef {
  /** The member's name. */
  readonly name: string;
  inFlight: number;
  readonly visibilityTimeoutMs: number;
  readonly maxInFlight: number;
  /** How long a message waits after its `failures`-th failed delivery (undefined: no backoff). */
  retryDelay(failures: number): number | undefined;
  /** Failed deliveries after which a message is dead-lettered (null: never). */
  readonly maxDeliveries: number | null;
  /** Where dead letters of `topic` go. */
  deadLetterTopic(topic: string): string;
  wake(): void;
}

/**
 * Where one delivery of an ack-model message stands: in flight, acked, nacked, or expired (the
 * visibility timeout ran out, or the consumer left: the message went back to be redelivered).
 * Strings rather than imported constants, so that hot loops compare without module lookups.
 */
export type DeliveryState = 'in-flight' | 'acked' | 'nacked' | 'expired';

export interface NackOptions {
  /** Redeliver no sooner than this many milliseconds from now. Default 0. */
  delayMs?: number;
}

/** A message of an ack-model (queue style) group: ack() or nack() it. */
export class AckMessage extends ConsumedMessage {
  /** How many times this message has been delivered to the group, this delivery included. */
  readonly deliveryCount: number;
  /** @internal */ readonly target: AckTarget;
  /** @internal */ readonly holder: AckHolderRef;
  /** @internal */ deadline: number;
  /** @internal */ state: DeliveryState = 'in-flight';

  constructor(record: LogRecord, deliveryCount: number, target: AckTarget, holder: AckHolderRef, deadline: number) {
    super(record);
    this.deliveryCount = deliveryCount;
    this.target = target;
    this.holder = holder;
    this.deadline = deadline;
  }

  get topic(): string {
    return this.target.tp.topic;
  }

  get partition(): number {
    return this.target.tp.index;
  }

  /** The consumer group it was delivered to. */
  get group(): string {
    return this.target.groupName;
  }

  /**
   * Acks the message: it will not be delivered to this group again. Returns a confirm (await it)
   * that settles when the ack is durable. Throws ALREADY_ACKED if this message (in this delivery or
   * an earlier one) was already acked, or if this delivery was nacked.
   */
  ack(): StateConfirm {
    return this.target.ack(this);
  }

  /**
   * Sends the message to the group's dead-letter topic now (with `reason`, default 'rejected'),
   * acking it there in the same transaction: it is not delivered to this group again.
   */
  reject(options?: { reason?: string }): void {
    let reason: string = 'rejected';
    if (options !== undefined) {
      if (options === null || typeof options !== 'object') throw new TypeError('reject options must be an object');
      if (options.reason !== undefined) {
        if (typeof options.reason !== 'string' || options.reason.length === 0 || options.reason.length > 1000) throw new TypeError('reason must be a string of 1 to 1000 characters');
        reason = options.reason;
      }
    }
    this.target.reject(this, reason);
  }

  /** @internal A failed delivery with the failure's text (a handler that threw): nack() with the reason kept for a dead letter. */
  fail(error: string, delayMs: number | undefined): void {
    this.target.nack(this, delayMs, error);
  }

  /** @internal Throws as ack() would if the message cannot be acked now. */
  checkAckable(): void {
    this.target.checkAckable(this);
  }

  /** @internal Its ack was applied by a transaction's commit. */
  settleTransactionAck(): void {
    this.target.settleTransactionAck(this);
  }

  /**
   * Gives the message back to be redelivered (to any member): a failed delivery. It waits
   * `delayMs`, or without it what the consumer's retryBackoff says (none: redelivered at once).
   * The wait is durable: a restart keeps it.
   */
  nack(options?: NackOptions): void {
    let delayMs: number | undefined;
    if (options !== undefined) {
      if (options === null || typeof options !== 'object') throw new TypeError('nack options must be an object');
      if (options.delayMs !== undefined) {
        delayMs = duration(options.delayMs, 'delayMs');
      }
    }
    this.target.nack(this, delayMs);
  }
}
