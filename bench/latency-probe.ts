/**
 * Where the latency tail goes: one in-process end-to-end run (the broker bench's latency loop:
 * messages due at a fixed rate, sent on every turn, latency from the due time) with a timeline of
 * GC pauses (perf_hooks 'gc' entries), event-loop gaps (turns over 1 ms) and, with PROBE_WRAP=1,
 * every call into the native Log from the broker's thread (timed; calls over SLOW_CALL_US µs,
 * default 300, go on the timeline, labelled topic or group). It then counts the messages slower
 * than 0.5 ms and the gaps by what overlapped them. PROBE_HEAP=1 samples allocation (including
 * collected objects) by function, PROBE_HEAP=live what is still reachable at the end, PROBE_HEAP=promoted what only a major GC freed; PROBE_TIMELINE=1 prints every event over 1 ms. Not a
 * benchmark (npm run bench does not run it): a diagnostic, for the figures in README
 * (Performance, in-process end to end at 100 k msg/s).
 *
 *   node --expose-gc --import tsx bench/latency-probe.ts offset|ack SIZE RATE DURATION_MS
 */
import { randomFillSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance, PerformanceObserver } from 'node:perf_hooks';
import * as hdr from 'hdr-histogram-js';
import { Broker } from '../lib/broker/broker';
import { native } from '../lib/native';
import * as inspector from 'node:inspector';
const session = new inspector.Session();

const model = (process.argv[2] ?? 'offset') as 'offset' | 'ack';
const size = Number(process.argv[3] ?? 100);
const rate = Number(process.argv[4] ?? 100000);
const durationMs = Number(process.argv[5] ?? 3000);
const SLOW_CALL_US = Number(process.env.SLOW_CALL_US ?? 300);

type Ev = { t: number; d: number; what: string };
const events: Ev[] = [];
let recording = false;

