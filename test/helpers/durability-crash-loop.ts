/**
 * The crash loop shared by test/crash/confirmed-writes-survive-{kill,power-loss}.test.ts: run
 * test/helpers/durability-crash-writer.cjs against one directory again and again, stop it abruptly
 * each time (SIGKILL, or a simulated power failure inside the child), and check the directory
 * against what the child reported as confirmed. Every random choice comes from one seed.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { Buffer } from 'node:buffer';
import { Log, type LogRecord } from '../../lib/index';

export type CrashMode = 'kill' | 'power';

const WRITER = path.join(__dirname, 'durability-crash-writer.cjs');
/** Must match the writer: small segments, so failures land while rolling and writing indexes. */
export const SEGMENT_BYTES = 131072;
const HEADER_BYTES = 16;
const HASH_BYTES = 20;
/** Iterations per directory: each directory is recovered, appended to and failed this many times. */
export const ITERATIONS_PER_DIR = 5;
/** Generations at or above this were appended by the parent (after a verified reopen). */
const PARENT_GENERATION = 1_000_000;
// Generous bound for a child to print `ready` or to exit after the signal (never a timing claim:
// it only turns a hang into a failure with a message).
const CHILD_HANG_MS = 60_000;

/** The run's seed: SLUICE_CRASH_SEED to replay one, otherwise fresh. */
export function crashSeed(): number {
  const env = process.env.SLUICE_CRASH_SEED;
  if (env !== undefined && env !== '') {
    const n = Number(env);
    if (!Number.isSafeInteger(n) || n < 0 || n > 0xffffffff) throw new Error(`SLUICE_CRASH_SEED must be a 32-bit unsigned integer, got ${env}`);
    return n;
  }
  return (Math.random() * 0x100000000) >>> 0;
}

/** SLUICE_CRASH_ITERATIONS (any number), default 100. */
export function crashIterations(): number {
  const env = process.env.SLUICE_CRASH_ITERATIONS;
  if (env === undefined || env === '') return 100;
  const n = Number(env);
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`SLUICE_CRASH_ITERATIONS must be a positive integer, got ${env}`);
  return n;
}

