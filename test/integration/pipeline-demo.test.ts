/**
 * `npm start` runs the pipeline demo (dist/demo/pipeline-demo.js, built by npm install). It checks
 * its own claims and prints them; this test runs it as a child process and holds it to them: the
 * burst is shaved (QUEUE_FULL for a send that does not wait), both groups get every order, the
 * order in progress when the child consumer is killed comes back with delivery count 2 and the
 * acked ones do not, and the demo exits cleanly.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

const demo = path.join(__dirname, '..', '..', 'dist', 'demo', 'pipeline-demo.js');

describe('pipeline demo (npm start)', () => {
  it('shaves the burst, delivers to both groups, and redelivers only what the killed consumer had not acked', () => {
    const r = spawnSync(process.execPath, [demo], { encoding: 'utf8', timeout: 120_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const out = r.stdout;
    expect(out).toContain('a send that does not wait fails at once: QUEUE_FULL');
    expect(out).toMatch(/both groups had every order after \d+ ms/);
    expect(out).toMatch(/\d+\/\d+, in progress at the kill, comes again: delivery 2/);
    expect(out).toMatch(/the acked \d+\/\d+, \d+\/\d+, \d+\/\d+: not delivered again/);
    expect(out).toMatch(/shipping\s+ack\s+lag\s+0\s/);
  }, 150_000);
});
