/**
 * One data directory under the power-loss shim: the environment that loads the shim into the
 * next child, and the cut after that child was killed (a seeded choice between the all-undone
 * state and a sampled one, made by the rewinder), with running totals of what the cuts undid.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Prng } from '../durability-crash-loop';
import { Rewinder, type RewindReport } from './rewind';
import { shimEnv } from './shim';

/** Survival probabilities of an unsynced page in sampled states: mostly lost, even, mostly kept. */
const PAGE_SURVIVAL = [0.1, 0.5, 0.9];

export interface CutStats {
  cuts: number;
  undone: number;
  sampled: number;
  unsyncedPages: number;
  survivedPages: number;
  unsyncedChanges: number;
  keptChanges: number;
}

export function emptyCutStats(): CutStats {
  return { cuts: 0, undone: 0, sampled: 0, unsyncedPages: 0, survivedPages: 0, unsyncedChanges: 0, keptChanges: 0 };
}

export class PowerCut {
  constructor(
    readonly dataDir: string,
    readonly journalDir: string,
    readonly stats: CutStats,
    /** Extra environment for every child (the planted bug's switch). */
    readonly extraEnv: Record<string, string> = {},
  ) {
    fs.mkdirSync(dataDir, { recursive: true });
  }

  /** The environment of the next child (a fresh journal). */
  childEnv(): Record<string, string> {
    return { ...shimEnv(this.dataDir, this.journalDir), ...this.extraEnv };
  }

  /** After the child is dead: leaves what a power cut at that moment could have left. */
  cut(rand: Prng): RewindReport {
    const sampled = rand.chance(0.5);
    const survival = PAGE_SURVIVAL[rand.between(0, PAGE_SURVIVAL.length - 1)];
    // The last cut's evidence, for a failure to be looked into: the killed state with its
    // journal, and the state the cut left.
    const evidence = path.join(path.dirname(this.journalDir), 'last-cut');
    fs.rmSync(evidence, { recursive: true, force: true });
    fs.cpSync(this.dataDir, path.join(evidence, 'killed'), { recursive: true });
    fs.cpSync(this.journalDir, path.join(evidence, 'journal'), { recursive: true });
    const report = new Rewinder(this.dataDir, this.journalDir, sampled ? 'sampled' : 'undone', rand, survival).run();
    fs.cpSync(this.dataDir, path.join(evidence, 'cut'), { recursive: true });
    fs.writeFileSync(path.join(evidence, 'report.json'), JSON.stringify({ ...report, pageSurvival: survival }));
    const s = this.stats;
    s.cuts++;
    if (sampled) s.sampled++;
    else s.undone++;
    s.unsyncedPages += report.unsyncedPages;
    s.survivedPages += report.survivedPages;
    s.unsyncedChanges += report.unsyncedChanges;
    s.keptChanges += report.keptChanges;
    return report;
  }
}