/** A seeded generator of 32-bit values (a Weyl sequence through a multiply-xorshift mixer). */
export class Prng {
  #state: number;
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }
  next(): number {
    this.#state = (this.#state + 0x9e3779b9) >>> 0;
    let z = this.#state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  }
  between(lo: number, hi: number): number {
    return lo + (this.next() % (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.next() / 0x100000000 < p;
  }
}

/** The seed of directory `index` within a run. */
export function dirSeed(seed: number, index: number): number {
  const r = new Prng((seed ^ Math.imul(index + 1, 0x27d4eb2d)) >>> 0);
  r.next();
  return r.next();
}

export interface CrashStats {
  iterations: number;
  /** Distinct messages confirmed durable by children (each checked after every later failure). */
  confirmed: number;
  /** Reopens that checked the whole directory. */
  verifications: number;
  /** Iterations whose child was stopped before its log finished opening (during recovery). */
  stoppedWhileOpening: number;
  /** Records read back and checked, over all verifications. */
  recordsChecked: number;
  segmentsAtEnd: number;
  /** From the recovery reports: what the failures cost (shows that they bite). */
  segmentsDeletedByRecovery: number;
  bytesTruncatedByRecovery: number;
  /** Power mode: messages appended but gone after the next reopen (unconfirmed, so allowed). */
  messagesLost: number;
}

interface ChildRun {
  confirmed: Array<[number, string]>;
  readyEnd: number | null;
  powerLostDurable: number | null;
  powerLostEnd: number | null;
  notDurable: number[];
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  /** The last lines of stdout, for failure messages. */
  tail: string[];
  /** The child died at its armed crash point (it said so on stderr). */
  crashPointFired: boolean;
}

/**
 * What another harness changes in the loop (test/helpers/powerloss/): the children's environment,
 * their write path, and a step between a child's end and what comes next (a simulated power cut).
 */
export interface CrashHarness {
  childEnv(dir: string): Record<string, string>;
  writePath: 'pwrite' | 'mmap';
  afterStop(dir: string, rand: Prng): void;
}

/** When and how a child is stopped: see CrashPlan's fields. */
export interface CrashPlan {
  /** 'kill': SIGKILL this long after the log is open (with `crashPoint`: if it is still alive). */
  killAfterReadyMs: number;
  /** 'kill': SIGKILL this long after the child starts opening (during recovery), or null. */
  killWhileOpeningMs: number | null;
  /** 'power': the child simulates a power failure this long after its log is open. */
  lossAfterMs: number;
  /** 'kill': SLUICE_CRASH_POINT for the child (it kills itself there), or null. */
  crashPoint?: string | null;
}

function runChild(mode: CrashMode, dir: string, seed: number, generation: number, plan: CrashPlan, segmentBytes: number, harness: CrashHarness | undefined): Promise<ChildRun> {
  const env = { ...process.env, ...harness?.childEnv(dir) };
  if (mode === 'power') env.SLUICE_FAULT_INJECTION = '1';
  else delete env.SLUICE_FAULT_INJECTION;
  if (plan.crashPoint) env.SLUICE_CRASH_POINT = plan.crashPoint;
  else delete env.SLUICE_CRASH_POINT;
  const child = spawn(process.execPath, [WRITER, JSON.stringify({ dir, seed, generation, mode, lossAfterMs: plan.lossAfterMs, segmentBytes, writePath: harness?.writePath ?? 'pwrite' })], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const run: ChildRun = { confirmed: [], readyEnd: null, powerLostDurable: null, powerLostEnd: null, notDurable: [], code: null, signal: null, stderr: '', tail: [], crashPointFired: false };
  const timers: NodeJS.Timeout[] = [];
  const kill = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  timers.push(setTimeout(kill, CHILD_HANG_MS));
  let pending = '';
  const onLine = (line: string): void => {
    run.tail.push(line);
    if (run.tail.length > 5) run.tail.shift();
    const [what, a, b] = line.split(' ');
    if (what === 'confirmed') run.confirmed.push([Number(a), b]);
    else if (what === 'ready') {
      run.readyEnd = Number(a);
      if (mode === 'kill') timers.push(setTimeout(kill, plan.killAfterReadyMs));
    } else if (what === 'opening') {
      if (mode === 'kill' && plan.killWhileOpeningMs !== null) timers.push(setTimeout(kill, plan.killWhileOpeningMs));
    } else if (what === 'power-lost') {
      run.powerLostDurable = Number(a);
      run.powerLostEnd = Number(b);
    }
    else if (what === 'not-durable') run.notDurable.push(Number(a));
  };
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    pending += chunk;
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      onLine(pending.slice(0, nl));
      pending = pending.slice(nl + 1);
    }
    // A line cut short by the kill is never counted: only whole lines are.
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    run.stderr += chunk;
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      for (const t of timers) clearTimeout(t);
      run.code = code;
      run.signal = signal;
      run.crashPointFired = run.stderr.includes('sluice crash point ');
      resolve(run);
    });
  });
}

/** Checks one record's self-description (see the writer): whole, in place, not garbled. */
function checkRecord(r: LogRecord, expectedOffset: number, maxGeneration: number): string | null {
  if (r.offset !== expectedOffset) return `expected offset ${expectedOffset}, read ${r.offset}`;
  const v = r.value;
  if (v === null) return `offset ${r.offset}: null value`;
  if (v.length < HEADER_BYTES + HASH_BYTES) return `offset ${r.offset}: value of ${v.length} bytes is too short`;
  const length = v.readUInt32BE(4);
  if (length !== v.length) return `offset ${r.offset}: value of ${v.length} bytes says it has ${length}`;
  const written = Number(v.readBigUInt64BE(8));
  if (written !== r.offset) return `offset ${r.offset}: the value was appended at offset ${written}`;
  const generation = v.readUInt32BE(0);
  if ((generation >= PARENT_GENERATION ? generation - PARENT_GENERATION : generation) > maxGeneration) {
    return `offset ${r.offset}: generation ${generation} was never run`;
  }
  const digest = createHash('sha1').update(v.subarray(0, v.length - HASH_BYTES)).digest();
  if (!digest.equals(v.subarray(v.length - HASH_BYTES))) return `offset ${r.offset}: the value's bytes do not match its checksum`;
  return null;
}

function parentValue(generation: number, offset: number, size: number): Buffer {
  const v = Buffer.alloc(size);
  for (let i = HEADER_BYTES; i < size - HASH_BYTES; i++) v[i] = (i * 31 + offset) & 0xff;
  v.writeUInt32BE(generation, 0);
  v.writeUInt32BE(size, 4);
  v.writeBigUInt64BE(BigInt(offset), 8);
  createHash('sha1').update(v.subarray(0, size - HASH_BYTES)).digest().copy(v, size - HASH_BYTES);
  return v;
}

