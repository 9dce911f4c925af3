/**
 * The rewinder of the independent power-loss harness: after a process that ran with the shim
 * (native/tools/powerloss/shim.c, whose header defines the model and the journal) was killed with
 * SIGKILL, turns its data directory into a state a power cut at that moment could have left.
 *
 * Two kinds of state, chosen by the caller:
 *  - 'undone': every unsynced change undone. Each file holds its durable image (content and size)
 *    and each directory its durable listing: created-but-unsynced names vanish, unsynced renames
 *    and unlinks come undone (an unlinked file comes back with its durable content).
 *  - 'sampled': from a seeded generator, each directory keeps a random prefix of its unsynced
 *    changes (never splitting a rename between directories), each file its durable or its current
 *    size, and each 4 KiB page that differs between the durable image and the current content
 *    survives with probability `pageSurvival`, independently (write-back keeps no order). A page
 *    past the durable size that did not survive reads as zeros.
 * The directory is rebuilt beside itself and then swapped in, so nothing of the killed state
 * leaks into the result.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Buffer } from 'node:buffer';
import type { Prng } from '../durability-crash-loop';

const PAGE_BYTES = 4096;
const ROOT_ID = 1;

export type RewindKind = 'undone' | 'sampled';

export interface RewindReport {
  kind: RewindKind;
  files: number;
  directories: number;
  /** Pages whose current content differed from the durable image (unsynced writes). */
  unsyncedPages: number;
  /** Of those, the pages that kept their current content (sampled states only). */
  survivedPages: number;
  /** Journaled directory changes past the durable listings, and how many of them were kept. */
  unsyncedChanges: number;
  keptChanges: number;
}

interface Entry {
  type: 'f' | 'd';
  id: number;
}

interface Change {
  seq: number;
  dir: number;
  op: string;
  id: number;
  name: string;
  name2: string | undefined;
}

/** The complete lines of a journal file (a line cut short by the kill is no line). */
function lines(file: string): string[] {
  if (!fs.existsSync(file)) return [];
  const text = fs.readFileSync(file, 'utf8');
  const all = text.split('\n');
  all.pop();
  return all.filter((l) => l !== '');
}

class Journal {
  readonly types = new Map<number, 'f' | 'd'>();
  /** Live records' inodes ("dev:ino"), to find a record's current file. */
  readonly liveInode = new Map<number, string>();
  readonly changes = new Map<number, Change[]>();

  constructor(readonly dir: string) {
    const errors = lines(path.join(dir, 'errors'));
    if (errors.length > 0) throw new Error(`the power-loss shim could not journal: ${errors.slice(0, 3).join('; ')}`);
    for (const l of lines(path.join(dir, 'records'))) {
      const f = l.split(' ');
      if (f[0] === 'rec') {
        this.types.set(Number(f[1]), f[2] as 'f' | 'd');
        this.liveInode.set(Number(f[1]), `${f[3]}:${f[4]}`);
      } else if (f[0] === 'retire') {
        this.liveInode.delete(Number(f[1]));
      }
    }
    for (const l of lines(path.join(dir, 'ops'))) {
      const [seq, dirId, op, id, name, name2] = l.split(' ');
      const c: Change = { seq: Number(seq), dir: Number(dirId), op, id: Number(id), name, name2 };
      const list = this.changes.get(c.dir) ?? [];
      list.push(c);
      this.changes.set(c.dir, list);
    }
  }

  /** The durable listing of directory `id` and the last change it includes. */
  listing(id: number): { seq: number; entries: Map<string, Entry> } {
    const entries = new Map<string, Entry>();
    const file = path.join(this.dir, 'dir', String(id));
    if (!fs.existsSync(file)) return { seq: 0, entries };
    const [head, ...rest] = lines(file);
    for (const l of rest) {
      const first = l.indexOf(' ');
      const second = l.indexOf(' ', first + 1);
      entries.set(l.slice(second + 1), { type: l.slice(0, first) as 'f' | 'd', id: Number(l.slice(first + 1, second)) });
    }
    return { seq: Number(head.split(' ')[1]), entries };
  }

  image(id: number): Buffer {
    const file = path.join(this.dir, 'img', String(id));
    return fs.existsSync(file) ? fs.readFileSync(file) : Buffer.alloc(0);
  }
}

/** dev:ino -> path of every file and directory under `root` now. */
function currentInodes(root: string): Map<string, string> {
  const found = new Map<string, string>();
  const walk = (p: string): void => {
    const st = fs.lstatSync(p, { bigint: true });
    found.set(`${st.dev}:${st.ino}`, p);
    if (st.isDirectory()) for (const name of fs.readdirSync(p)) walk(path.join(p, name));
  };
  if (fs.existsSync(root)) walk(root);
  return found;
}