/** Per thread of this process: name, ns on a CPU and ns runnable but waiting for one (schedstat). */
function threadTimes(): Map<string, { name: string; runNs: number; waitNs: number }> {
  const out = new Map<string, { name: string; runNs: number; waitNs: number }>();
  for (const tid of fs.readdirSync('/proc/self/task')) {
    try {
      const name = fs.readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim();
      const [run, wait] = fs.readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ').map(Number);
      out.set(tid, { name: tid === String(process.pid) ? 'js-main' : name, runNs: run, waitNs: wait });
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return out;
}
let threads0 = new Map<string, { name: string; runNs: number; waitNs: number }>();
let recordStart = 0;
const callTotals = new Map<string, { n: number; us: number }>();
const origOpen = native.NativeLog.open.bind(native.NativeLog);
// The hot methods are non-writable own properties of each native log: wrap the object instead.
(native as { NativeLog: unknown }).NativeLog = {
  open: async (dir: string, options: Parameters<typeof origOpen>[1], cb: () => void) => {
    const n = (await origOpen(dir, options, cb)) as unknown as Record<string, unknown>;
    if (recording) events.push({ t: performance.now(), d: 0, what: `${dir.includes('/groups/') ? 'group' : 'topic'}.open` });
    if (process.env.PROBE_WRAP !== '1') return n;
    const label = dir.includes('/groups/') ? 'group' : 'topic';
    const w: any = {};
    const keys = new Set([...Object.getOwnPropertyNames(n), ...Object.getOwnPropertyNames(Object.getPrototypeOf(n))]);
    for (const k of keys) {
      const f = n[k] as (...args: unknown[]) => unknown;
      if (typeof f !== 'function' || k === 'constructor') continue;
      if (k === 'offsets' || k === 'setActive' || k === 'failure') { w[k] = f.bind(n); continue; }
      w[k] = function (this: unknown, ...args: unknown[]) {
        const t0 = performance.now();
        try {
          return f.apply(n, args);
        } finally {
          const d = (performance.now() - t0) * 1000;
          if (recording) {
            const key = `${label}.${k}`;
            const c = callTotals.get(key) ?? { n: 0, us: 0 };
            c.n++; c.us += d; callTotals.set(key, c);
            if (d > SLOW_CALL_US) events.push({ t: t0, d: d / 1000, what: key });
          }
        }
      };
    }
    return w;
  },
};

let total_ = 0, warmup_ = 0;
async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'probe-'));
  const broker = await Broker.open(dir);
  await broker.createTopic('t', { segmentBytes: 1024 * 1024 * 1024, sync: 'none' });
  const consumer = broker.consumer({ group: 'bench', topics: 't', model });
  const h = hdr.build({ useWebAssembly: false, lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  const warmup = Math.round(rate * 0.5);
  const total = warmup + Math.round((rate * durationMs) / 1000);
  total_ = total; warmup_ = warmup;
  let seen = 0;
  const slow: { due: number; at: number }[] = [];
  let reached: () => void = () => {};
  const done = new Promise<void>((r) => (reached = r));
  const running = consumer.run((m: any) => {
    const now = performance.now();
    if (seen++ >= warmup) {
      const due = m.rawValue.readDoubleLE(0);
      const us = (now - due) * 1000;
      h.recordValue(Math.max(1, Math.round(us)));
      if (us > 500) slow.push({ due, at: now });
    } else if (seen === warmup) {
      recording = true;
      threads0 = threadTimes();
      recordStart = performance.now();
      if (process.env.PROBE_HEAP !== undefined) {
        // PROBE_HEAP=live samples only what is still reachable at the end: what the run retains;
        // PROBE_HEAP=promoted what outlived the scavenges (promoted) and only a major GC freed.
        const mode = process.env.PROBE_HEAP;
        session.connect();
        session.post('HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMajorGC: mode !== 'live', includeObjectsCollectedByMinorGC: mode === '1' });
      }
    }
    if (seen === total) reached();
  });
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) if (recording) events.push({ t: e.startTime, d: e.duration, what: `gc.${(e as any).detail?.kind ?? (e as any).kind}` });
  });
  obs.observe({ entryTypes: ['gc'] });
  let last = performance.now();
  let stop = false;
  const cpu0 = process.cpuUsage();
  const turn = () => {
    const now = performance.now();
    if (recording && now - last > 1) events.push({ t: last, d: now - last, what: 'GAP' });
    last = now;
    if (!stop) setImmediate(turn);
  };
  setImmediate(turn);
  const filler = randomFillSync(Buffer.alloc(size));
  const start = performance.now() + 5;
  const intervalMs = 1000 / rate;
  let sent = 0;
  let pendingConfirms = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor((performance.now() - start) / intervalMs) + 1);
    if (due > sent) {
      const count = due - sent;
      const slab = Buffer.allocUnsafe(count * size);
      const batch = new Array(count);
      for (let k = 0; k < count; k++) {
        const value = slab.subarray(k * size, (k + 1) * size);
        filler.copy(value, 8, 8);
        value.writeDoubleLE(start + (sent + k) * intervalMs, 0);
        batch[k] = { value };
      }
      pendingConfirms++;
      void broker.sendBatch('t', batch).then(() => pendingConfirms--);
      sent = due;
    }
    await new Promise((r) => setImmediate(r));
  }
  while (pendingConfirms > 0) await new Promise((r) => setImmediate(r));
  await done;
  recording = false;
  if (process.env.PROBE_HEAP !== undefined) {
    session.post('HeapProfiler.stopSampling', (err: any, r: any) => {
      const self = new Map<string, number>();
      let total = 0;
      const walk = (n: any) => {
        const cf = n.callFrame;
        const k = `${cf.functionName || '(anon)'} ${cf.url.split('/').slice(-2).join('/')}:${cf.lineNumber + 1}`;
        self.set(k, (self.get(k) ?? 0) + n.selfSize);
        total += n.selfSize;
        for (const c of n.children) walk(c);
      };
      walk(r.profile.head);
      console.log(`sampled allocation: ${(total / 1e6).toFixed(1)} MB (${(total / (total_ - warmup_)).toFixed(0)} B/message)`);
      for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log(`  ${(v / 1e6).toFixed(2).padStart(8)} MB ${(v / (total_ - warmup_)).toFixed(0).padStart(5)} B/msg ${k}`);
    });
  }
  // Where the CPUs went while recording: a JavaScript thread that waits on the run queue for
  // milliseconds at a time shows up as gaps with no GC or native call inside them.
  const wall = performance.now() - recordStart;
  const byName = new Map<string, { n: number; run: number; wait: number }>();
  for (const [tid, t] of threadTimes()) {
    const t0 = threads0.get(tid) ?? { runNs: 0, waitNs: 0 };
    const a = byName.get(t.name) ?? { n: 0, run: 0, wait: 0 };
    a.n++; a.run += (t.runNs - t0.runNs) / 1e6; a.wait += (t.waitNs - t0.waitNs) / 1e6;
    byName.set(t.name, a);
  }
  const busy = [...byName].filter(([, a]) => a.run + a.wait >= 1).sort((x, y) => y[1].run - x[1].run);
  console.log(`threads over ${wall.toFixed(0)} ms recorded (ms on a CPU / ms runnable, waiting for one): ` +
    busy.map(([k, a]) => `${k}${a.n > 1 ? ` x${a.n}` : ''} ${a.run.toFixed(0)}/${a.wait.toFixed(0)}`).join('; '));
  const cpu = process.cpuUsage(cpu0);
  console.log(`cpu user ${(cpu.user / 1000).toFixed(0)} ms sys ${(cpu.system / 1000).toFixed(0)} ms`);
  stop = true;
  obs.disconnect();
  await consumer.close();
  await running;
  await broker.close();
  fs.rmSync(dir, { recursive: true, force: true });
  const q = (p: number) => (h.getValueAtPercentile(p) / 1000).toFixed(3);
  console.log(`${model} ${size}B @${rate}: n=${h.totalCount} p50 ${q(50)} p99 ${q(99)} p99.9 ${q(99.9)} max ${(h.maxValue / 1000).toFixed(3)} ms; slow(>0.5ms) ${slow.length}`);
  // Attribute each slow message to events overlapping [due, at].
  events.sort((a, b) => a.t - b.t);
  const byCause = new Map<string, number>();
  for (const s of slow) {
    const causes = new Set<string>();
    for (const e of events) {
      if (e.what === 'GAP') continue;
      if (e.t + e.d < s.due || e.t > s.at) continue;
      causes.add(e.what.startsWith('gc.') ? 'gc' : e.what);
    }
    const key = causes.size === 0 ? '(none seen)' : [...causes].sort().join('+');
    byCause.set(key, (byCause.get(key) ?? 0) + 1);
  }
  console.log('slow messages by overlapping cause:', [...byCause].sort((a, b) => b[1] - a[1]).slice(0, 12));
  const agg = new Map<string, { n: number; ms: number; max: number }>();
  for (const e of events) {
    const a = agg.get(e.what) ?? { n: 0, ms: 0, max: 0 };
    a.n++; a.ms += e.d; a.max = Math.max(a.max, e.d); agg.set(e.what, a);
  }
  console.log('events:', [...agg].map(([k, v]) => `${k}: n=${v.n} total=${v.ms.toFixed(1)}ms max=${v.max.toFixed(2)}ms`).join('; '));
  console.log('native call totals:', [...callTotals].map(([k, v]) => `${k}: n=${v.n} ${(v.us / 1000).toFixed(1)}ms`).join('; '));
  // Gaps by overlapping cause.
  const gapCause = new Map<string, { n: number; ms: number }>();
  for (const g of events.filter((e) => e.what === 'GAP')) {
    const causes = new Set<string>();
    for (const e of events) {
      if (e.what === 'GAP' || e.t + e.d < g.t || e.t > g.t + g.d) continue;
      if (e.what.endsWith('.open')) continue;
      causes.add(e.what.startsWith('gc.') ? 'gc' : e.what);
    }
    const opens = events.filter((e) => e.what === 'group.open' && e.t <= g.t + g.d && e.t > g.t - 20);
    if (opens.length > 0) causes.add('checkpoint<20ms');
    const key = causes.size === 0 ? '(none seen)' : [...causes].sort().join('+');
    const c = gapCause.get(key) ?? { n: 0, ms: 0 };
    c.n++; c.ms += g.d; gapCause.set(key, c);
  }
  console.log('gaps by cause:', [...gapCause].sort((a, b) => b[1].ms - a[1].ms).map(([k, v]) => `${k}: ${v.n} gaps ${v.ms.toFixed(0)} ms`).join('; '));
  if (process.env.PROBE_TIMELINE) for (const e of events.filter((e) => e.d > 1)) console.log(`  ${e.t.toFixed(1)} +${e.d.toFixed(2)} ${e.what}`);
}
main().catch((e) => { console.error(e); process.exit(1); });
