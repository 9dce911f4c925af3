/**
 * The ack model, member side: which partitions a consumer holds, its in-flight budget, and its
 * run() workers. The group side, where messages in flight live, is AckPartition (ack-partition.ts).
 * Thread-confined; lifetime: the consumer's.
 */
import { ErrorCode, SluiceError } from '../../../errors';
import { AckMessage, type NackOptions } from '../../consume/consumed-message';
import type { MessageFilter } from '../../routing/message-filter';
import type { PartitionSlot, SlotState } from '../../group/group-coordinator';
import type { StateConfirm } from '../../group/state-confirm';
import type { Delivery, MemberContext, MemberOptions, PartitionContext, RunContext } from '../delivery';
import { AckPartition, type AckHolder } from './ack-partition';
import type { RetryBackoff } from './retry-backoff';
import { DEAD_LETTER_SUFFIX, errorText } from './dead-letters';

export type AckDeliveryOptions = Pick<MemberOptions, 'maxInFlight' | 'visibilityTimeoutMs' | 'retryBackoff' | 'maxDeliveries' | 'deadLetterTopic' | 'filter'>;

type AckSlot = PartitionSlot<AckPartition>;

export class AckDelivery implements Delivery, AckHolder {
  readonly model = 'ack' as const;
  readonly name: string;
  readonly topics: Set<string>;
  readonly visibilityTimeoutMs: number;
  readonly maxInFlight: number;
  readonly #backoff: RetryBackoff | null;
  readonly maxDeliveries: number | null;
  readonly deadLettersExpired: boolean;
  readonly filter: MessageFilter | null;
  readonly #deadLetterTopic: string | null;
  inFlight = 0;
  readonly #wake: () => void;
  readonly #isPaused: (topic: string, key: string) => boolean;
  readonly #group: string;
  #held: { slot: AckSlot; part: AckPartition; key: string }[] = [];
  /** held(), kept until #held changes: consumers ask on every wait. */
  #heldSlots: readonly PartitionSlot[] | null = null;
  /** Every partition this member took messages from: where release() gives them back. */
  readonly #touched = new Set<AckPartition>();
  #rr = 0;
  #closing = false;

  constructor(name: string, topics: Set<string>, options: AckDeliveryOptions, context: MemberContext) {
    this.name = name;
    this.topics = topics;
    this.maxInFlight = options.maxInFlight;
    this.visibilityTimeoutMs = options.visibilityTimeoutMs;
    this.#backoff = options.retryBackoff;
    this.maxDeliveries = options.maxDeliveries;
    this.#deadLetterTopic = options.deadLetterTopic;
    this.deadLettersExpired = options.maxDeliveries !== null || options.deadLetterTopic !== null;
    this.filter = options.filter;
    this.#wake = context.wake;
    this.#isPaused = context.isPaused;
    this.#group = context.group;
  }

  wake(): void {
    this.#wake();
  }

  retryDelay(failures: number): number | undefined {
    return this.#backoff?.delayFor(failures);
  }

  deadLetterTopic(topic: string): string {
    return this.#deadLetterTopic ?? topic + DEAD_LETTER_SUFFIX;
  }

