/**
 * The broker's data directory, built and parsed here and nowhere else:
 *
 *   <dir>/broker.json                  {format, createdAt, groupGeneration}: written when the
 *                                      directory is first set up, rewritten at each group-state
 *                                      checkpoint. Its presence says the group state must exist:
 *                                      without a complete generation `groupGeneration` (or the one
 *                                      after it) the open fails with CORRUPT, never starts over
 *   <dir>/producer-ids.json            {format, next}: producer ids below `next` may have been
 *                                      handed out (produce/producer-ids.ts); rewritten before each
 *                                      block of ids is used, so an id is never handed out twice
 *   <dir>/.lock                        flock(2)ed for the broker's lifetime (storage/directory-lock.ts):
 *                                      one broker per data directory. A lock/ directory (a small Log
 *                                      that held the lock before 0.1) is left alone: nothing opens
 *                                      it, and removing it could pull it from under an older broker
 *                                      still running on the directory; delete it by hand
 *   <dir>/topics/<topic>/.creating     present while createTopic builds the topic: a directory
 *                                      with it and no topic.json is a creation that crashed, and is
 *                                      the only kind of directory open removes
 *   <dir>/topics/<topic>/topic.json    {format, name, config, createdAt}; written last when a topic
 *                                      is created (the commit point), rewritten when partitions are
 *                                      added (the commit point of that)
 *   <dir>/topics/<topic>/.growing      present while partitions are added: partition directories
 *                                      past topic.json's count are then a growth that crashed
 *                                      before its commit, and open removes them (nothing was
 *                                      appended to them: appends start after the commit)
 *   <dir>/topics/<topic>/<partition>/  the partition's Log (partition numbers in decimal, exactly
 *                                      0 to partitions - 1)
 *   <dir>/groups/<generation>/         the group-state Log of one checkpoint generation (20-digit
 *                                      zero-padded decimal, so that `ls` sorts them)
 *   <dir>/delayed/                     the delay store's Log (broker/delay/delay-store.ts):
 *                                      delayed messages until they are moved into their topics
 *   <dir>/half/                        the half messages' Log (broker/txn/half-messages.ts):
 *                                      prepared messages until committed or rolled back
 *   <dir>/trash/<topic>.<time>.<pid>.<random>
 *                                      deleted topics: renamed here (the commit point of a delete),
 *                                      then removed once the group state forgot them; emptied on open
 *
 * Anything else found under topics/ (a directory without topic.json or marker, a topic.json that
 * disagrees with the partition directories) is reported as CORRUPT with its path: open never
 * deletes data it cannot account for. JSON files are replaced atomically: write a temporary file
 * (`<name>.tmp`), fsync it, rename it over the old one, fsync the directory; a topic.json.tmp left
 * by a crash before its rename is removed at open (the topic.json beside it holds).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ErrorCode, SluiceError } from '../../errors';
import type { TopicConfig } from '../topic/topic-config';

export const TOPIC_FORMAT = 1;
export const BROKER_FORMAT = 1;
const TOPIC_FILE = 'topic.json';
const CREATING_MARK = '.creating';
const GROWING_MARK = '.growing';
const TEMP_SUFFIX = '.tmp';
const PRODUCER_IDS_FILE = 'producer-ids.json';
const PRODUCER_IDS_FORMAT = 1;

export interface BrokerMeta {
  format: number;
  createdAt: number;
  /** The group-state generation that holds the current state (see group-state-log.ts). */
  groupGeneration: number;
}

export interface TopicMeta {
  format: number;
  name: string;
  config: TopicConfig;
  createdAt: number;
}

export class BrokerDirectory {
  readonly root: string;

  constructor(root: string) {
    this.root = path.resolve(root);
  }

