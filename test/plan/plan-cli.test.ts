import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sluice } from '../helpers/sluice-cli';

// One run both prints the text and writes the HTML report (each run measures for ~18 s).
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plan-html-'));
const html = path.join(dir, 'plan.html');
let textRun: ReturnType<typeof sluice> | undefined;
const textAndHtml = (): ReturnType<typeof sluice> => (textRun ??= sluice(['plan', '--quick', '--rate', '1000', '--retention', '1h', '--html', html]));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('sluice plan --quick', () => {
  it('prints verdicts as text and a JSON report whose figures carry their source', async () => {
    const text = await textAndHtml();
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^1x load: (FITS|DOES NOT FIT)/);
    expect(text.stdout).toMatch(/the verdict checks the end-to-end p99/);
    expect(text.stdout).toMatch(/end to end +p50 .* ms/);
    expect(text.stdout).toMatch(/event loop +delay p50 .*utilisation/);
    expect(text.stdout).toMatch(/Backlog drain \(1 group\(s\) paused 1 s .*\n  backlog at resume \d+ msgs; catch-up/);
    expect(text.stdout).toMatch(/Batch-size sweep/);
    expect(text.stdout).toMatch(/recovery scan rate/);
    expect(text.stdout).toMatch(/limited by /);
    const r = await sluice(['plan', '--quick', '--json', '--rate', '1000', '--durability', 'always']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({ schema: 'sluice.plan', version: 1, workload: { producerRate: 1000, durability: 'always' } });
    expect(j.verdicts).toHaveLength(2);
    const figures = [...Object.values(j.host.figures), ...Object.values(j.needs), j.storedBytesPerMessage] as { source: string }[];
    for (const f of figures) expect(['measured', 'modelled', 'assumed']).toContain(f.source);
    expect(j.host.figures.writeBytesPerSec.spread.runs).toBeGreaterThanOrEqual(3);
    expect(Object.keys(j.engine.appendRate).sort()).toEqual(['always', 'interval:5ms', 'none']);
    expect(Object.keys(j.engine.sustainedRate).sort()).toEqual(['always', 'interval:5ms', 'none']);
    expect(j.engine.sustainedRate.none).toMatchObject({ source: 'measured', unit: 'msg/s', spread: { runs: 3 } });
    expect(j.fixedRate.map((f: { load: number }) => f.load)).toEqual([1, 1.2]);
    for (const f of j.fixedRate) expect(f.latency.count).toBeGreaterThan(0);
    expect(typeof j.fixedRate[0].histogram).toBe('string');
    expect(j.engine.storedBytesPerMessage).toMatchObject({ source: 'measured' });
    expect(j.engine.storedBytesPerMessage.value).toBeGreaterThan(1024);
    expect(j.engine.batchSweep.map((p: { mode: string; batchSize: number }) => `${p.mode}/${p.batchSize}`)).toHaveLength(12);
    expect(j.engine.sustainedBytesPerSec.none).toMatchObject({ source: 'measured', unit: 'B/s' });
    expect(typeof j.engine.rampLimit.none.limit).toBe('string');
    expect(j.engine.recovery.scanBytesPerSec).toMatchObject({ source: 'measured', unit: 'B/s' });
    expect(j.engine.memory.rssPerPartitionBytes).toMatchObject({ source: 'measured', unit: 'B' });
    expect(j.host.figures.loopbackSendfileBytesPerSec).toMatchObject({ source: 'measured', unit: 'B/s' });
    expect(j.host.figures.loopbackCopyBytesPerSec).toMatchObject({ source: 'measured', unit: 'B/s' });
    expect(j.needs.recoverySeconds).toMatchObject({ source: 'modelled', unit: 's' });
    expect(j.needs.timeToFullSeconds).toMatchObject({ source: 'modelled', unit: 's' });
    expect(j.notCovered.join(' ')).not.toMatch(/batch-size sweep|recovery time|loopback/);
    expect(j.verdicts[0].rows.some((row: { resource: string }) => row.resource.startsWith('engine sustained rate'))).toBe(true);
    // End to end (one group by default) beside the publish confirm; the verdict checks end to end.
    for (const f of j.fixedRate) {
      expect(f.latencyChecked).toBe('end-to-end');
      expect(f.endToEnd).toMatchObject({ groups: 1, missing: 0 });
      expect(f.endToEnd.latency.count).toBe(f.latency.count);
      expect(typeof f.endToEnd.histogram).toBe('string');
      expect(f.eventLoop.utilization).toBeGreaterThan(0);
    }
    const cpu = j.verdicts[1].rows.find((row: { resource: string }) => row.resource === 'CPU (event loop)');
    expect(cpu.headroom).toBeCloseTo(1 / cpu.need);
    expect(j.notCovered).toEqual([]);
    expect(j.backlogDrain).toMatchObject({ groups: 1, pauseMs: 1000, source: 'measured' });
    expect(j.backlogDrain.backlog.length).toBeGreaterThan(0);
    expect(j.backlogDrain.catchUpRatio).toBeCloseTo(j.backlogDrain.catchUpRate / j.backlogDrain.rate);
    expect(Array.isArray(j.warnings)).toBe(true);
    expect(j.hostSignals.hotTailBytes).toBeGreaterThan(0);
    if (j.hostSignals.virtualization !== null) expect(j.warnings.join('\n')).toMatch(/virtio flush may be cached by the host/);
    if (j.hostSignals.thp === 'always') expect(j.warnings.join('\n')).toMatch(/transparent huge pages/);
    expect(j.host.fingerprint.fsType).not.toBe('unknown');
  }, 60_000);
  it('rejects a bad flag with a usage error', async () => {
    const r = await sluice(['plan', '--quick', '--durability', 'sometimes']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/durability: expected/);
  }, 60_000);
});

describe('sluice plan --html', () => {
  it('writes a report that chromium renders with its charts', async () => {
    const { CHROMIUM_MISSING, chromiumPath, renderInChromium } = await import('../helpers/chromium');
    const r = await textAndHtml();
    expect(r.code).toBe(0);
    expect(fs.readFileSync(html, 'utf8')).toMatch(/<svg/);
    if (chromiumPath() === null) {
      console.warn(CHROMIUM_MISSING);
      return;
    }
    const out = renderInChromium(html);
    expect(out.errors).toEqual([]);
    expect((out.dom.match(/<svg/g) ?? []).length).toBeGreaterThanOrEqual(6);
    expect(out.dom).toMatch(/Backlog drain \(measured\)/);
    expect(out.dom).toMatch(/load: (FITS|DOES NOT FIT)/);
    expect(out.dom).toMatch(/Batch-size sweep/);
    expect(out.dom).toMatch(/recovery scan rate/);
  }, 60_000);
});
