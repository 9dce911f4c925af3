/**
 * `npm start` runs the pipeline demo (dist/demo/pipeline-demo.js, built by npm install). It checks
 * its own claims and prints them; this test runs it as a child process and holds it to them, and to
 * what README.md's Quick start says of it: the burst is shaved (sends wait for room, QUEUE_FULL for
 * a send that does not wait), both groups get every order, billing's two members share the
 * partitions and its nacked order is redelivered, the order in progress when the child consumer is
 * killed comes back with delivery count 2 and the acked ones do not, analytics replays from an
 * offset and seeks to a time, describe() reports every group, and the demo exits cleanly.
 * `npm run demo:storage` (dist/demo/storage-demo.js) is held to the same paragraph: two million
 * messages appended, flushed and read back, a clean reopen, and a recovered mid-write copy.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

const demo = path.join(__dirname, '..', '..', 'dist', 'demo', 'pipeline-demo.js');
const storageDemo = path.join(__dirname, '..', '..', 'dist', 'demo', 'storage-demo.js');

describe('pipeline demo (npm start)', () => {
  it('shaves the burst, delivers to both groups, and redelivers only what the killed consumer had not acked', () => {
    const r = spawnSync(process.execPath, [demo], { encoding: 'utf8', timeout: 120_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const out = r.stdout;
    expect(out).toMatch(/billing members: billing-1 holds \d(,\d)*; billing-2 holds \d(,\d)*\n/);
    expect(out).toMatch(/peak: backlog 50000 of maxBacklog 50000, [1-9]\d* sends waiting for room/);
    expect(out).toContain('a send that does not wait fails at once: QUEUE_FULL');
    expect(out).toMatch(/produced 200,000 orders in \d+ ms/);
    expect(out).toMatch(/both groups had every order after \d+ ms/);
    expect(out).toContain('billing: lag 0, redeliveries 1 (the nacked order)');
    expect(out).toMatch(/\d+\/\d+, in progress at the kill, comes again: delivery 2/);
    expect(out).toMatch(/the acked \d+\/\d+, \d+\/\d+, \d+\/\d+: not delivered again/);
    expect(out).toMatch(/analytics replays partition \d+ from offset \d+: orders \d+(, \d+){4}\n/);
    expect(out).toMatch(/seek to time \S+: every partition moves to its first order at or after it/);
    expect(out).toMatch(/analytics\s+offset\s+lag\s+\d+\s+in flight 0\s+redeliveries 0\n/);
    expect(out).toMatch(/billing\s+ack\s+lag\s+0\s+in flight 0\s+redeliveries 1\n/);
    expect(out).toMatch(/shipping\s+ack\s+lag\s+0\s+in flight 0\s+redeliveries \d+\n/);
  }, 150_000);
});

describe('storage demo (npm run demo:storage)', () => {
  it('appends two million messages, reads them back, reopens cleanly and recovers a copy taken mid-write', () => {
    const r = spawnSync(process.execPath, [storageDemo], { encoding: 'utf8', timeout: 120_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const out = r.stdout;
    expect(out).toContain('1,000,000 messages of 100 B one call each, then 1,000,000 in batches of 1000');
    expect(out).toMatch(/append \(one call per message\)\s+[\d.]+ M msg\/s/);
    expect(out).toMatch(/appendBatch \(1000 per call\)\s+[\d.]+ M msg\/s/);
    expect(out).toMatch(/flush\s+[\d.]+ ms\s+durable offset 2000000\n/);
    expect(out).toContain('(2,000,000 records)');
    expect(out).toMatch(/reopen after clean close\s+[\d.]+ ms\s+offsets \[0, 2000001\)\n\s+recovery: \{\n\s+cleanShutdown: true,/);
    expect(out).toMatch(/recover a copy taken mid-write\s+[\d.]+ ms\s+offsets \[0, 2000000\)\n\s+recovery: \{\n\s+cleanShutdown: false,/);
  }, 150_000);
});
