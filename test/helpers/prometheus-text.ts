/**
 * A strict reader of the Prometheus text exposition format (version 0.0.4), for the metrics
 * tests: every line is a # HELP, a # TYPE, another comment, blank, or a sample
 * `name{label="value",...} value`; a sample belongs to the family declared by the last # TYPE
 * (histograms: name_bucket, name_sum, name_count). Throws, naming the line, on anything else, and
 * on a histogram whose buckets are not cumulative or whose +Inf bucket is not its count.
 * When Debian's promtool is installed, `promtoolCheck` also runs `promtool check metrics`.
 */
import { spawnSync } from 'node:child_process';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}
export interface Family {
  name: string;
  help: string;
  type: string;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+-?\d+)?$/;
const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,|$)/y;

function parseValue(text: string, line: string): number {
  // As Prometheus reads values (Go's ParseFloat): Inf and NaN in any case (prom-client writes "Nan").
  if (/^\+?inf(inity)?$/i.test(text)) return Infinity;
  if (/^-inf(inity)?$/i.test(text)) return -Infinity;
  if (/^nan$/i.test(text)) return NaN;
  const v = Number(text);
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text) || Number.isNaN(v)) throw new Error(`not a sample value: ${JSON.stringify(line)}`);
  return v;
}

function parseLabels(text: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  LABEL.lastIndex = 0;
  while (LABEL.lastIndex < text.length) {
    const at = LABEL.lastIndex;
    const m = LABEL.exec(text);
    if (m === null || m.index !== at) throw new Error(`bad labels in ${JSON.stringify(line)}`);
    if (m[1] in labels) throw new Error(`label ${m[1]} twice in ${JSON.stringify(line)}`);
    labels[m[1]] = m[2].replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    if (m[3] === '') break;
  }
  return labels;
}

function familyOf(sample: string, f: Family): boolean {
  if (sample === f.name) return f.type !== 'histogram';
  return f.type === 'histogram' && [`${f.name}_bucket`, `${f.name}_sum`, `${f.name}_count`].includes(sample);
}

export function parsePrometheusText(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  let current: Family | null = null;
  if (!text.endsWith('\n')) throw new Error('the exposition must end with a newline');
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (meta !== null) {
      const [, kind, name, rest] = meta;
      if (!NAME.test(name)) throw new Error(`bad metric name in ${JSON.stringify(line)}`);
      let f = families.get(name);
      if (f === undefined) {
        f = { name, help: '', type: 'untyped', samples: [] };
        families.set(name, f);
      }
      if (kind === 'HELP') f.help = rest;
      else {
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(rest)) throw new Error(`bad type in ${JSON.stringify(line)}`);
        if (f.samples.length > 0) throw new Error(`# TYPE after samples of ${name}`);
        f.type = rest;
      }
      current = f;
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = SAMPLE.exec(line);
    if (m === null) throw new Error(`not a sample line: ${JSON.stringify(line)}`);
    const sample: Sample = { name: m[1], labels: m[3] === undefined ? {} : parseLabels(m[3], line), value: parseValue(m[4], line) };
    if (current === null || !familyOf(sample.name, current)) throw new Error(`sample ${sample.name} outside its family's block`);
    current.samples.push(sample);
  }
  for (const f of families.values()) if (f.type === 'histogram') checkHistogram(f);
  return families;
}

function checkHistogram(f: Family): void {
  const series = new Map<string, Sample[]>();
  const keyOf = (s: Sample) => JSON.stringify(Object.entries(s.labels).filter(([k]) => k !== 'le').sort());
  for (const s of f.samples) series.set(keyOf(s), [...(series.get(keyOf(s)) ?? []), s]);
  for (const samples of series.values()) {
    const buckets = samples.filter((s) => s.name.endsWith('_bucket'));
    const count = samples.find((s) => s.name.endsWith('_count'));
    if (buckets.length === 0 || count === undefined || samples.find((s) => s.name.endsWith('_sum')) === undefined) throw new Error(`${f.name}: a series without buckets, _sum or _count`);
    let prevLe = -Infinity;
    let prev = 0;
    for (const b of buckets) {
      const le = parseValue(b.labels.le, b.labels.le);
      if (!(le > prevLe) || b.value < prev) throw new Error(`${f.name}: buckets not increasing at le=${b.labels.le}`);
      prevLe = le;
      prev = b.value;
    }
    if (buckets[buckets.length - 1].labels.le !== '+Inf' || prev !== count.value) throw new Error(`${f.name}: the +Inf bucket must equal _count`);
  }
}

/** `promtool check metrics` on the text, or null when promtool is not installed. */
export function promtoolCheck(text: string): { ok: boolean; output: string } | null {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  if (r.error !== undefined) return null;
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
}