  get brokerMetaPath(): string {
    return path.join(this.root, 'broker.json');
  }
  get topicsDir(): string {
    return path.join(this.root, 'topics');
  }
  get groupsDir(): string {
    return path.join(this.root, 'groups');
  }
  get trashDir(): string {
    return path.join(this.root, 'trash');
  }
  get delayDir(): string {
    return path.join(this.root, 'delayed');
  }
  get halfDir(): string {
    return path.join(this.root, 'half');
  }
  topicDir(name: string): string {
    return path.join(this.topicsDir, name);
  }
  topicMetaPath(name: string): string {
    return path.join(this.topicDir(name), TOPIC_FILE);
  }
  partitionDir(name: string, partition: number): string {
    return path.join(this.topicDir(name), String(partition));
  }
  generationDir(generation: number): string {
    return path.join(this.groupsDir, String(generation).padStart(20, '0'));
  }

  async ensureLayout(): Promise<void> {
    for (const d of [this.root, this.topicsDir, this.groupsDir, this.trashDir]) await fs.promises.mkdir(d, { recursive: true });
  }

  /** Generation numbers present under groups/, ascending. */
  async generations(): Promise<number[]> {
    const names = await fs.promises.readdir(this.groupsDir);
    return names
      .filter((n) => /^\d{20}$/.test(n))
      .map(Number)
      .sort((a, b) => a - b);
  }

