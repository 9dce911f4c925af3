import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { phaseBar, plan } from '../../lib/cli/commands/plan';

describe('sluice plan progress', () => {
  it('names each phase in order through the callback; no drain without consumer groups', async () => {
    const seen: [string, number, number][] = [];
    const r = await plan(undefined, { quick: true, rate: '500', retention: '1h', groups: '0', runs: '3' }, (name, done, total) => seen.push([name, done, total]));
    expect(seen.map(([n]) => n)).toEqual(['host probes', 'engine calibration', 'engine ramp (always, interval:5ms, none; 3 runs each)', 'batch-size sweep', 'recovery and memory probes', 'loopback fetch probe', 'fixed-rate run at 1x', 'fixed-rate run at 1.2x', 'report']);
    expect(seen.map(([, d]) => d)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(new Set(seen.map(([, , t]) => t))).toEqual(new Set([9]));
    expect(r.backlogDrain).toBeNull();
    for (const f of r.fixedRate) {
      expect(f.endToEnd).toBeNull();
      expect(f.latencyChecked).toBe('publish confirm');
    }
  }, 60_000);
  it('draws a bar naming the phase on a terminal stream, nothing without one', () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (b: Buffer) => (text += b.toString()));
    Object.assign(out, { isTTY: true, columns: 120 });
    const bar = phaseBar(out);
    bar.phase('host probes', 0, 3);
    bar.phase('engine calibration', 1, 3);
    bar.stop();
    expect(text).toMatch(/sluice plan \[.*\] 0\/3 host probes/);
    const silent = phaseBar(null);
    silent.phase('x', 0, 1);
    silent.stop();
  });
});
