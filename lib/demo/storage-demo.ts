/**
 * `npm run demo:storage`: the storage engine end to end. Appends a million 100-byte messages with
 * one call each and a million more in batches of 1000, flushes, reads all of them back, closes,
 * reopens (showing the recovery report), and recovers a copy of the directory taken while the log
 * was open (an unclean shutdown).
 *
 * SLUICE_DEMO_MESSAGES sets the count of each half (default 1000000).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Log } from '../index';

const MESSAGES = Number(process.env.SLUICE_DEMO_MESSAGES ?? 1_000_000);
const VALUE_BYTES = 100;

function rate(count: number, ms: number): string {
  return `${((count / ms) * 1000 / 1e6).toFixed(2)} M msg/s`;
}

function mb(bytes: number, ms: number): string {
  return `${((bytes / ms) * 1000 / 1e6).toFixed(0)} MB/s`;
}

async function main(): Promise<void> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-demo-'));
  const dir = path.join(root, 'log');
  try {
    console.log(`Sluice storage demo: ${MESSAGES.toLocaleString('en')} messages of ${VALUE_BYTES} B one call each, then ${MESSAGES.toLocaleString('en')} in batches of 1000, in ${dir}\n`);
    const log = await Log.open(dir, { segmentBytes: 64 * 1024 * 1024 });
    const value = Buffer.alloc(VALUE_BYTES, 'x');

    let t = performance.now();
    for (let i = 0; i < MESSAGES; i++) log.append(value);
    log.seal();
    let ms = performance.now() - t;
    console.log(`append (one call per message)   ${rate(MESSAGES, ms).padStart(14)}  ${mb(MESSAGES * VALUE_BYTES, ms)}`);

    const batch = Array.from({ length: 1000 }, (_, i) => Buffer.alloc(VALUE_BYTES, i % 256));
    t = performance.now();
    for (let i = 0; i < MESSAGES / 1000; i++) log.appendBatch(batch);
    log.seal();
    ms = performance.now() - t;
    console.log(`appendBatch (1000 per call)     ${rate(MESSAGES, ms).padStart(14)}  ${mb(MESSAGES * VALUE_BYTES, ms)}`);

    t = performance.now();
    const durable = await log.flush();
    console.log(`flush                           ${(performance.now() - t).toFixed(1).padStart(9)} ms    durable offset ${durable}`);

    t = performance.now();
    let offset = log.startOffset;
    let count = 0;
    let bytes = 0;
    while (offset < log.highWatermark) {
      const records = log.read(offset);
      for (const r of records) bytes += r.value!.length;
      count += records.length;
      offset = records[records.length - 1].offset + 1;
    }
    ms = performance.now() - t;
    console.log(`read back (zero-copy views)     ${rate(count, ms).padStart(14)}  ${mb(bytes, ms)}  (${count.toLocaleString('en')} records)`);

    // An unclean shutdown: copy the files while the log is still open and holds an unsealed batch.
    log.append('unsealed', { key: 'never-sealed' });
    const crashed = path.join(root, 'crashed');
    fs.cpSync(dir, crashed, { recursive: true });
    fs.rmSync(path.join(crashed, '.lock'), { force: true });
    await log.close();

    t = performance.now();
    const reopened = await Log.open(dir);
    ms = performance.now() - t;
    console.log(`\nreopen after clean close        ${ms.toFixed(1).padStart(9)} ms    offsets [${reopened.startOffset}, ${reopened.endOffset})`);
    console.log('  recovery:', reopened.recovery);
    await reopened.close();

    t = performance.now();
    const recovered = await Log.open(crashed);
    ms = performance.now() - t;
    console.log(`\nrecover a copy taken mid-write  ${ms.toFixed(1).padStart(9)} ms    offsets [${recovered.startOffset}, ${recovered.endOffset})`);
    console.log('  recovery:', recovered.recovery);
    console.log('  (the unsealed message was never visible, so recovery discards it)');
    await recovered.close();
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
