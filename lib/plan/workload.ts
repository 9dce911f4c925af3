/**
 * The workload `sluice plan` sizes for: read from a YAML or JSON file (OMB-like field names, shared
 * with `sluice bench`: name, topics, partitionsPerTopic, messageSize, producerRate,
 * subscriptionsPerTopic) and/or flags, which override the file. Errors name the field and the
 * expected form; parseWorkload never guesses.
 */
import * as fs from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { UsageError } from '../cli/exit-codes';

export type Durability = { mode: 'always' } | { mode: 'interval'; ms: number } | { mode: 'none' };

export interface PlanWorkload {
  name: string;
  topics: number;
  partitionsPerTopic: number;
  /** Bytes per message value. */
  messageSize: number;
  /** Messages per second, all topics together. */
  producerRate: number;
  subscriptionsPerTopic: number;
  /** Retention in bytes or milliseconds (whichever is given). */
  retention: { ms: number } | { bytes: number };
  durability: Durability;
  p99Ms: number;
  peakFactor: number;
}

export const DEFAULT_WORKLOAD: PlanWorkload = {
  name: 'plan',
  topics: 1,
  partitionsPerTopic: 16,
  messageSize: 1024,
  producerRate: 10_000,
  subscriptionsPerTopic: 1,
  retention: { ms: 7 * 86_400_000 },
  durability: { mode: 'interval', ms: 5 },
  p99Ms: 50,
  peakFactor: 1.2,
};

const UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const UNITS_B: Record<string, number> = { b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, tib: 1024 ** 4 };

/** "7d", "12h" → ms; "500GB", "1TiB", "1000000" → bytes. */
export function parseRetention(value: string | number): PlanWorkload['retention'] {
  if (typeof value === 'number' && Number.isFinite(value) && value > 0) return { bytes: value };
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(String(value));
  const unit = m?.[2].toLowerCase() ?? '';
  if (m && unit in UNITS_MS && unit !== 'b') return { ms: Number(m[1]) * UNITS_MS[unit] };
  if (m && (unit === '' || unit in UNITS_B)) return { bytes: Number(m[1]) * (UNITS_B[unit] ?? 1) };
  throw new UsageError(`retention: expected a duration (7d, 12h, 30m) or a size (500GB, 1TiB, bytes), got ${JSON.stringify(value)}`);
}

/** "always", "none", "interval:5ms" (or "interval:5"). */
export function parseDurability(value: string): Durability {
  if (value === 'always' || value === 'none') return { mode: value };
  const m = /^interval:(\d+(?:\.\d+)?)(ms)?$/.exec(value);
  if (m && Number(m[1]) > 0) return { mode: 'interval', ms: Number(m[1]) };
  throw new UsageError(`durability: expected always, none or interval:<ms>ms (interval:5ms), got ${JSON.stringify(value)}`);
}

export function durabilityName(d: Durability): string {
  return d.mode === 'interval' ? `interval:${d.ms}ms` : d.mode;
}

function positive(field: string, v: unknown, integer: boolean): number {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new UsageError(`${field}: expected a positive ${integer ? 'integer' : 'number'}, got ${JSON.stringify(v)}`);
  }
  return n;
}

/** Consumer groups: 0 is a producer-only workload (as in sluice bench). */
const groups = (v: unknown): number => (v === 0 || v === '0' ? 0 : positive('subscriptionsPerTopic', v, true));

const FIELDS = new Set(['name', 'topics', 'partitionsPerTopic', 'messageSize', 'producerRate', 'subscriptionsPerTopic', 'retention', 'durability', 'p99Ms', 'peakFactor']);

/** Merges a parsed file object (may be undefined) and flag overrides over the defaults. */
export function parseWorkload(file: unknown, flags: Record<string, unknown> = {}): PlanWorkload {
  if (file !== undefined && (typeof file !== 'object' || file === null || Array.isArray(file))) {
    throw new UsageError('workload: expected a mapping of fields (name, topics, partitionsPerTopic, messageSize, producerRate, ...)');
  }
  const src: Record<string, unknown> = { ...(file as Record<string, unknown> | undefined) };
  for (const k of Object.keys(src)) if (!FIELDS.has(k)) throw new UsageError(`workload: unknown field ${JSON.stringify(k)} (known: ${[...FIELDS].join(', ')})`);
  for (const [k, v] of Object.entries(flags)) if (v !== undefined) src[k] = v;
  const d = DEFAULT_WORKLOAD;
  const peakFactor = src.peakFactor === undefined ? d.peakFactor : positive('peakFactor', src.peakFactor, false);
  if (peakFactor < 1) throw new UsageError(`peakFactor: expected ≥ 1, got ${peakFactor}`);
  return {
    name: src.name === undefined ? d.name : String(src.name),
    topics: src.topics === undefined ? d.topics : positive('topics', src.topics, true),
    partitionsPerTopic: src.partitionsPerTopic === undefined ? d.partitionsPerTopic : positive('partitionsPerTopic', src.partitionsPerTopic, true),
    messageSize: src.messageSize === undefined ? d.messageSize : positive('messageSize', src.messageSize, true),
    producerRate: src.producerRate === undefined ? d.producerRate : positive('producerRate', src.producerRate, false),
    subscriptionsPerTopic: src.subscriptionsPerTopic === undefined ? d.subscriptionsPerTopic : groups(src.subscriptionsPerTopic),
    retention: src.retention === undefined ? d.retention : parseRetention(src.retention as string | number),
    durability: src.durability === undefined ? d.durability : parseDurability(String(src.durability)),
    p99Ms: src.p99Ms === undefined ? d.p99Ms : positive('p99Ms', src.p99Ms, false),
    peakFactor,
  };
}

export function readWorkloadFile(file: string): unknown {
  const text = fs.readFileSync(file, 'utf8');
  try {
    return file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    throw new UsageError(`${file}: not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${(e as Error).message}`);
  }
}
