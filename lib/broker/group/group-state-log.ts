/**
 * Persistence of GroupState: an internal Log of msgpack records, checkpointed by generations.
 *
 * Each generation is a Log in groups/<generation>/ whose records are:
 *   [SNAPSHOT, seq, bytes]   chunks (at most RECORD_BYTES of each) of the msgpack snapshot of the
 *                            whole state when the generation began
 *   [SNAPSHOT_END, chunks]   the snapshot is complete
 *   [OPS, [op, op, ...]]     the state operations of one tick (see group-state.ts), in order
 * Opening replays the current generation (the one broker.json names, see broker-directory.ts):
 * the snapshot, then its OPS records, so replay reads at most one snapshot plus `checkpointBytes`
 * of operations. A newer generation without SNAPSHOT_END is a checkpoint that crashed: it is
 * deleted. If the current generation is missing or incomplete the state was lost (files removed
 * or damaged): that is a CORRUPT error, never a start-over.
 *
 * A checkpoint starts once a generation holds more than `checkpointBytes` of operations: the next
 * generation is opened, the snapshot of the state at that instant is appended to it, and later
 * operations go there. Once the new snapshot has been flushed broker.json is rewritten to name it
 * (the checkpoint's commit point), and only then is the old generation deleted, so at every moment
 * the generation broker.json names (or the next, complete one) is on stable storage. Changes made while the new
 * generation was opening are covered by its snapshot, and their confirms wait on it.
 *
 * Changes are written once per tick (process.nextTick), one OPS record for everything that changed
 * in that tick; that record's Log confirm settles the tick's StateConfirm. Under the default sync
 * 'always' a confirmed ack or commit survives power loss; under any policy it survives kill -9
 * once confirmed (it is sealed in the mapped file). Thread-confined; lifetime: the broker's.
 *
 * Under sync 'always' the ticks' operations are held back while the last record written is being
 * synced, and written as one record when that sync completes: a record appended meanwhile could
 * not be durable before the next sync round anyway, and writing (and sealing) a record every tick
 * cost the broker's thread a system call per tick (9-13% of it at 100 k acks/s) and stalls of up
 * to several ms while the flusher synced the same file. Held operations keep their order, and
 * their confirms settle when the record holding them is durable.
 */
import { Packr } from 'msgpackr';
import { crashPoint } from '../../crash-points';
import { ErrorCode, SluiceError } from '../../errors';
import { Log, type LogOptions, type SyncPolicy } from '../../storage/log';
import { BROKER_FORMAT, type BrokerDirectory, type BrokerMeta } from '../store/broker-directory';
import { GroupState, OP_ACK, OP_COMMIT, OP_REDELIVERED, OP_TRUNCATE, OP_TXN_COMMIT, type StateOp } from './group-state';
import { StateConfirm } from './state-confirm';

const REC_OPS = 1;
const REC_SNAPSHOT = 2;
const REC_SNAPSHOT_END = 3;

/** Records stay well under the Log's 1 MiB messageBytesMax. */
const RECORD_BYTES = 256 * 1024;
const SEGMENT_BYTES = 16 * 1024 * 1024;

export interface GroupStateLogOptions {
  sync: SyncPolicy;
  /** Load the state and never write: no generation is created, removed or checkpointed. */
  readOnly?: boolean;
  syncIntervalMs?: number;
  /** Bytes of operations after which a generation is checkpointed. */
  checkpointBytes: number;
  /** The time each record is stamped with (the broker's clock; explain() reads it back). Default Date.now. */
  now?: () => number;
}

const packr = new Packr({ useRecords: false, mapsAsObjects: true });

