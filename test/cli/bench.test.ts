/**
 * `sluice bench` as a user runs it: a two-second smoke run of a shipped workload against Sluice
 * in-process and over the Kafka protocol, the results' shape, the HTML report rendered in headless
 * chromium (screenshot and DOM), the report rebuilt from the JSON, and usage errors. No speed is
 * asserted.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CHROMIUM_MISSING, chromiumPath, isNonTrivialPng, renderInChromium } from '../helpers/chromium';
import { sluice } from '../helpers/sluice-cli';
import { tmpDir } from '../helpers/tmp';

describe('sluice bench', () => {
  it('runs a workload against sluice and sluice-kafka and writes JSON results and an HTML report', async () => {
    const out = tmpDir();
    const r = await sluice(['bench', 'workloads/order-queue.yaml', '--duration', '2s', '--driver', 'sluice,sluice-kafka', '--out', out]);
    expect(r.stderr).toContain('[1/2] sluice');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^DRIVER/);
    expect(r.stdout).toContain('sluice-kafka');
    const results = JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8'));
    expect(results).toMatchObject({ format: 'sluice-bench', version: 1, workload: { name: 'order-queue', durationSeconds: 2, consumerModel: 'ack', durability: 'always' } });
    expect(results.host).toEqual(expect.objectContaining({ cores: expect.any(Number), kernel: expect.any(String), node: process.version, filesystem: expect.any(String) }));
    expect(results.workloadSource).toContain('name: order-queue');
    expect(results.notes.join(' ')).toMatch(/intended send time/);
    expect(results.drivers.map((d: { driver: string }) => d.driver)).toEqual(['sluice', 'sluice-kafka']);
    for (const d of results.drivers) {
      expect(d.status).toBe('ok');
      expect(d.settings.sync).toBe('always');
      expect(d.counts.confirmed).toBeGreaterThan(0);
      expect(d.counts.consumed).toBe(d.counts.expectedConsumed);
      expect(d.latency.publish.count).toBeGreaterThan(0);
      expect(d.latency.endToEnd.p99Ms).toBeGreaterThanOrEqual(d.latency.endToEnd.p50Ms);
      expect(d.curves.endToEnd.length).toBeGreaterThan(3);
      expect(typeof d.histograms.endToEnd).toBe('string');
      expect(d.timeSeries.length).toBeGreaterThanOrEqual(2);
      expect(d.timeSeries[0]).toEqual(expect.objectContaining({ second: 0, published: expect.any(Number), consumed: expect.any(Number), publishErrors: 0 }));
    }
    const html = fs.readFileSync(path.join(out, 'report.html'), 'utf8');
    expect(html).not.toMatch(/<script|<link /i);
    if (chromiumPath() === null) {
      console.warn(`skipped rendering: ${CHROMIUM_MISSING}`);
      return;
    }
    const page = renderInChromium(path.join(out, 'report.html'));
    expect(isNonTrivialPng(page.png)).toBe(true);
    expect((page.dom.match(/<svg /g) ?? []).length).toBe(5);
    expect(page.dom).toContain('data-series="sluice-kafka"');
    expect(page.dom).toContain('End-to-end latency');
    expect(page.errors).toEqual([]);

    // The report and a markdown table again from the saved JSON, without running.
    const again = tmpDir();
    const md = await sluice(['bench', '--results', path.join(out, 'results.json'), '--out', again, '--markdown']);
    expect(md.code).toBe(0);
    expect(md.stdout).toMatch(/\| driver \| publish msg\/s \|/);
    expect(md.stdout).toMatch(/- `sluice-kafka`: transport: Kafka protocol/);
    expect(fs.existsSync(path.join(again, 'report.html'))).toBe(true);
  });

  it('refuses a bad workload naming the field, and unknown drivers', async () => {
    const dir = tmpDir();
    const bad = path.join(dir, 'bad.yaml');
    fs.writeFileSync(bad, 'name: x\nmessageSize: tiny\ndurationSeconds: 1\n');
    const r = await sluice(['bench', bad, '--out', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('field "messageSize" must be an integer, got "tiny"');
    const d = await sluice(['bench', 'workloads/order-queue.yaml', '--driver', 'kafka-java', '--out', dir]);
    expect(d.code).toBe(2);
    expect(d.stderr).toMatch(/unknown driver "kafka-java": choose from sluice, sluice-kafka, redis, nats, rabbitmq/);
    const t = await sluice(['bench', 'workloads/order-queue.yaml', '--duration', 'soon', '--out', dir]);
    expect(t.code).toBe(2);
  });
});
