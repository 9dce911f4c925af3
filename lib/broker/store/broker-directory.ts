/**
 * The broker's data directory, built and parsed here and nowhere else:
 *
 *   <dir>/.lock                        flock(2)ed for the broker's lifetime (storage/directory-lock.ts):
 *                                      one broker per data directory. A lock/ directory (a small Log
 *                                      that held the lock before 0.1) is left alone: nothing opens
 *                                      it, and removing it could pull it from under an older broker
 *                                      still running on the directory; delete it by hand
 *   <dir>/topics/<topic>/topic.json    {format, name, config, createdAt}; written last when a topic
 *                                      is created (the commit point), so a topic directory without
 *                                      it is a creation that crashed and is removed on open
 *   <dir>/topics/<topic>/<partition>/  the partition's Log (partition numbers in decimal)
 *   <dir>/groups/<generation>/         the group-state Log of one checkpoint generation (20-digit
 *                                      zero-padded decimal, so that `ls` sorts them)
 *   <dir>/trash/                       deleted topics: renamed here (the commit point of a delete),
 *                                      then removed; emptied on open
 *
 * JSON files are replaced atomically: write a temporary file, fsync it, rename it over the old one,
 * fsync the directory.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ErrorCode, SluiceError } from '../../errors';
import type { TopicConfig } from '../topic/topic-config';

export const TOPIC_FORMAT = 1;

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

  get topicsDir(): string {
    return path.join(this.root, 'topics');
  }
  get groupsDir(): string {
    return path.join(this.root, 'groups');
  }
  get trashDir(): string {
    return path.join(this.root, 'trash');
  }
  topicDir(name: string): string {
    return path.join(this.topicsDir, name);
  }
  topicMetaPath(name: string): string {
    return path.join(this.topicDir(name), 'topic.json');
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

  /** Topics with a complete topic.json; removes the directories of creations that crashed. */
  async loadTopics(): Promise<TopicMeta[]> {
    const out: TopicMeta[] = [];
    for (const name of (await fs.promises.readdir(this.topicsDir)).sort()) {
      let text: string;
      try {
        text = await fs.promises.readFile(this.topicMetaPath(name), 'utf8');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        await fs.promises.rm(this.topicDir(name), { recursive: true, force: true });
        continue;
      }
      let meta: TopicMeta;
      try {
        meta = JSON.parse(text) as TopicMeta;
      } catch {
        throw corrupt(this.topicMetaPath(name), 'is not valid JSON');
      }
      if (meta.format !== TOPIC_FORMAT || meta.name !== name || typeof meta.config !== 'object') {
        throw corrupt(this.topicMetaPath(name), `is not a format-${TOPIC_FORMAT} description of topic ${name}`);
      }
      out.push(meta);
    }
    return out;
  }

  async writeTopicMeta(meta: TopicMeta): Promise<void> {
    await writeJsonAtomic(this.topicMetaPath(meta.name), meta);
  }

  /** Moves a topic's directory into the trash (the commit point of a delete) and removes it. */
  async deleteTopicDir(name: string): Promise<void> {
    const target = path.join(this.trashDir, `${name}.${Date.now()}.${process.pid}.${Math.random().toString(36).slice(2, 8)}`);
    await fs.promises.rename(this.topicDir(name), target);
    await fsyncDir(this.topicsDir);
    await fs.promises.rm(target, { recursive: true, force: true });
  }

  async emptyTrash(): Promise<void> {
    for (const name of await fs.promises.readdir(this.trashDir)) {
      await fs.promises.rm(path.join(this.trashDir, name), { recursive: true, force: true });
    }
  }

  async removeGeneration(generation: number): Promise<void> {
    await fs.promises.rm(this.generationDir(generation), { recursive: true, force: true });
  }
}

function corrupt(file: string, what: string): SluiceError {
  const e = new SluiceError(`${file} ${what}`, ErrorCode.CORRUPT);
  e.path = file;
  return e;
}

async function fsyncDir(dir: string): Promise<void> {
  const h = await fs.promises.open(dir, 'r');
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}

async function writeJsonAtomic(file: string, data: unknown): Promise<void> {
  const tmp = `${file}.tmp`;
  const h = await fs.promises.open(tmp, 'w');
  try {
    await h.writeFile(`${JSON.stringify(data, null, 2)}\n`);
    await h.sync();
  } finally {
    await h.close();
  }
  await fs.promises.rename(tmp, file);
  await fsyncDir(path.dirname(file));
}