export class GroupStateLog {
  readonly #directory: BrokerDirectory;
  #meta: BrokerMeta;
  readonly #state: GroupState;
  readonly #options: GroupStateLogOptions;
  /** Null only for a read-only open of a directory that has no group state yet. */
  #log: Log | null;
  readonly #readOnly: boolean;
  #generation: number;
  #opsBytes = 0;
  #flushScheduled = false;
  #confirm: StateConfirm | null = null;
  #checkpointing: Promise<void> | null = null;
  /** During a checkpoint, until the old generation is closed: that generation's Log. */
  #previous: Log | null = null;
  #failure: Error | null = null;
  #closed = false;
  #checkpoints = 0;
  readonly #syncAlways: boolean;
  /** Writes so far: tells the sync confirm of the last record written from older ones. */
  #writes = 0;
  /** Sync 'always': the last record written is not durable yet, so new operations are held. */
  #syncing = false;
  #held: StateOp[] = [];
  #heldConfirms: StateConfirm[] = [];
  readonly #flushTick = (): void => {
    this.#flushScheduled = false;
    this.#flush();
  };

  private constructor(directory: BrokerDirectory, state: GroupState, options: GroupStateLogOptions, log: Log | null, generation: number, opsBytes: number, meta: BrokerMeta) {
    this.#directory = directory;
    this.#meta = meta;
    this.#state = state;
    this.#options = options;
    this.#log = log;
    this.#generation = generation;
    this.#opsBytes = opsBytes;
    this.#readOnly = options.readOnly === true;
    this.#syncAlways = options.sync === 'always';
    if (this.#readOnly) return; // nothing is ever written: changes stay in memory
    state.onChange = () => {
      if (!this.#flushScheduled && !this.#closed) {
        this.#flushScheduled = true;
        process.nextTick(this.#flushTick);
      }
    };
  }

  /**
   * Loads `state` from the current generation: the one broker.json names, or the one after it when
   * a checkpoint crashed after its snapshot was flushed but before broker.json said so. Without
   * broker.json (a new directory, or one from before it existed) the newest complete generation
   * is used, and a new directory starts with an empty generation 0. Whatever the state lost (its
   * generation removed or damaged) is CORRUPT, never a silent start-over that would hand every
   * committed or acked message out again.
   */
  static async open(directory: BrokerDirectory, state: GroupState, options: GroupStateLogOptions, meta: BrokerMeta | null, hasTopics: boolean, now: number): Promise<GroupStateLog> {
    const readOnly = options.readOnly === true;
    // An existing generation must have its files: a missing sluice.meta is CORRUPT, not a new log.
    const logOptions: LogOptions = { ...GroupStateLog.#logOptions(options), create: false, ...(readOnly ? { readOnly: true } : {}) };
    const generations = await directory.generations();
    const recorded = meta?.groupGeneration;
    let chosen: { log: Log; generation: number; opsBytes: number } | undefined;
    const incomplete: number[] = [];
    for (let i = generations.length - 1; i >= 0 && chosen === undefined; i--) {
      const generation = generations[i];
      if (recorded !== undefined && generation < recorded) break; // retired: never the state
      let log: Log;
      try {
        log = await Log.open(directory.generationDir(generation), logOptions);
      } catch (e) {
        // A generation newer than the current one is a checkpoint that may have crashed before
        // its Log was even made: incomplete, not damage. The current one must be whole.
        if (generation !== recorded && isMissingLog(e)) {
          incomplete.push(generation);
          continue;
        }
        throw e;
      }
      let opsBytes: number | null;
      try {
        opsBytes = GroupStateLog.#load(log, state);
      } catch (e) {
        await log.close();
        throw e;
      }
      if (opsBytes === null) {
        await log.close();
        incomplete.push(generation);
      } else {
        chosen = { log, generation, opsBytes };
      }
    }
    if (chosen === undefined) {
      const lost =
        recorded !== undefined
          ? `generation ${recorded} of the group state (named by ${directory.brokerMetaPath}) is missing or incomplete`
          : incomplete.some((g) => g !== 0) || hasTopics
            ? `no generation of the group state has a complete snapshot${incomplete.length > 0 ? ` (generations ${incomplete.join(', ')})` : ''} while topics exist`
            : null;
      if (lost !== null) {
        const e = new SluiceError(`${directory.groupsDir}: ${lost}; move the broker directory aside (or restore groups/) rather than start every group over`, ErrorCode.CORRUPT);
        e.path = directory.groupsDir;
        throw e;
      }
    }
    if (readOnly) {
      // Nothing is removed, created or rewritten: the state is what the chosen generation holds.
      const current: BrokerMeta = { format: BROKER_FORMAT, createdAt: meta?.createdAt ?? now, groupGeneration: chosen?.generation ?? 0 };
      if (chosen === undefined) state.restore(new GroupState().snapshot());
      return new GroupStateLog(directory, state, options, chosen?.log ?? null, current.groupGeneration, chosen?.opsBytes ?? 0, current);
    }
    for (const g of generations) if (g !== chosen?.generation) await directory.removeGeneration(g);
    if (chosen === undefined) {
      const generation = 0;
      const log = await Log.open(directory.generationDir(generation), GroupStateLog.#logOptions(options));
      state.restore(new GroupState().snapshot());
      log.appendBatch(GroupStateLog.#snapshotRecords(state));
      await log.flush();
      chosen = { log, generation, opsBytes: 0 };
    }
    const current: BrokerMeta = { format: BROKER_FORMAT, createdAt: meta?.createdAt ?? now, groupGeneration: chosen.generation };
    if (meta === null || meta.groupGeneration !== chosen.generation) await directory.writeBrokerMeta(current);
    return new GroupStateLog(directory, state, options, chosen.log, chosen.generation, chosen.opsBytes, current);
  }

  static #logOptions(options: GroupStateLogOptions): LogOptions {
    const o: LogOptions = { segmentBytes: SEGMENT_BYTES, sync: options.sync };
    if (options.sync === 'interval' && options.syncIntervalMs !== undefined) o.syncIntervalMs = options.syncIntervalMs;
    return o;
  }

  /** Restores the snapshot and replays the operations; returns the bytes of operations, or null if the snapshot is incomplete. */
  static #load(log: Log, state: GroupState): number | null {
    const chunks: Buffer[] = [];
    let complete = false;
    let opsBytes = 0;
    let offset = log.startOffset;
    const end = log.highWatermark;
    while (offset < end) {
      const records = log.read(offset, { maxRecords: 1024 });
      if (records.length === 0) break;
      for (const r of records) {
        offset = r.offset + 1;
        let rec: unknown[];
        try {
          rec = packr.unpack(r.value!) as unknown[];
        } catch {
          throw GroupStateLog.#corrupt(log, r.offset, 'is not msgpack');
        }
        if (!Array.isArray(rec)) throw GroupStateLog.#corrupt(log, r.offset, 'is not a group-state record');
        if (!complete) {
          if (rec[0] === REC_SNAPSHOT && rec[1] === chunks.length) {
            chunks.push(rec[2] as Buffer);
            continue;
          }
          if (rec[0] === REC_SNAPSHOT_END && rec[1] === chunks.length) {
            state.restore(packr.unpack(Buffer.concat(chunks)));
            complete = true;
            continue;
          }
          return null;
        }
        if (rec[0] !== REC_OPS) throw GroupStateLog.#corrupt(log, r.offset, `has type ${String(rec[0])} after the snapshot`);
        for (const op of rec[1] as StateOp[]) state.apply(op);
        opsBytes += r.value!.length;
      }
    }
    return complete ? opsBytes : null;
  }

  /**
   * When the group's position in a partition last passed `offset` (an ack of it, or a commit or
   * ack run beyond it), from the operations of the current generation and their records' times;
   * `{before}` when it passed before the generation began (its snapshot's time); null when there
   * is no group state. Reads the generation from its start (at most one snapshot plus
   * `checkpointBytes` of operations): for explain(), not for hot paths.
   */
  whenPassed(group: string, topic: string, partition: number, offset: number): { at: number } | { before: number } | null {
    const log = this.#log;
    if (log === null) return null;
    let at: number | null = null;
    let first: number | null = null;
    const visit = (op: StateOp, ts: number): void => {
      if (op[1] !== group || op[2] !== topic || op[3] !== partition) return;
      if (op[0] === OP_COMMIT || op[0] === OP_TRUNCATE) {
        // A commit past it (first time since the last rewind), or a rewind (reset, seek, power loss) to it or before.
        if ((op[4] as number) > offset) at ??= ts;
        else at = null;
      } else if (op[0] === OP_ACK) {
        const runs = op[4] as number[];
        for (let i = 0; i < runs.length; i += 2) if (offset >= runs[i] && offset < runs[i] + runs[i + 1]) at ??= ts;
      }
    };
    for (let o = log.startOffset, end = log.highWatermark; o < end; ) {
      const records = log.read(o, { maxRecords: 1024 });
      if (records.length === 0) break;
      for (const r of records) {
        o = r.offset + 1;
        first ??= r.timestamp;
        const rec = packr.unpack(r.value!) as unknown[];
        if (rec[0] !== REC_OPS) continue;
        for (const op of rec[1] as StateOp[]) {
          if (op[0] === OP_TXN_COMMIT) for (const inner of op[2] as StateOp[]) visit(inner, r.timestamp);
          else visit(op, r.timestamp);
        }
      }
    }
    if (at !== null) return { at };
    return first === null ? null : { before: first };
  }

  static #corrupt(log: Log, offset: number, what: string): SluiceError {
    const e = new SluiceError(`group state record ${offset} in ${log.dir} ${what}`, ErrorCode.CORRUPT);
    e.path = log.dir;
    return e;
  }

  static #snapshotRecords(state: GroupState): Buffer[] {
    const bytes = packr.pack(state.snapshot());
    const records: Buffer[] = [];
    for (let pos = 0, seq = 0; pos < bytes.length || seq === 0; pos += RECORD_BYTES, seq++) {
      records.push(packr.pack([REC_SNAPSHOT, seq, bytes.subarray(pos, pos + RECORD_BYTES)]));
    }
    records.push(packr.pack([REC_SNAPSHOT_END, records.length]));
    return records;
  }

  /**
   * The confirm of every change made so far in this tick. Changes made later in the tick share
   * it. With nothing pending it is the confirm of the last record written (an earlier tick's
   * change may still be on its way to disk), settled at once if that one is durable already.
   */
  confirm(): StateConfirm {
    if (this.#confirm !== null) return this.#confirm;
    const c = new StateConfirm();
    const log = this.#log;
    if (this.#readOnly || log === null) c.settle(new SluiceError('the broker was opened read-only: group state is not written', ErrorCode.READ_ONLY), false);
    else if (this.#closed && log.closed) c.settle(new SluiceError('the broker is closed', ErrorCode.CLOSED), false);
    else if (this.#failure !== null) c.settle(this.#failure, false);
    else if (this.#state.hasPending) this.#confirm = c;
    else if (this.#held.length > 0) this.#heldConfirms.push(c);
    else if (log.durableOffset >= log.endOffset) c.settle(null, true);
    else log.confirm(log.endOffset - 1, (err, r) => c.settle(err, r?.durable ?? false));
    return c;
  }

  get generation(): number {
    return this.#generation;
  }
  get checkpoints(): number {
    return this.#checkpoints;
  }

  /** The log written to: every open but a read-only one has it. */
  get #writer(): Log {
    if (this.#log === null) throw new Error('unreachable: a read-only group state log is never written');
    return this.#log;
  }

  /**
   * Writes the pending changes now (normally done at the end of the tick), or, under sync 'always'
   * while the last record is being synced, holds them for the next record (`force`: write now).
   */
  #flush(force = false): void {
    if (this.#closed && this.#writer.closed) return;
    const ops = this.#state.takeOps();
    const confirm = this.#confirm;
    this.#confirm = null;
    if (ops.length === 0 && (this.#held.length === 0 || !force)) {
      confirm?.settle(this.#failure, this.#failure === null);
      return;
    }
    if (this.#failure !== null) {
      confirm?.settle(this.#failure, false);
      this.#dropHeld(this.#failure);
      return;
    }
    const held = this.#held;
    for (const op of ops) held.push(op);
    if (confirm !== null) this.#heldConfirms.push(confirm);
    if (!this.#syncing || force) this.#writeHeld();
  }

  /** Writes the held operations as one record (split if large) and confirms them. */
  #writeHeld(): void {
    const ops = this.#held;
    const confirms = this.#heldConfirms;
    if (ops.length === 0) return;
    this.#held = [];
    this.#heldConfirms = [];
    let last: number;
    try {
      const records = encodeOps(ops);
      const timestamp = (this.#options.now ?? Date.now)();
      const first = this.#writer.appendBatch(records.map((value) => ({ value, timestamp })));
      last = first + records.length - 1;
      for (const r of records) this.#opsBytes += r.length;
    } catch (e) {
      this.#failure = e as Error;
      for (const c of confirms) c.settle(this.#failure, false);
      return;
    }
    this.#confirmWrite(this.#writer, last, confirms);
    if (this.#opsBytes > this.#options.checkpointBytes && this.#checkpointing === null && !this.#closed) {
      this.#checkpointing = this.#checkpoint().finally(() => {
        this.#checkpointing = null;
      });
    }
  }

  /**
   * Settles `confirms` once record `last` of `log` is durable. Under sync 'always' it is the
   * record being synced: until then operations are held, and then written at once.
   */
  #confirmWrite(log: Log, last: number, confirms: StateConfirm[]): void {
    if (!this.#syncAlways) {
      if (confirms.length > 0) log.confirm(last, (err, c) => settleAll(confirms, err, c?.durable ?? false));
      return;
    }
    const write = ++this.#writes;
    this.#syncing = true;
    log.confirm(last, (err, c) => {
      settleAll(confirms, err, c?.durable ?? false);
      if (write !== this.#writes) return; // a later record (a checkpoint's snapshot) is the one being synced
      this.#syncing = false;
      if (this.#held.length === 0) return;
      if (this.#failure !== null) this.#dropHeld(this.#failure);
      else if (this.#closed && this.#writer.closed) this.#dropHeld(new SluiceError('the broker is closed', ErrorCode.CLOSED));
      else this.#writeHeld();
    });
  }

  /** Held operations that will never be written: their confirms fail with `err`. */
  #dropHeld(err: Error): void {
    const confirms = this.#heldConfirms;
    this.#held = [];
    this.#heldConfirms = [];
    for (const c of confirms) c.settle(err, false);
  }

  /** Starts the next generation with a snapshot, then retires this one. */
  async #checkpoint(): Promise<void> {
    const next = this.#generation + 1;
    let log: Log;
    try {
      await this.#directory.removeGeneration(next);
      log = await Log.open(this.#directory.generationDir(next), GroupStateLog.#logOptions(this.#options));
    } catch (e) {
      this.#failure ??= e as Error;
      return;
    }
    if (this.#closed) {
      await log.close();
      await this.#directory.removeGeneration(next);
      return;
    }
    // Synchronously: the snapshot covers every change so far, including any not yet written
    // (pending in this tick or held), and their confirms wait on it.
    this.#state.discardPending();
    const confirms = this.#heldConfirms;
    if (this.#confirm !== null) confirms.push(this.#confirm);
    this.#confirm = null;
    this.#held = [];
    this.#heldConfirms = [];
    const records = GroupStateLog.#snapshotRecords(this.#state);
    const first = log.appendBatch(records);
    const old = this.#writer;
    const oldGeneration = this.#generation;
    this.#previous = old;
    this.#log = log;
    this.#generation = next;
    this.#opsBytes = 0;
    this.#checkpoints++;
    this.#confirmWrite(log, first + records.length - 1, confirms);
    crashPoint('group.checkpoint-opened');
    try {
      await log.flush();
      crashPoint('group.checkpoint-flushed');
      // The commit point of the checkpoint: from here on the new generation is the state.
      this.#meta = { ...this.#meta, groupGeneration: next };
      await this.#directory.writeBrokerMeta(this.#meta);
      crashPoint('group.checkpoint-named');
      await old.close();
      this.#previous = null;
      await this.#directory.removeGeneration(oldGeneration);
    } catch (e) {
      this.#failure ??= e as Error;
    }
  }

  /**
   * Fault injection (SLUICE_FAULT_INJECTION=1): a power failure of the generation being written
   * and, during a checkpoint, of the one it replaces.
   */
  simulatePowerLoss(): void {
    this.#closed = true;
    for (const log of new Set([this.#log, this.#previous])) if (log !== null && !log.closed) log.simulatePowerLoss();
  }

  /** Writes what is pending, waits for a checkpoint in progress, and closes the log. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#readOnly) {
      await this.#log?.close();
      return;
    }
    this.#flush(true);
    if (this.#checkpointing !== null) await this.#checkpointing;
    this.#flush(true);
    await this.#writer.close();
  }
}

function settleAll(confirms: readonly StateConfirm[], err: Error | null, durable: boolean): void {
  for (const c of confirms) c.settle(err, durable);
}

/** The CORRUPT error of a Log opened with create: false in a directory holding no log. */
function isMissingLog(e: unknown): boolean {
  return e instanceof SluiceError && e.code === ErrorCode.CORRUPT && typeof e.path === 'string' && e.path.endsWith('sluice.meta');
}

/** OPS records of at most RECORD_BYTES each (a long ack or redelivery list is split). */
function encodeOps(ops: StateOp[]): Buffer[] {
  const bytes = packr.pack([REC_OPS, ops]);
  if (bytes.length <= RECORD_BYTES) return [bytes];
  if (ops.length > 1) {
    const half = ops.length >> 1;
    return [...encodeOps(ops.slice(0, half)), ...encodeOps(ops.slice(half))];
  }
  const op = ops[0];
  const list = op[4] as number[];
  if ((op[0] === OP_ACK || op[0] === OP_REDELIVERED) && list.length > 2) {
    const half = op[0] === OP_ACK ? (list.length >> 2) * 2 : list.length >> 1;
    return [...encodeOps([[...op.slice(0, 4), list.slice(0, half)]]), ...encodeOps([[...op.slice(0, 4), list.slice(half)]])];
  }
  throw new RangeError(`a group state operation of ${bytes.length} bytes is too large`);
}