  /**
   * Every committed topic, checked against its directory. A creation that crashed (the marker, no
   * topic.json) is listed in `halfMade` and removed (left alone when `readOnly`); anything else that
   * does not add up is CORRUPT.
   */
  async loadTopics(check: (meta: TopicMeta, file: string) => void, readOnly = false, halfMade: string[] = []): Promise<TopicMeta[]> {
    const out: TopicMeta[] = [];
    for (const entry of (await fs.promises.readdir(this.topicsDir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const name = entry.name;
      const dir = this.topicDir(name);
      if (!entry.isDirectory()) throw corrupt(dir, 'is not a topic directory (not a directory)');
      const names = await fs.promises.readdir(dir);
      if (!names.includes(TOPIC_FILE)) {
        if (names.includes(CREATING_MARK)) {
          halfMade.push(dir);
          if (!readOnly) await fs.promises.rm(dir, { recursive: true, force: true });
          continue;
        }
        throw corrupt(dir, `has no ${TOPIC_FILE}: it is not a topic of this broker, or its metadata was lost (move it away to open the broker)`);
      }
      const file = this.topicMetaPath(name);
      let meta: TopicMeta;
      try {
        meta = JSON.parse(await fs.promises.readFile(file, 'utf8')) as TopicMeta;
      } catch {
        throw corrupt(file, 'is not valid JSON');
      }
      if (meta === null || typeof meta !== 'object' || meta.format !== TOPIC_FORMAT || meta.name !== name || typeof meta.config !== 'object' || typeof meta.createdAt !== 'number') {
        throw corrupt(file, `is not a format-${TOPIC_FORMAT} description of topic ${name}`);
      }
      check(meta, file);
      // A topic.json.tmp is a rewrite that crashed before its rename: the topic.json beside it holds.
      if (names.includes(TOPIC_FILE + TEMP_SUFFIX) && !readOnly) await fs.promises.rm(file + TEMP_SUFFIX, { force: true });
      let partitions = names.filter((n) => n !== TOPIC_FILE && n !== TOPIC_FILE + TEMP_SUFFIX && n !== CREATING_MARK && n !== GROWING_MARK);
      const expected = Array.from({ length: meta.config.partitions }, (_, p) => String(p));
      const missing = expected.filter((p) => !partitions.includes(p));
      if (names.includes(GROWING_MARK)) {
        const uncommitted = partitions.filter((n) => /^\d+$/.test(n) && Number(n) >= meta.config.partitions);
        if (!readOnly) await this.#abandonGrowth(name, uncommitted);
        partitions = partitions.filter((n) => !uncommitted.includes(n));
      }
      const extra = partitions.filter((p) => !expected.includes(p));
      if (missing.length > 0 || extra.length > 0) {
        throw corrupt(
          dir,
          `does not match its ${TOPIC_FILE} (${meta.config.partitions} partitions)` +
            (missing.length > 0 ? `: partition directories ${missing.join(', ')} are missing` : '') +
            (extra.length > 0 ? `${missing.length > 0 ? ';' : ':'} ${extra.map((x) => JSON.stringify(x)).join(', ')} ${extra.length === 1 ? 'is' : 'are'} not a partition of it` : ''),
        );
      }
      if (names.includes(CREATING_MARK) && !readOnly) await this.#removeMark(name); // committed, the marker was left
      out.push(meta);
    }
    return out;
  }

  /** Starts a topic's creation: an empty directory holding the marker. */
  async beginTopic(name: string): Promise<void> {
    const dir = this.topicDir(name);
    await fs.promises.mkdir(dir);
    const h = await fs.promises.open(path.join(dir, CREATING_MARK), 'w');
    try {
      await h.sync();
    } finally {
      await h.close();
    }
    await fsyncDir(dir);
    await fsyncDir(this.topicsDir);
  }

  /** The commit point of a creation: topic.json, then the marker goes. */
  async commitTopic(meta: TopicMeta): Promise<void> {
    await writeJsonAtomic(this.topicMetaPath(meta.name), meta);
    await this.#removeMark(meta.name);
  }

  /** Starts adding partitions to a topic: the marker first (see the layout above). */
  async beginGrowth(name: string): Promise<void> {
    const h = await fs.promises.open(path.join(this.topicDir(name), GROWING_MARK), 'w');
    try {
      await h.sync();
    } finally {
      await h.close();
    }
    await fsyncDir(this.topicDir(name));
  }

  /**
   * The commit point of added partitions: topic.json with the new count renamed into place. Once
   * this resolves nothing may undo the growth; finishGrowth then removes the marker.
   */
  async commitGrowth(meta: TopicMeta): Promise<void> {
    const file = this.topicMetaPath(meta.name);
    await fs.promises.rename(await writeJsonTemp(file, meta), file);
  }

  /** After commitGrowth: the directory entry synced, and the marker gone (a failure leaves it for the next open). */
  async finishGrowth(name: string): Promise<void> {
    await fsyncDir(this.topicDir(name));
    await fs.promises.rm(path.join(this.topicDir(name), GROWING_MARK), { force: true });
    await fsyncDir(this.topicDir(name));
  }

  /** Added partitions that were never committed: their directories, then the marker, go. */
  async #abandonGrowth(name: string, partitions: readonly string[]): Promise<void> {
    for (const p of partitions) await fs.promises.rm(path.join(this.topicDir(name), p), { recursive: true, force: true });
    await fs.promises.rm(path.join(this.topicDir(name), GROWING_MARK), { force: true });
    await fsyncDir(this.topicDir(name));
  }

  /** Partitions being added that failed before their commit. */
  async abandonGrowth(name: string, from: number, to: number): Promise<void> {
    await this.#abandonGrowth(name, Array.from({ length: to - from }, (_, i) => String(from + i)));
  }

  /** A creation that failed: its directory goes (it holds nothing anyone saw). */
  async abandonTopic(name: string): Promise<void> {
    await fs.promises.rm(this.topicDir(name), { recursive: true, force: true });
  }

  async #removeMark(name: string): Promise<void> {
    await fs.promises.rm(path.join(this.topicDir(name), CREATING_MARK), { force: true });
    await fsyncDir(this.topicDir(name));
  }

  /** Moves a topic's directory into the trash: the commit point of a delete. Returns the trash entry. */
  async trashTopic(name: string): Promise<string> {
    const target = path.join(this.trashDir, `${name}.${Date.now()}.${process.pid}.${Math.random().toString(36).slice(2, 8)}`);
    await fs.promises.rename(this.topicDir(name), target);
    await fsyncDir(this.topicsDir);
    await fsyncDir(this.trashDir);
    return target;
  }

  async removeTrashed(entry: string): Promise<void> {
    await fs.promises.rm(entry, { recursive: true, force: true });
  }

