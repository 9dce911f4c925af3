/**
 * A `sluice bench` workload: what to run, in the OpenMessaging Benchmark's field names where they
 * fit (name, topics, partitionsPerTopic, messageSize, subscriptionsPerTopic,
 * consumerPerSubscription, producersPerTopic, producerRate, testDurationMinutes,
 * warmupDurationMinutes) plus Sluice's own (durationSeconds, warmupSeconds, durability,
 * syncIntervalMs, consumerModel, maxBacklog, burst, maxOutstanding). A file is YAML or JSON
 * (JSON is read as JSON when the name ends in .json, otherwise as YAML, which JSON also is).
 *
 * Validation names the field: a wrong type is a TypeError, a value out of range a RangeError,
 * an unknown field a TypeError; OMB fields that the bench does not use (keyDistributor,
 * useRandomizedPayloads, ...) are accepted and listed in `ignored`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';

export type Durability = 'always' | 'interval' | 'none';
export type ConsumerModel = 'ack' | 'offset';

export interface Burst {
  /** when the burst starts, seconds after the measured run starts */
  startSeconds: number;
  durationSeconds: number;
  /** the producer rate during the burst is producerRate × rateMultiplier */
  rateMultiplier: number;
}

export interface Workload {
  name: string;
  topics: number;
  partitionsPerTopic: number;
  messageSize: number;
  subscriptionsPerTopic: number;
  consumerPerSubscription: number;
  producersPerTopic: number;
  /** total msg/s over all producers of the workload; 'max' = as fast as the closed loop allows */
  producerRate: number | 'max';
  durationSeconds: number;
  warmupSeconds: number;
  durability: Durability;
  syncIntervalMs: number;
  consumerModel: ConsumerModel;
  /** a bounded topic: at most this many unconsumed messages (sends beyond it are rejected); 0 = unbounded */
  maxBacklog: number;
  burst: Burst | null;
  /** closed loop for 'max' (and the cap at a fixed rate): messages sent and not yet confirmed, per producer */
  maxOutstanding: number;
  /** OMB fields present in the file that the bench does not use */
  ignored: string[];
}

/** Smallest message: 8 bytes of intended send time, 4 of producer index, 4 of sequence. */
export const MESSAGE_HEADER_BYTES = 16;
const MESSAGE_BYTES_MAX = 1024 * 1024;

const OMB_IGNORED = new Set([
  'keyDistributor',
  'useRandomizedPayloads',
  'randomBytesRatio',
  'randomizedPayloadPoolSize',
  'payloadFile',
  'backlogDrainRatio',
]);

const FIELDS = new Set([
  'name',
  'description',
  'topics',
  'partitionsPerTopic',
  'messageSize',
  'subscriptionsPerTopic',
  'consumerPerSubscription',
  'producersPerTopic',
  'producerRate',
  'testDurationMinutes',
  'durationSeconds',
  'warmupDurationMinutes',
  'warmupSeconds',
  'durability',
  'syncIntervalMs',
  'consumerModel',
  'maxBacklog',
  'burst',
  'maxOutstanding',
  'consumerBacklogSizeGB',
]);

function shown(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : v === undefined ? 'nothing' : JSON.stringify(v) ?? String(v);
}

function integer(o: Record<string, unknown>, field: string, min: number, max: number, dflt?: number): number {
  const v = o[field];
  if (v === undefined) {
    if (dflt === undefined) throw new TypeError(`field "${field}" is required (an integer from ${min} to ${max})`);
    return dflt;
  }
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new TypeError(`field "${field}" must be an integer, got ${shown(v)}`);
  if (v < min || v > max) throw new RangeError(`field "${field}" must be from ${min} to ${max}, got ${v}`);
  return v;
}

function positive(o: Record<string, unknown>, field: string, max: number): number | undefined {
  const v = o[field];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new TypeError(`field "${field}" must be a number, got ${shown(v)}`);
  if (v < 0 || v > max) throw new RangeError(`field "${field}" must be from 0 to ${max}, got ${v}`);
  return v;
}

function oneOf<T extends string>(o: Record<string, unknown>, field: string, values: readonly T[], dflt: T): T {
  const v = o[field];
  if (v === undefined) return dflt;
  if (typeof v !== 'string' || !values.includes(v as T)) throw new TypeError(`field "${field}" must be one of ${values.join(', ')}, got ${shown(v)}`);
  return v as T;
}

function rate(o: Record<string, unknown>): number | 'max' {
  const v = o.producerRate;
  if (v === undefined || v === 0 || v === 'max') return 'max';
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new TypeError(`field "producerRate" must be a number of msg/s, 0 or "max", got ${shown(v)}`);
  if (v < 1 || v > 10_000_000) throw new RangeError(`field "producerRate" must be from 1 to 10000000 msg/s (or 0 / "max"), got ${v}`);
  return v;
}

function seconds(o: Record<string, unknown>, secondsField: string, minutesField: string, required: boolean): number {
  const s = positive(o, secondsField, 86_400);
  const m = positive(o, minutesField, 1440);
  if (s !== undefined && m !== undefined) throw new TypeError(`fields "${secondsField}" and "${minutesField}" both given: give one`);
  if (s === undefined && m === undefined) {
    if (required) throw new TypeError(`field "${secondsField}" (or "${minutesField}") is required`);
    return 0;
  }
  return s ?? m! * 60;
}

