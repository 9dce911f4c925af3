/**
 * The soak harness (bench/soak/) at a tiny size, so that it does not rot: 15 seconds at 60 msg/s
 * of 1 KB values against `sluice serve` in a child process, with a member joining and leaving the
 * fast group, short-lived clients of both libraries, and 64 KiB segments with retention deleting
 * them. Asserts the behaviour the soak checks (nothing acknowledged lost, both groups drained,
 * segments deleted, clean shutdown), with resource bounds loose enough for a shared CI machine:
 * 15 seconds is warm-up, not a soak.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { linearFit, trend, type Sample } from '../../bench/soak/analysis';
import { Ledger, decodeSeq, encodeValue } from '../../bench/soak/ledger';
import { DEFAULTS, retentionBytesFor } from '../../bench/soak/options';
import { writeReport } from '../../bench/soak/report';
import { runSoak } from '../../bench/soak/run';
import { tmpDir } from '../helpers/tmp';

const at = (tS: number, rssMiB: number): Sample => ({ tS, phase: 'slow', rssBytes: rssMiB * 2 ** 20, rssAnonBytes: 0, rssFileBytes: 0, heapUsedBytes: 0, externalBytes: 0, fds: 0, eldP99Ms: 0, eldMaxMs: 0, serverCpuPercent: 0, loadAverage: 0, connections: 0, connectionsAccepted: 0, produced: 0, groups: {}, logStart: [], logEnd: [], segments: 0 });

describe('soak harness', () => {
  it('classifies a missing message as lost, or as a retention gap when the group was reset past the log start', () => {
    const ledger = new Ledger();
    const first = ledger.allocate(6);
    for (let i = 0; i < 6; i++) ledger.ack(first + i, 0, i);
    const g = ledger.group('g');
    // Received offsets 0, then 3..5: offsets 1 and 2 skipped.
    for (const o of [0, 3, 4, 5]) g.record(o, 0, o, 1000);
    g.record(4, 0, 4, 1001);
    expect(ledger.verdict('g', () => 0)).toMatchObject({ consumed: 4, lost: 2, retentionGaps: 0, duplicates: 1, skips: 1 });
    // The log start had passed the skipped range when the group jumped: retention, not loss.
    expect(ledger.verdict('g', () => 3)).toMatchObject({ consumed: 4, lost: 0, retentionGaps: 2 });
    expect(ledger.unconsumed('g')).toBe(2);
    expect(decodeSeq(encodeValue(123456, 64))).toBe(123456);
    expect(encodeValue(7, 64).length).toBe(64);
    expect(decodeSeq(Buffer.from('other'))).toBeNull();
  });

  it('calls a flat series bounded and a steady rise not, and sizes retention above the peak backlog', () => {
    const flat = Array.from({ length: 30 }, (_, i) => at(i * 10, 100 + (i % 3)));
    expect(trend(flat, (s) => s.rssBytes / 2 ** 20, 1.25, 8).bounded).toBe(true);
    const leak = Array.from({ length: 30 }, (_, i) => at(i * 10, 100 + i));
    const t = trend(leak, (s) => s.rssBytes / 2 ** 20, 1.25, 8);
    expect(t.bounded).toBe(false);
    expect(t.slopePerHour).toBeCloseTo(360, 5);
    expect(linearFit([0, 1, 2], [1, 3, 5])).toEqual({ slope: 2, intercept: 1 });
    // One interval that lost the CPU decides the thirds' maxima, not their 90th percentiles.
    const spike = Array.from({ length: 90 }, (_, i) => at(i * 10, i === 70 ? 150 : 100 + (i % 3)));
    expect(trend(spike, (s) => s.rssBytes / 2 ** 20, 1.25, 8, 'max').bounded).toBe(false);
    expect(trend(spike, (s) => s.rssBytes / 2 ** 20, 1.25, 8, 'p90').bounded).toBe(true);
    const o = { ...DEFAULTS, minutes: 30, rate: 200 };
    const peakPerPartition = ((1 - o.slowFactor) * o.rate * 1800 * o.slowUntil) / o.partitions;
    expect(retentionBytesFor(o)).toBeGreaterThan(peakPerPartition * o.valueBytes * 2);
  });

  it('runs 15 s with a rebalance, churn and retention: nothing acknowledged lost, both groups drain', async () => {
    const out = tmpDir('sluice-soak-out-');
    const lines: string[] = [];
    const { summary, samples } = await runSoak({
      ...DEFAULTS,
      minutes: 0.25,
      rate: 60,
      valueBytes: 1000,
      // Two segments a partition: over three times the slow group's peak backlog here (~40 KB).
      retentionBytes: 131_072,
      seed: 7,
      out,
      sampleMs: 1000,
      rebalanceEveryMs: 5000,
      churnEveryMs: 700,
      slowUntil: 0.5,
      drainTimeoutMs: 30_000,
      bounds: { warmupFraction: 0.3, rssGrowthFactor: 3, rssSlackBytes: 256 * 2 ** 20, fdSlack: 200, eldGrowthFactor: 10, eldSlackMs: 1000 },
      log: (line) => lines.push(line),
    });
    const text = writeReport(out, summary, samples, 'test');
    const failed = summary.checks.filter((c) => !c.pass);
    expect(failed, text + lines.join('\n')).toEqual([]);
    expect(summary.pass).toBe(true);
    for (const g of summary.groups) {
      expect(g.lost).toBe(0);
      expect(g.consumed).toBe(summary.produced.acked);
      expect(g.drain.finalBacklog).toBe(0);
    }
    expect(summary.produced.acked).toBeGreaterThan(500);
    expect(summary.rebalances.events.length).toBeGreaterThanOrEqual(1);
    expect(summary.groups.find((g) => g.group === 'soak-fast')!.generations).toBeGreaterThanOrEqual(3);
    expect(summary.churn.total).toBeGreaterThanOrEqual(8);
    expect(summary.retention.segmentsDeleted).toBeGreaterThan(0);
    for (const f of ['summary.json', 'summary.txt', 'samples.csv', 'chart.svg']) expect(fs.existsSync(path.join(out, f))).toBe(true);
    expect(JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8')).pass).toBe(true);
  });
});
