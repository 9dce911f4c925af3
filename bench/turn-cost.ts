/**
 * What one turn of the event loop costs the broker, independent of the host's noise: K messages
 * sent with one sendBatch per turn for T turns (after 5,000 of warmup), consumed by run() with a
 * synchronous handler (offset model: auto-commit; ack model: ack each); prints wall and CPU time
 * per turn and scavenges per million messages, and with TICK_HEAP=1 the bytes allocated per
 * message (sampled, collected objects included; TICK_TOP=N lists the top N functions). A
 * diagnostic beside README's latency figures (npm run bench does not run it):
 *
 *   node --expose-gc --import tsx bench/turn-cost.ts offset|ack SIZE K T
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as inspector from 'node:inspector';
import { PerformanceObserver } from 'node:perf_hooks';
import { Broker } from '../lib/broker/broker';

const model = (process.argv[2] ?? 'offset') as 'offset' | 'ack';
const size = Number(process.argv[3] ?? 100);
const K = Number(process.argv[4] ?? 5);
const T = Number(process.argv[5] ?? 40000);
const session = new inspector.Session();
async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tick-'));
  const broker = await Broker.open(dir);
  await broker.createTopic('t', { segmentBytes: 1024 * 1024 * 1024, sync: 'none' });
  const consumer = broker.consumer({ group: 'g', topics: 't', model });
  let seen = 0;
  let target = 0;
  let reached: () => void = () => {};
  const running = consumer.run(() => { if (++seen === target) reached(); });
  const payload = Buffer.alloc(size, 7);
  const batch = Array.from({ length: K }, () => ({ value: payload }));
  const turn = () => new Promise((r) => setImmediate(r));
  const runTicks = async (n: number) => {
    target = seen + n * K;
    const done = new Promise<void>((r) => (reached = r));
    for (let i = 0; i < n; i++) {
      void broker.sendBatch('t', batch);
      await turn();
    }
    await done;
  };
  await runTicks(5000); // warmup
  (globalThis as any).gc?.();
  let gcs = 0, gcMs = 0;
  const obs = new PerformanceObserver((l) => { for (const e of l.getEntries()) { gcs++; gcMs += e.duration; } });
  obs.observe({ entryTypes: ['gc'] });
  const heap = process.env.TICK_HEAP === '1';
  if (heap) { session.connect(); session.post('HeapProfiler.startSampling', { samplingInterval: 1024, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true }); }
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await runTicks(T);
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  let alloc = NaN;
  if (heap) {
    alloc = await new Promise<number>((res) => session.post('HeapProfiler.stopSampling', (_e: any, r: any) => {
      let total = 0; const self = new Map<string, number>();
      const walk = (n: any, parent: string) => { total += n.selfSize; const cf = n.callFrame; const k = `${cf.functionName || '(anon)'} ${cf.url.split('/').slice(-2).join('/')}` + ((cf.url === '' || cf.url.startsWith('node:')) ? ` <- ${parent}` : ''); self.set(k, (self.get(k) ?? 0) + n.selfSize); for (const c of n.children) walk(c, `${cf.functionName || '(anon)'} ${cf.url.split('/').slice(-1)}`); };
      walk(r.profile.head, '');
      if (process.env.TICK_TOP) for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.TICK_TOP))) console.log(`  ${(v / (T * K)).toFixed(0).padStart(5)} B/msg ${k}`);
      res(total);
    }));
  }
  await new Promise((r) => setTimeout(r, 50));
  obs.disconnect();
  const msgs = T * K;
  console.log(`${model} ${size}B K=${K}: wall ${(wall * 1000 / T).toFixed(1)} µs/tick, cpu user ${(cpu.user / T).toFixed(1)} sys ${(cpu.system / T).toFixed(1)} µs/tick; scavenges ${(gcs * 1e6 / msgs).toFixed(1)}/M msgs (${gcMs.toFixed(0)} ms)` + (heap ? `; alloc ${(alloc / msgs).toFixed(0)} B/msg` : ''));
  await consumer.close(); await running; await broker.close();
  fs.rmSync(dir, { recursive: true, force: true });
}
main().catch((e) => { console.error(e); process.exit(1); });