  /** The names of the topics in the trash (deletes that may not have reached the group state). */
  async trashedTopics(): Promise<Set<string>> {
    const names = new Set<string>();
    // A directory a read-only open finds without trash/ (it creates none) has nothing in it.
    const entries = await fs.promises.readdir(this.trashDir).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return [];
      throw e;
    });
    for (const entry of entries) {
      const parts = entry.split('.');
      if (parts.length >= 4) names.add(parts.slice(0, -3).join('.'));
    }
    return names;
  }

  async emptyTrash(): Promise<void> {
    for (const name of await fs.promises.readdir(this.trashDir)) {
      await fs.promises.rm(path.join(this.trashDir, name), { recursive: true, force: true });
    }
  }

  async removeGeneration(generation: number): Promise<void> {
    await fs.promises.rm(this.generationDir(generation), { recursive: true, force: true });
  }

  // ---- broker.json ----

  /** broker.json, or null when the directory was never set up (or predates it). */
  async readBrokerMeta(): Promise<BrokerMeta | null> {
    let text: string;
    try {
      text = await fs.promises.readFile(this.brokerMetaPath, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
    let meta: BrokerMeta;
    try {
      meta = JSON.parse(text) as BrokerMeta;
    } catch {
      throw corrupt(this.brokerMetaPath, 'is not valid JSON');
    }
    if (meta === null || typeof meta !== 'object' || meta.format !== BROKER_FORMAT || !Number.isSafeInteger(meta.groupGeneration) || meta.groupGeneration < 0) {
      throw corrupt(this.brokerMetaPath, `is not a format-${BROKER_FORMAT} broker description`);
    }
    return meta;
  }

  async writeBrokerMeta(meta: BrokerMeta): Promise<void> {
    await writeJsonAtomic(this.brokerMetaPath, meta);
  }

  // ---- producer-ids.json ----

  /** The first producer id never handed out, or 0 when none ever was. */
  async readProducerIdsNext(): Promise<number> {
    const file = path.join(this.root, PRODUCER_IDS_FILE);
    let text: string;
    try {
      text = await fs.promises.readFile(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw e;
    }
    let data: { format?: unknown; next?: unknown };
    try {
      data = JSON.parse(text) as { format?: unknown; next?: unknown };
    } catch {
      throw corrupt(file, 'is not valid JSON');
    }
    if (data === null || typeof data !== 'object' || data.format !== PRODUCER_IDS_FORMAT || !Number.isSafeInteger(data.next) || (data.next as number) < 0) {
      throw corrupt(file, `is not a format-${PRODUCER_IDS_FORMAT} producer id record`);
    }
    return data.next as number;
  }

  async writeProducerIdsNext(next: number): Promise<void> {
    await writeJsonAtomic(path.join(this.root, PRODUCER_IDS_FILE), { format: PRODUCER_IDS_FORMAT, next });
  }

  /** Whether topics/ holds anything (a directory whose group state must exist). */
  async hasTopics(): Promise<boolean> {
    return (await fs.promises.readdir(this.topicsDir)).length > 0;
  }
}

export function corrupt(file: string, what: string): SluiceError {
  const e = new SluiceError(`${file} ${what}`, ErrorCode.CORRUPT);
  e.path = file;
  return e;
}

export async function fsyncDir(dir: string): Promise<void> {
  const h = await fs.promises.open(dir, 'r');
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}

/** Replaces `file` with `data` as JSON atomically (the protocol above); `mode`: the new file's permissions. */
export async function writeJsonAtomic(file: string, data: unknown, mode?: number): Promise<void> {
  await fs.promises.rename(await writeJsonTemp(file, data, mode), file);
  await fsyncDir(path.dirname(file));
}

/** `<file>.tmp` written and synced, to be renamed into place; returns its path. */
async function writeJsonTemp(file: string, data: unknown, mode?: number): Promise<string> {
  const tmp = `${file}${TEMP_SUFFIX}`;
  const h = await fs.promises.open(tmp, 'w', mode);
  try {
    if (mode !== undefined) await h.chmod(mode); // a temporary file left by a crash keeps its old mode
    await h.writeFile(`${JSON.stringify(data, null, 2)}\n`);
    await h.sync();
  } finally {
    await h.close();
  }
  return tmp;
}
