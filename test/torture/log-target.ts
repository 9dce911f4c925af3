/**
 * The Log target: test/helpers/durability-crash-writer.cjs appends with sync 'always' and reports
 * each confirm; test/helpers/durability-crash-loop.ts checks after each crash that every confirmed
 * message is there once, at its offset, with its bytes, that offsets run contiguously from the
 * start and that appending continues (README, Durability and Recovery). A data directory uses
 * 128 KiB segments (rolls and index writes every few hundred KB) or 2 MiB ones (room for the
 * recovery checkpoint, which is written once 1 MiB of a segment is synced).
 */
import * as fs from 'node:fs';
import { emptyStats, LogCrashLoop, type CrashPlan, type CrashStats, type Prng } from '../helpers/durability-crash-loop';
import type { Stop, Target, Workload } from './targets';

const SMALL_SEGMENT_BYTES = 128 * 1024;
const LARGE_SEGMENT_BYTES = 2 * 1024 * 1024;

export class LogTarget implements Target {
  readonly name = 'log';
  readonly busyMs: number;
  readonly pointWaitMs: number;
  readonly #stats: CrashStats = emptyStats();
  #loop: LogCrashLoop | null = null;
  #segmentBytes = SMALL_SEGMENT_BYTES;

  constructor(workload: Workload) {
    this.busyMs = workload === 'ci' ? 60 : 120;
    this.pointWaitMs = workload === 'ci' ? 400 : 1500;
  }

  get points(): readonly string[] {
    return this.#segmentBytes === SMALL_SEGMENT_BYTES
      ? ['log.mid-roll', 'index.mid-write', 'meta.mid-write']
      : ['checkpoint.mid-write', 'log.mid-roll', 'meta.mid-write'];
  }

  get checks(): Record<string, number> {
    return { ...this.#stats };
  }

  async reset(dir: string, rand: Prng): Promise<void> {
    fs.mkdirSync(dir, { recursive: true });
    this.#segmentBytes = rand.chance(0.5) ? SMALL_SEGMENT_BYTES : LARGE_SEGMENT_BYTES;
    this.#loop = new LogCrashLoop(dir, this.#segmentBytes, this.#stats);
  }

  async iteration(stop: Stop, rand: Prng, where: string, last: boolean): Promise<{ fired: boolean }> {
    const plan: CrashPlan =
      stop.kind === 'point'
        ? { killAfterReadyMs: stop.fallbackMs, killWhileOpeningMs: null, lossAfterMs: 0, crashPoint: `${stop.point}:${stop.pass}` }
        : { killAfterReadyMs: stop.afterMs, killWhileOpeningMs: stop.kind === 'kill' && stop.whileOpening ? stop.afterMs % 5 : null, lossAfterMs: stop.afterMs };
    const r = await this.#loop!.iteration(rand, stop.kind === 'power' ? 'power' : 'kill', plan, where, last);
    return { fired: r.crashPointFired };
  }

  async close(): Promise<void> {}
}