function burst(v: unknown): Burst | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'object' || Array.isArray(v)) throw new TypeError(`field "burst" must be an object {startSeconds, durationSeconds, rateMultiplier}, got ${shown(v)}`);
  const b = v as Record<string, unknown>;
  for (const k of Object.keys(b)) if (!['startSeconds', 'durationSeconds', 'rateMultiplier'].includes(k)) throw new TypeError(`field "burst.${k}" is not a burst field (startSeconds, durationSeconds, rateMultiplier)`);
  const num = (k: string, min: number, max: number): number => {
    const x = b[k];
    if (typeof x !== 'number' || !Number.isFinite(x)) throw new TypeError(`field "burst.${k}" must be a number, got ${shown(x)}`);
    if (x < min || x > max) throw new RangeError(`field "burst.${k}" must be from ${min} to ${max}, got ${x}`);
    return x;
  };
  return { startSeconds: num('startSeconds', 0, 86_400), durationSeconds: num('durationSeconds', 0.001, 86_400), rateMultiplier: num('rateMultiplier', 0.01, 1000) };
}

/** Checks a parsed workload object; `source` names it in errors. */
export function validateWorkload(raw: unknown, source = 'workload'): Workload {
  try {
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new TypeError(`must be an object (a mapping of fields), got ${shown(raw)}`);
    const o = raw as Record<string, unknown>;
    const ignored: string[] = [];
    for (const k of Object.keys(o)) {
      if (OMB_IGNORED.has(k)) ignored.push(k);
      else if (!FIELDS.has(k)) throw new TypeError(`field "${k}" is not a workload field`);
    }
    if (o.consumerBacklogSizeGB !== undefined && o.consumerBacklogSizeGB !== 0) throw new RangeError('field "consumerBacklogSizeGB": backlog builds are not supported by sluice bench (use 0 or leave it out)');
    if (typeof o.name !== 'string' || o.name.length === 0) throw new TypeError(`field "name" must be a non-empty string, got ${shown(o.name)}`);
    if (o.description !== undefined && typeof o.description !== 'string') throw new TypeError(`field "description" must be a string, got ${shown(o.description)}`);
    const producerRate = rate(o);
    const w: Workload = {
      name: o.name,
      topics: integer(o, 'topics', 1, 100, 1),
      partitionsPerTopic: integer(o, 'partitionsPerTopic', 1, 1024, 1),
      messageSize: integer(o, 'messageSize', MESSAGE_HEADER_BYTES, MESSAGE_BYTES_MAX),
      subscriptionsPerTopic: integer(o, 'subscriptionsPerTopic', 0, 100, 1),
      consumerPerSubscription: integer(o, 'consumerPerSubscription', 1, 100, 1),
      producersPerTopic: integer(o, 'producersPerTopic', 1, 100, 1),
      producerRate,
      durationSeconds: seconds(o, 'durationSeconds', 'testDurationMinutes', true),
      warmupSeconds: seconds(o, 'warmupSeconds', 'warmupDurationMinutes', false),
      durability: oneOf(o, 'durability', ['always', 'interval', 'none'] as const, 'always'),
      syncIntervalMs: integer(o, 'syncIntervalMs', 1, 3_600_000, 1000),
      consumerModel: oneOf(o, 'consumerModel', ['ack', 'offset'] as const, 'offset'),
      maxBacklog: integer(o, 'maxBacklog', 0, 2 ** 31 - 1, 0),
      burst: burst(o.burst),
      maxOutstanding: integer(o, 'maxOutstanding', 1, 1_000_000, 1000),
      ignored,
    };
    if (w.durationSeconds <= 0) throw new RangeError('field "durationSeconds" must be more than 0');
    if (w.burst !== null && producerRate === 'max') throw new TypeError('field "burst" needs a fixed "producerRate" (a burst multiplies it)');
    return w;
  } catch (e) {
    const err = e as Error;
    const Ctor = err instanceof RangeError ? RangeError : TypeError;
    throw new Ctor(`${source}: ${err.message}`);
  }
}

/** Parses workload text: JSON when `format` is 'json', otherwise YAML. */
export function parseWorkload(text: string, format: 'json' | 'yaml', source = 'workload'): Workload {
  let raw: unknown;
  try {
    raw = format === 'json' ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    throw new TypeError(`${source}: not valid ${format.toUpperCase()}: ${(e as Error).message.split('\n')[0]}`);
  }
  return validateWorkload(raw, source);
}

export function loadWorkload(file: string): Workload {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new TypeError(`workload ${file}: cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return parseWorkload(text, path.extname(file).toLowerCase() === '.json' ? 'json' : 'yaml', `workload ${file}`);
}

/**
 * The workload run for `durationSeconds` instead (the --duration override): warm-up and burst
 * scale with it, so a short smoke run keeps the workload's shape.
 */
export function withDuration(w: Workload, durationSeconds: number): Workload {
  const f = durationSeconds / w.durationSeconds;
  return {
    ...w,
    durationSeconds,
    warmupSeconds: w.warmupSeconds * f,
    burst: w.burst && { ...w.burst, startSeconds: w.burst.startSeconds * f, durationSeconds: w.burst.durationSeconds * f },
  };
}

/** The producer rate at `t` seconds into the measured run (after warm-up), per producer. */
export function rateAt(w: Workload, t: number, producers: number): number {
  if (w.producerRate === 'max') return Infinity;
  const base = w.producerRate / producers;
  const b = w.burst;
  return b !== null && t >= b.startSeconds && t < b.startSeconds + b.durationSeconds ? base * b.rateMultiplier : base;
}