/** Applies one journaled change to a listing (a rename whose source is gone leaves it alone). */
function apply(entries: Map<string, Entry>, c: Change, journal: Journal): void {
  const type = journal.types.get(c.id) ?? 'f';
  if (c.op === 'create' || c.op === 'mkdir') entries.set(c.name, { type, id: c.id });
  else if (c.op === 'unlink') entries.delete(c.name);
  else if (c.op === 'rename') {
    const e = entries.get(c.name);
    if (e === undefined || e.id !== c.id) return;
    entries.delete(c.name);
    entries.set(c.name2!, e);
  } else throw new Error(`unknown journaled change ${c.op}`);
}

export class Rewinder {
  readonly #journal: Journal;
  readonly #current: Map<string, string>;
  readonly #report: RewindReport;

  constructor(
    readonly dataDir: string,
    journalDir: string,
    readonly kind: RewindKind,
    readonly rand: Prng,
    readonly pageSurvival: number,
  ) {
    this.#journal = new Journal(journalDir);
    this.#current = currentInodes(dataDir);
    this.#report = { kind, files: 0, directories: 0, unsyncedPages: 0, survivedPages: 0, unsyncedChanges: 0, keptChanges: 0 };
  }

  /** Rebuilds the data directory as the chosen state and reports what it took. */
  run(): RewindReport {
    const staging = `${this.dataDir}.rewinding`;
    fs.rmSync(staging, { recursive: true, force: true });
    fs.mkdirSync(staging);
    this.#buildDir(ROOT_ID, staging, new Set());
    fs.rmSync(this.dataDir, { recursive: true, force: true });
    fs.renameSync(staging, this.dataDir);
    return this.#report;
  }

  #buildDir(id: number, at: string, seen: Set<number>): void {
    if (seen.has(id)) throw new Error(`the journal's listings form a cycle at directory ${id}`);
    seen.add(id);
    this.#report.directories++;
    const { seq, entries } = this.#journal.listing(id);
    const pending = (this.#journal.changes.get(id) ?? []).filter((c) => c.seq > seq);
    this.#report.unsyncedChanges += pending.length;
    if (this.kind === 'sampled') {
      const atomicEnd = pending.findIndex((c) => c.op === 'move' || c.op === 'exchange');
      const n = atomicEnd < 0 ? pending.length : atomicEnd;
      const keep = this.rand.between(0, n);
      for (const c of pending.slice(0, keep)) apply(entries, c, this.#journal);
      this.#report.keptChanges += keep;
    }
    for (const [name, e] of entries) {
      const child = path.join(at, name);
      if (e.type === 'd') {
        fs.mkdirSync(child);
        this.#buildDir(e.id, child, seen);
      } else {
        fs.writeFileSync(child, this.#content(e.id));
      }
    }
  }

  /** File `id`'s content after the cut. */
  #content(id: number): Buffer {
    this.#report.files++;
    const durable = this.#journal.image(id);
    const inode = this.#journal.liveInode.get(id);
    const currentPath = inode === undefined ? undefined : this.#current.get(inode);
    if (currentPath === undefined) return durable;
    const current = fs.readFileSync(currentPath);
    const pages = Math.ceil(Math.max(durable.length, current.length) / PAGE_BYTES);
    // Pages compared as read back: past a file's end it reads as zeros (a size change alone, such as a
    // reservation of zeros, is no unsynced page).
    const page = (b: Buffer, p: number): Buffer => {
      const out = Buffer.alloc(PAGE_BYTES);
      if (p * PAGE_BYTES < b.length) b.copy(out, 0, p * PAGE_BYTES, Math.min((p + 1) * PAGE_BYTES, b.length));
      return out;
    };
    const differing: number[] = [];
    for (let p = 0; p < pages; p++) if (!page(durable, p).equals(page(current, p))) differing.push(p);
    this.#report.unsyncedPages += differing.length;
    if (this.kind === 'undone') return durable;
    const size = current.length !== durable.length && this.rand.chance(0.5) ? current.length : durable.length;
    const out = Buffer.alloc(size);
    durable.copy(out, 0, 0, Math.min(size, durable.length));
    for (const p of differing) {
      // A page wholly past the current end was cut off by an unsynced truncation: with the old
      // size kept, its blocks were never freed and it keeps its durable content.
      if (p * PAGE_BYTES >= Math.min(size, current.length) || !this.rand.chance(this.pageSurvival)) continue;
      page(current, p).copy(out, p * PAGE_BYTES, 0, Math.min(PAGE_BYTES, size - p * PAGE_BYTES));
      this.#report.survivedPages++;
    }
    return out;
  }
}