  held(): readonly PartitionSlot[] {
    return (this.#heldSlots ??= this.#held.map((h) => h.slot));
  }

  // ---- GroupMember ----

  assign(slot: AckSlot): void {
    const part = slot.state;
    part.owner = this;
    this.#held.push({ slot, part, key: `${slot.tp.topic}:${slot.tp.index}` });
    this.#heldSlots = null;
    this.#wake();
  }

  revoke(slot: AckSlot, released: () => void): void {
    const i = this.#held.findIndex((h) => h.slot === slot);
    if (i >= 0) {
      if (this.#held[i].part.owner === this) this.#held[i].part.owner = null;
      this.#held.splice(i, 1);
      this.#heldSlots = null;
    }
    released();
  }

  dropTopic(topic: string): void {
    this.topics.delete(topic);
    this.#held = this.#held.filter((h) => h.slot.tp.topic !== topic);
    this.#heldSlots = null;
    this.#wake(); // a consumer left with no topic ends its waits (see consumer.ts)
  }

  /** The ack model tracks its messages in the slot (AckPartition.explain), not per member. */
  findingOf(): null {
    return null;
  }

  inFlightOf(slot: AckSlot): number {
    let n = 0;
    for (const m of slot.state.inFlight.values()) if (m.holder === this) n++;
    return n;
  }

  // ---- Pull ----

  /** Up to `max` messages (and no more than the in-flight budget allows), partitions in turn. */
  fetch(max: number, orderByKey = false): AckMessage[] {
    const out: AckMessage[] = [];
    if (this.#closing) return out;
    const held = this.#held;
    const n = held.length;
    let budget = Math.min(max, this.maxInFlight - this.inFlight);
    for (let k = 0; k < n && budget > 0; k++) {
      const h = held[(this.#rr + k) % n];
      if (this.#isPaused(h.slot.tp.topic, h.key)) continue;
      const got = h.part.fetch(this, budget, out, orderByKey);
      if (got > 0) {
        budget -= got;
        this.#touched.add(h.part);
      }
    }
    this.#rr = n === 0 ? 0 : (this.#rr + 1) % n;
    return out;
  }

  beforePoll(): void {}

  // ---- Push ----

  /**
   * One run() worker: acks each message its handler finished with (unless the handler settled
   * it), nacks with `retryDelayMs` when the handler throws. Fetched messages are in flight, their
   * visibility timeout running, while they wait for the worker: so it fetches only the message it
   * is about to handle while the handler is async, and batches (doubling up to its share of
   * maxInFlight) only while the handler returns synchronously, when a batch is handled within the
   * tick.
   */
  async runWorker(run: RunContext): Promise<void> {
    const { handler, onError, retryDelayMs } = run;
    const batchMax = Math.max(1, Math.min(run.fetchMax, Math.floor(this.maxInFlight / run.concurrency)));
    let batch = 1;
    while (!run.stopped()) {
      const messages = this.fetch(batch, run.orderByKey);
      if (messages.length === 0) {
        if (run.endIfUnsubscribed()) break;
        await run.wait();
        continue;
      }
      for (let i = 0; i < messages.length; i++) {
        const msg = messages[i];
        if (run.stopped()) {
          if (msg.state === 'in-flight') msg.nack();
          continue;
        }
        if (msg.state !== 'in-flight') continue; // timed out while waiting its turn: redelivered
        try {
          msg.decodeValue(); // an undecodable value fails the delivery as a handler error would
          const r = handler(msg) as PromiseLike<unknown> | undefined;
          if (r !== undefined && r !== null && typeof r.then === 'function') {
            batch = 1;
            await r;
            if (run.abandoned()) return;
          } else if (batch < batchMax) {
            batch = Math.min(batchMax, batch * 2);
          }
        } catch (err) {
          if (run.abandoned()) return;
          // With a retryBackoff it decides the wait; else the run's retryDelayMs.
          if (msg.state === 'in-flight') msg.fail(errorText(err), this.#backoff !== null ? undefined : retryDelayMs);
          onError(err, msg);
          continue;
        }
        msg.target.autoAck(msg);
      }
    }
  }

  // ---- Acks ----

  ack(message: unknown): StateConfirm {
    return this.#ackable(message).ack();
  }

  nack(message: unknown, options?: NackOptions): void {
    this.#ackable(message).nack(options);
  }

  #ackable(message: unknown): AckMessage {
    if (!(message instanceof AckMessage)) throw new TypeError('ack() and nack() take a message received from an ack-model consumer');
    if (message.group !== this.#group) {
      throw new SluiceError(`message ${message.topic}/${message.partition}@${message.offset} belongs to group ${message.group}, not ${this.#group}`, ErrorCode.WRONG_GROUP);
    }
    return message;
  }

  commit(): void {
    throw this.#wrongModel('commit');
  }

  seek(): void {
    throw this.#wrongModel('seek');
  }

  #wrongModel(what: string): SluiceError {
    return new SluiceError(`${what}() is for offset-model groups; group ${this.#group} uses the ack model`, ErrorCode.WRONG_MODEL);
  }

  // ---- Close ----

  /** Handlers still running are forgotten: release() gives their messages back for redelivery. */
  abandon(): void {}

  beginClose(): void {
    this.#closing = true;
  }

  /** Messages still in flight to this member are delivered again, to whoever holds their partition. */
  release(): void {
    for (const part of this.#touched) part.releaseMember(this);
    this.#touched.clear();
  }
}

export const ackModel = {
  createMember: (name: string, topics: Set<string>, options: MemberOptions, context: MemberContext): Delivery => new AckDelivery(name, topics, options, context),
  createPartition: (c: PartitionContext): SlotState => new AckPartition(c.groupName, c.tp, c.progress, c.state, c.groupLog, c.clock, c.deadLetters),
};