const sha1 = (b: Uint8Array): string => createHash('sha1').update(b).digest('hex');

/**
 * Runs `iterations` failures against `dir` and throws an Error naming the seed, directory and
 * iteration at the first broken invariant.
 */
export async function crashDirectory(
  mode: CrashMode,
  dir: string,
  seed: number,
  dirIndex: number,
  iterations: number,
  stats: CrashStats,
  harness?: CrashHarness,
): Promise<void> {
  const rand = new Prng(dirSeed(seed, dirIndex));
  const loop = new LogCrashLoop(dir, SEGMENT_BYTES, stats, harness);
  for (let i = 0; i < iterations; i++) {
    const where = `seed=${seed} dir=${dirIndex} iteration=${i} (replay: SLUICE_CRASH_SEED=${seed})`;
    const plan: CrashPlan = {
      killAfterReadyMs: rand.between(5, 60),
      killWhileOpeningMs: mode === 'kill' && rand.chance(0.1) ? rand.between(0, 4) : null,
      lossAfterMs: rand.between(5, 60),
    };
    await loop.iteration(rand, mode, plan, where, i === iterations - 1);
  }
}

/**
 * One directory's crash loop, an iteration at a time (the torture run drives it too): each
 * iteration runs the writer until it is stopped as the plan says, then (unless the PRNG leaves the
 * crashed directory for the next writer to recover) reopens the log and checks it against
 * everything confirmed so far. Lifetime: one directory, iterations in sequence.
 */
export class LogCrashLoop {
  readonly #dir: string;
  readonly #segmentBytes: number;
  readonly #stats: CrashStats;
  // What must survive: offset -> SHA-1 of the value. Confirmed messages, and after a verified
  // reopen every record found (recovery makes all it finds durable).
  readonly #mustHave = new Map<number, string>();
  // Offsets below this must exist after the next failure (recovered by a child's open, or durable
  // when a simulated power failure struck).
  #floor = 0;
  #generation = 0;
  readonly #harness: CrashHarness | undefined;

  constructor(dir: string, segmentBytes: number, stats: CrashStats, harness?: CrashHarness) {
    this.#dir = dir;
    this.#segmentBytes = segmentBytes;
    this.#stats = stats;
    this.#harness = harness;
  }

