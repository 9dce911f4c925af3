/**
 * The Broker target: test/helpers/broker-crash-worker.cjs produces to topic "t" (3 partitions,
 * 64 KiB segments, so partitions roll; sync 'always', so every confirm is durable), consumes it as ack-model group "g" (nacking some, acking
 * some inside transactions that also send) and as offset-model group "o" (committing), with the
 * group state checkpointed every 4 KiB. After each crash the parent opens the broker (recovery
 * runs) and checks the README's promises (the broker section: confirms, crash-recovery replay,
 * transactions):
 *   - every send whose confirm resolved is in the topic, and no value is there twice;
 *   - a transaction is whole or absent (read committed), and whole once its commit resolved;
 *   - a message whose ack was confirmed (or whose acking transaction's commit resolved) is acked,
 *     never delivered again; a message nobody started to ack is not acked (it is redelivered);
 *   - group "o"'s committed offset in each partition is at least the last one confirmed.
 */
import * as fs from 'node:fs';
import { CRASH_POINTS } from '../../lib/crash-points';
import { Broker, ErrorCode, SluiceError } from '../../lib/index';
import type { Prng } from '../helpers/durability-crash-loop';
import { readTopic } from '../helpers/read-topic';
import { spawnChild } from '../helpers/broker-spawn.cjs';
import { checkStopped, crashEnv, failer, sleep, type ChildExit, type ChildHandle, type Stop, type Target, type Workload } from './targets';

const PARTITIONS = 3;
const TXN_PARTS = 3;
/** Explain calls per check: the messages acked in the last run, and this many older ones. */
const SAMPLE = 40;


export class BrokerTarget implements Target {
  readonly name = 'broker';
  // Every transaction and group-state checkpoint point, and the partitions' rolls.
  readonly points = [...CRASH_POINTS.filter((p) => p.startsWith('txn.') || p.startsWith('group.')), 'log.mid-roll', 'index.mid-write'];
  readonly busyMs: number;
  readonly pointWaitMs: number;
  readonly checks = { confirmedSends: 0, confirmedAcks: 0, acksChecked: 0, unackedChecked: 0, transactionsCommitted: 0, commitsChecked: 0, commitsClamped: 0, acksOfLostMessages: 0, messagesRead: 0 };
  #dir = '';
  #run = 0;
  #sent = new Set<string>();
  #acking = new Set<string>();
  #acked = new Set<string>();
  #txnDone = new Set<string>();
  #committed = new Map<number, number>();
  /**
   * A power loss since the last check: consumers read what is written, before it is durable, so
   * an ack or commit may be confirmed for a message whose (unconfirmed) send the power loss then
   * took; opening clamps the group's progress to the partition's end (README: "Opening never
   * deletes...", group progress past the end after a power loss), and that message no longer exists.
   */
  #powerLost = false;

  constructor(workload: Workload) {
    this.busyMs = workload === 'ci' ? 60 : 150;
    this.pointWaitMs = workload === 'ci' ? 400 : 1500;
  }

  async reset(dir: string): Promise<void> {
    this.#dir = dir;
    this.#sent = new Set();
    this.#acking = new Set();
    this.#acked = new Set();
    this.#txnDone = new Set();
    this.#committed = new Map();
    fs.mkdirSync(dir, { recursive: true });
    const b = await Broker.open(dir);
    await b.createTopic('t', { partitions: PARTITIONS, segmentBytes: 64 * 1024, sync: 'always' });
    await b.close();
  }

  async iteration(stop: Stop, rand: Prng, where: string, last: boolean): Promise<{ fired: boolean }> {
    const fail = failer(where);
    const arg = { dir: this.#dir, run: this.#run++, seed: rand.next(), commits: true, txns: true, checkpointBytes: 4096, powerAfterMs: stop.kind === 'power' ? stop.afterMs : null };
    const child = spawnChild('broker-crash-worker.cjs', arg, crashEnv(stop)) as ChildHandle;
    const exit = await this.#stopChild(child, stop, fail);
    const fired = checkStopped(child, exit, stop, fail);
    const ackedNow = this.#absorb(child.lines);
    if (stop.kind === 'power') this.#powerLost = true;
    // A third of the time the next child recovers what this one left, unchecked.
    if (!last && rand.chance(1 / 3)) return { fired };
    await this.#check(ackedNow, rand, fail);
    return { fired };
  }

  async #stopChild(child: ChildHandle, stop: Stop, fail: (what: string) => never): Promise<ChildExit> {
    if (stop.kind === 'kill' && stop.whileOpening) {
      await sleep(stop.afterMs % 40);
      return child.kill9();
    }
    const ready = child.waitFor((lines) => lines.includes('ready'), 'ready').then(
      () => true,
      () => false,
    );
    if (stop.kind === 'kill') {
      if (await ready) await sleep(stop.afterMs);
      return child.kill9();
    }
    if (stop.kind === 'power') {
      const hang = setTimeout(() => void child.kill9(), 20_000);
      const exit = await child.exited;
      clearTimeout(hang);
      if (!(await ready)) fail(`the worker stopped before it was ready: ${child.stderr}`);
      return exit;
    }
    await ready;
    const timer = setTimeout(() => void child.kill9(), stop.fallbackMs);
    const exit = await child.exited;
    clearTimeout(timer);
    return exit;
  }

