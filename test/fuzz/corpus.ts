/**
 * The committed fuzz corpus of the Kafka request decoders: test/fuzz/corpus/<api>-v<N>/*.bin, one
 * request frame per file as Connection#onFrame receives it (the request header and body, without
 * the int32 size before them). `schema-*` files are made from the API tables by make-corpus.ts;
 * `kafkajs-*`, `platformatic-*` and `kcat-*` were captured from those clients by
 * capture-clients.ts. Every advertised API and version has at least one.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ADVERTISED } from '../../lib/kafka/protocol/versions';

export const CORPUS_DIR = path.join(__dirname, 'corpus');

/** `Produce` -> `produce`, `AddPartitionsToTxn` -> `add-partitions-to-txn`. */
export function kebab(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
}

export function corpusDirOf(apiName: string, version: number): string {
  return path.join(CORPUS_DIR, `${kebab(apiName)}-v${version}`);
}

export interface Seed {
  /** The file, relative to the corpus directory. */
  name: string;
  frame: Buffer;
}

/** Every seed, in a stable order (directory, then file name). */
export function loadCorpus(): Seed[] {
  const seeds: Seed[] = [];
  for (const dir of fs.readdirSync(CORPUS_DIR).sort()) {
    for (const f of fs.readdirSync(path.join(CORPUS_DIR, dir)).sort()) {
      if (f.endsWith('.bin')) seeds.push({ name: `${dir}/${f}`, frame: fs.readFileSync(path.join(CORPUS_DIR, dir, f)) });
    }
  }
  return seeds;
}

/** The advertised API versions that have no seed (the corpus test wants none). */
export function versionsWithoutSeeds(): string[] {
  const missing: string[] = [];
  for (const a of ADVERTISED) {
    for (let v = a.minVersion; v <= a.maxVersion; v++) {
      const dir = corpusDirOf(a.name, v);
      if (!fs.existsSync(dir) || !fs.readdirSync(dir).some((f) => f.endsWith('.bin'))) missing.push(`${a.name} v${v}`);
    }
  }
  return missing;
}

/** Writes `frame` into the API version's directory unless a file there holds the same bytes. */
export function addSeed(apiName: string, version: number, prefix: string, frame: Buffer): string | null {
  const dir = corpusDirOf(apiName, version);
  fs.mkdirSync(dir, { recursive: true });
  const files = fs.readdirSync(dir);
  if (files.some((f) => fs.readFileSync(path.join(dir, f)).equals(frame))) return null;
  let i = 1;
  while (files.includes(`${prefix}-${i}.bin`)) i++;
  const file = path.join(dir, `${prefix}-${i}.bin`);
  fs.writeFileSync(file, frame);
  return file;
}
