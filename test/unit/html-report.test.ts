import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { markdownTable, renderHtmlReport } from '../../lib/report/html-report';
import { barChart, escapeXml, lineChart, niceTicks, percentileChart } from '../../lib/report/svg-chart';
import { CHROMIUM_MISSING, chromiumPath, isNonTrivialPng, renderInChromium } from '../helpers/chromium';
import { tmpDir } from '../helpers/tmp';

function sampleReport(): string {
  return renderHtmlReport({
    title: 'Report <test> & "quotes"',
    summary: ['A paragraph with <script>alert(1)</script> in it.'],
    sections: [
      {
        heading: 'Charts',
        blocks: [
          { kind: 'line', title: 'throughput', xLabel: 'time (s)', yLabel: 'msg/s', series: [
            { name: 'a', points: [[0, 10], [1, 20], [2, 15]] },
            { name: 'b <x>', points: [[0, 5], [1, 7], [2, NaN]] },
          ] },
          { kind: 'percentile', title: 'latency', yLabel: 'ms', series: [
            { name: 'a', points: [[0, 1], [50, 2], [90, 3], [99, 5], [99.9, 9], [100, 12]] },
          ] },
          { kind: 'bar', title: 'bars', yLabel: 'msg/s', bars: [{ label: 'a', value: 3 }, { label: 'b', value: 7 }] },
          { kind: 'table', columns: ['driver', 'msg/s'], rows: [['a', 10], ['b & c', null]], caption: 'cap' },
          { kind: 'pre', text: 'name: x\n<y>' },
        ],
      },
    ],
    footer: 'footer',
  });
}

describe('report module', () => {
  it('escapes every text and contains no script', () => {
    const html = sampleReport();
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).not.toMatch(/<script/i);
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('Report &lt;test&gt; &amp; &quot;quotes&quot;');
    expect(html).toContain('b &lt;x&gt;');
    expect(html).not.toMatch(/https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
    expect((html.match(/<svg /g) ?? []).length).toBe(3);
  });

  it('draws one polyline per series and drops non-finite points', () => {
    const svg = lineChart({ title: 't', xLabel: 'x', yLabel: 'y', series: [
      { name: 'a', points: [[0, 1], [1, 2]] },
      { name: 'b', points: [[0, Infinity], [1, 3], [2, 4]] },
    ] });
    expect((svg.match(/<polyline/g) ?? []).length).toBe(2);
    expect(svg).not.toContain('NaN');
    expect(svg).not.toContain('Infinity');
    expect(escapeXml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });

  it('places percentiles on the log scale, monotonic in p', () => {
    const svg = percentileChart({ title: 't', yLabel: 'ms', series: [{ name: 'a', points: [[50, 1], [90, 2], [99, 3], [99.9, 4]] }] });
    const pts = /points="([^"]+)"/.exec(svg)![1].split(' ').map((p) => Number(p.split(',')[0]));
    // 50% -> log10(2), 90% -> 1, 99% -> 2, 99.9% -> 3: equal steps after 90%.
    expect(pts[2] - pts[1]).toBeCloseTo(pts[3] - pts[2], 0);
    expect(pts[1] - pts[0]).toBeGreaterThan(0);
    expect(svg).toContain('99.9%');
    expect(percentileChart({ title: 't', yLabel: 'ms', logY: true, series: [{ name: 'a', points: [[50, 0.1], [99, 100]] }] })).toContain('<polyline');
  });

  it('handles empty data and bar charts', () => {
    expect(lineChart({ title: 't', xLabel: 'x', yLabel: 'y', series: [] })).toContain('no data');
    expect(barChart({ title: 't', yLabel: 'y', bars: [{ label: 'a', value: 1 }] })).toContain('class="bar"');
    expect(niceTicks(0, 97)).toEqual([0, 20, 40, 60, 80, 100]);
  });

  it('prints a markdown table', () => {
    expect(markdownTable(['a', 'n'], [['x|y', 1], ['z', 2]])).toBe('| a | n |\n| --- | ---: |\n| x\\|y | 1 |\n| z | 2 |');
  });

  it.skipIf(!chromiumPath())('renders in chromium with its charts in the DOM', () => {
    const dir = tmpDir();
    const file = path.join(dir, 'report.html');
    fs.writeFileSync(file, sampleReport());
    const r = renderInChromium(file);
    expect(isNonTrivialPng(r.png)).toBe(true);
    expect((r.dom.match(/<svg /g) ?? []).length).toBe(3);
    expect(r.dom).toContain('<polyline');
    expect(r.errors).toEqual([]);
  });
  if (!chromiumPath()) it.skip(CHROMIUM_MISSING, () => {});
});