  /**
   * Runs one failure and its check; throws an Error ending with `[where]` at a broken invariant.
   * Resolves whether the child died at its crash point (plan.crashPoint) and whether the log was
   * verified (`last` always verifies).
   */
  async iteration(rand: Prng, mode: CrashMode, plan: CrashPlan, where: string, last: boolean): Promise<{ crashPointFired: boolean; verified: boolean }> {
    const stats = this.#stats;
    const mustHave = this.#mustHave;
    const fail = (what: string): never => {
      throw new Error(`${what} [${where}]`);
    };
    const generation = ++this.#generation;
    const run = await runChild(mode, this.#dir, rand.next(), generation, plan, this.#segmentBytes, this.#harness);
    stats.iterations++;
    this.#harness?.afterStop(this.#dir, rand);

    if (mode === 'kill' && run.signal !== 'SIGKILL') fail(`the writer exited by itself (code ${run.code}, signal ${run.signal}): ${run.stderr} ${JSON.stringify(run.tail)}`);
    if (mode === 'power' && (run.code !== 0 || run.powerLostDurable === null)) {
      fail(`the writer did not finish with a simulated power loss (code ${run.code}, signal ${run.signal}): ${run.stderr} ${JSON.stringify(run.tail)}`);
    }
    if (run.notDurable.length > 0) fail(`confirm resolved with durable: false under sync 'always' for offsets ${run.notDurable.slice(0, 5).join(', ')}`);
    if (run.readyEnd === null) {
      stats.stoppedWhileOpening++;
    } else {
      // The child's open recovered the log: what was confirmed before must still be there.
      for (const offset of mustHave.keys()) {
        if (offset >= run.readyEnd) fail(`confirmed offset ${offset} was gone when the writer reopened the log (it ended at ${run.readyEnd})`);
      }
      this.#floor = Math.max(this.#floor, run.readyEnd);
    }
    if (run.powerLostDurable !== null) this.#floor = Math.max(this.#floor, run.powerLostDurable);
    for (const [offset, hash] of run.confirmed) {
      const before = mustHave.get(offset);
      if (before !== undefined && before !== hash) fail(`offset ${offset} was confirmed twice with different bytes: a confirmed message was lost and its offset reused`);
      if (before === undefined) stats.confirmed++;
      mustHave.set(offset, hash);
    }

    // Now and then leave the directory as the failure left it, so that the next writer's open
    // recovers it and that recovered log fails in turn (verification then happens later).
    if (!last && rand.chance(1 / 3)) return { crashPointFired: run.crashPointFired, verified: false };
    await this.#verify(rand, run, fail, last);
    return { crashPointFired: run.crashPointFired, verified: true };
  }

  async #verify(rand: Prng, run: ChildRun, fail: (what: string) => never, last: boolean): Promise<void> {
    const stats = this.#stats;
    const mustHave = this.#mustHave;
    stats.verifications++;
    const log = await Log.open(this.#dir, { sync: 'always', segmentBytes: this.#segmentBytes, writePath: this.#harness?.writePath });
    try {
      // (A writer stopped before its open replaced the checkpoint leaves the parent's clean one.)
      if (run.readyEnd !== null && log.recovery.cleanShutdown) fail('the reopened log reports a clean shutdown after a failure');
      if (log.startOffset !== 0) fail(`startOffset is ${log.startOffset}, expected 0 (no retention)`);
      const end = log.endOffset;
      if (log.highWatermark !== end) fail(`after reopen the high watermark ${log.highWatermark} differs from the end offset ${end}`);
      if (end < this.#floor) fail(`the log ends at ${end}, but offsets below ${this.#floor} were durable`);
      const found = new Map<number, string>();
      let offset = log.startOffset;
      while (offset < end) {
        const records = log.read(offset);
        if (records.length === 0) fail(`read(${offset}) returned nothing below the end offset ${end}`);
        for (const r of records) {
          const problem = checkRecord(r, offset, this.#generation);
          if (problem !== null) fail(problem);
          found.set(offset, sha1(r.value!));
          offset++;
        }
      }
      stats.recordsChecked += found.size;
      stats.segmentsDeletedByRecovery += log.recovery.segmentsDeleted;
      stats.bytesTruncatedByRecovery += log.recovery.bytesTruncated;
      if (run.powerLostEnd !== null) stats.messagesLost += Math.max(0, run.powerLostEnd - end);
      if (log.read(end).length !== 0) fail(`read(endOffset) returned records`);
      for (const [o, hash] of mustHave) {
        const got = found.get(o);
        if (got === undefined) fail(`confirmed offset ${o} is missing (the log ends at ${end})`);
        if (got !== hash) fail(`confirmed offset ${o} reads back with different bytes`);
      }
      mustHave.clear();
      for (const [o, hash] of found) mustHave.set(o, hash);
      this.#floor = end;

      // Appending continues where the recovered log ends.
      const generation = ++this.#generation;
      const count = rand.between(1, 5);
      for (let k = 0; k < count; k++) {
        const value = parentValue(PARENT_GENERATION + generation, end + k, rand.between(HEADER_BYTES + HASH_BYTES, 3000));
        const o = log.append(value);
        if (o !== end + k) fail(`append after reopen returned offset ${o}, expected ${end + k}`);
        const c = await log.confirm(o);
        if (c.offset !== o || !c.durable) fail(`confirm(${o}) after reopen resolved with ${JSON.stringify(c)}`);
        const back = log.read(o, { maxRecords: 1 });
        if (back.length !== 1 || sha1(back[0].value!) !== sha1(value)) fail(`offset ${o} appended after reopen does not read back`);
        mustHave.set(o, sha1(value));
      }
      this.#floor = end + count;
      if (last) stats.segmentsAtEnd += log.stats().segments;
    } finally {
      await log.close();
    }
  }
}

export function emptyStats(): CrashStats {
  return {
    iterations: 0,
    confirmed: 0,
    verifications: 0,
    stoppedWhileOpening: 0,
    recordsChecked: 0,
    segmentsAtEnd: 0,
    segmentsDeletedByRecovery: 0,
    bytesTruncatedByRecovery: 0,
    messagesLost: 0,
  };
}