  /** Takes in what the child reported; returns the values it had acked (confirmed). */
  #absorb(lines: readonly string[]): string[] {
    const ackedNow: string[] = [];
    const held = new Map<string, string>();
    for (const l of lines) {
      const [kind, a, b] = l.split(' ');
      if (kind === 'sent') {
        this.#sent.add(a);
        this.checks.confirmedSends++;
      } else if (kind === 'acking') this.#acking.add(a);
      else if (kind === 'acked') {
        this.#acked.add(a);
        ackedNow.push(a);
        this.checks.confirmedAcks++;
      } else if (kind === 'txn') {
        if (b !== '-') {
          this.#acking.add(b);
          held.set(a, b);
        }
      } else if (kind === 'txn-done') {
        this.#txnDone.add(a);
        this.checks.transactionsCommitted++;
        const v = held.get(a);
        if (v !== undefined) {
          this.#acked.add(v);
          ackedNow.push(v);
        }
      } else if (kind === 'committed') {
        const p = Number(a);
        this.#committed.set(p, Math.max(this.#committed.get(p) ?? 0, Number(b)));
      }
    }
    return ackedNow;
  }

  async #check(ackedNow: readonly string[], rand: Prng, fail: (what: string) => never): Promise<void> {
    const broker = await Broker.open(this.#dir);
    try {
      const read = await readTopic(broker, 't');
      this.checks.messagesRead += read.length;
      const where = new Map<string, { partition: number; offset: number }>();
      const txnParts = new Map<string, number>();
      for (const m of read) {
        if (where.has(m.value)) fail(`${m.value} is in the topic twice`);
        where.set(m.value, { partition: m.partition, offset: m.offset });
        const txn = /^(\d+-x\d+)-\d$/.exec(m.value);
        if (txn !== null) txnParts.set(txn[1], (txnParts.get(txn[1]) ?? 0) + 1);
      }
      for (const v of this.#sent) if (!where.has(v)) fail(`confirmed send ${v} is missing`);
      for (const [id, n] of txnParts) if (n !== TXN_PARTS) fail(`transaction ${id} is in part: ${n} of its ${TXN_PARTS} records are readable`);
      for (const id of this.#txnDone) if (txnParts.get(id) !== TXN_PARTS) fail(`committed transaction ${id} is missing`);
      const state = (v: string): string => {
        const at = where.get(v);
        if (at === undefined) return 'missing';
        try {
          return broker.explain({ topic: 't', partition: at.partition, offset: at.offset, group: 'g' }).state;
        } catch (e) {
          // Killed before the group's first record was durable: the group never was.
          if (e instanceof SluiceError && e.code === ErrorCode.UNKNOWN_GROUP) return 'not a group yet';
          throw e;
        }
      };
      if (this.#powerLost) {
        for (const v of this.#acked) {
          if (where.has(v) || this.#sent.has(v)) continue;
          this.#acked.delete(v); // an ack of a message the power loss took before its send was confirmed
          this.checks.acksOfLostMessages++;
        }
      }
      const acked = [...ackedNow.filter((v) => this.#acked.has(v)), ...sample([...this.#acked], SAMPLE, rand)];
      for (const v of acked) {
        const s = state(v);
        if (s !== 'acked') fail(`${v} was acked (confirmed) but group g has it ${s}: it would be delivered again`);
      }
      this.checks.acksChecked += acked.length;
      const unacked = sample(
        read.map((m) => m.value).filter((v) => !this.#acking.has(v)),
        SAMPLE,
        rand,
      );
      for (const v of unacked) if (state(v) === 'acked') fail(`${v} was never acked but group g has it acked: it is lost`);
      this.checks.unackedChecked += unacked.length;
      const o = this.#committed.size === 0 ? [] : broker.describeGroup('o').partitions;
      for (const [p, offset] of this.#committed) {
        const progress = o.find((x) => x.partition === p);
        const got = progress?.committedOffset ?? -1;
        if (got < offset && this.#powerLost && progress !== undefined && got === progress.endOffset) {
          this.#committed.set(p, got); // clamped to what the power loss left
          this.checks.commitsClamped++;
        } else if (got < offset) fail(`group o committed ${offset} in partition ${p} (confirmed) but stands at ${got}`);
        this.checks.commitsChecked++;
      }
      this.#powerLost = false;
      // Recovery made everything it found durable: it all must survive from now on.
      for (const v of where.keys()) this.#sent.add(v);
    } finally {
      await broker.close();
    }
  }

  async close(): Promise<void> {}
}

/** Up to `n` elements of `from`, chosen by `rand`. */
export function sample<T>(from: readonly T[], n: number, rand: Prng): T[] {
  if (from.length <= n) return [...from];
  const out: T[] = [];
  for (let i = 0; i < n; i++) out.push(from[rand.next() % from.length]);
  return out;
}
