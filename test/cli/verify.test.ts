/**
 * `sluice verify` on a whole data directory (exit 0) and on damaged copies of it (exit 1, each
 * fault found and placed): a flipped bit in a record, a truncated offset index, a missing
 * segment, a missing partition directory, bad topic metadata. Read-only: it runs beside a broker
 * holding the directory.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Broker } from '../../lib/broker/broker';
import { sluice } from '../helpers/sluice-cli';
import { tmpDir } from '../helpers/tmp';

/** A directory with topic "t" of 2 partitions, partition 0 rolled over several segments. */
async function makeData(): Promise<string> {
  const data = tmpDir('sluice-verify-');
  const b = await Broker.open(data);
  await b.createTopic('t', { partitions: 2, segmentBytes: 64 * 1024 });
  const big = 'x'.repeat(2000);
  for (let i = 0; i < 100; i++) await b.send('t', { value: `${i}-${big}`, partition: 0 });
  await b.sendBatch('t', [{ value: 'p1', partition: 1 }]);
  const c = b.consumer({ group: 'g', topics: 't' });
  await c.poll(10, { timeoutMs: 1000 });
  await c.close();
  await b.close();
  return data;
}

function copy(data: string): string {
  const to = tmpDir('sluice-verify-copy-');
  fs.cpSync(data, to, { recursive: true });
  return to;
}

const p0 = (d: string) => path.join(d, 'topics', 't', '0');
const files = (d: string, ext: string) => fs.readdirSync(p0(d)).filter((f) => f.endsWith(ext)).sort();

async function damaged(d: string): Promise<{ code: number; problems: { file: string; position?: number; what: string }[] }> {
  const r = await sluice(['verify', '--data', d, '--json']);
  return { code: r.code, problems: JSON.parse(r.stdout).problems };
}

describe('sluice verify', () => {
  it('finds a whole directory whole, also beside a broker holding it, and each injected fault', async () => {
    const data = await makeData();
    expect(files(data, '.log').length).toBeGreaterThan(2);
    const held = await Broker.open(data);
    const whole = await sluice(['verify', '--data', data]);
    await held.close();
    expect(whole.code).toBe(0);
    expect(whole.stdout).toMatch(/^whole: 1 topic\(s\), 2 partition\(s\)/);

    const flipped = copy(data);
    const seg = path.join(p0(flipped), files(flipped, '.log')[0]);
    const bytes = fs.readFileSync(seg);
    bytes[200] ^= 0x01;
    fs.writeFileSync(seg, bytes);
    const f = await damaged(flipped);
    expect(f.code).toBe(1);
    expect(f.problems.some((p) => p.file === seg && p.what.includes('CRC mismatch'))).toBe(true);

    const truncated = copy(data);
    const index = path.join(p0(truncated), files(truncated, '.index')[0]);
    fs.truncateSync(index, fs.statSync(index).size - 3);
    const t = await damaged(truncated);
    expect(t.code).toBe(1);
    expect(t.problems.some((p) => p.file === index && p.what.includes('truncated'))).toBe(true);

    const missing = copy(data);
    const middle = files(missing, '.log')[1];
    fs.rmSync(path.join(p0(missing), middle));
    const m = await damaged(missing);
    expect(m.code).toBe(1);
    expect(m.problems.some((p) => p.what.includes('a segment is missing'))).toBe(true);

    const noPartition = copy(data);
    fs.rmSync(path.join(noPartition, 'topics', 't', '1'), { recursive: true });
    expect((await damaged(noPartition)).problems.some((p) => p.what.includes('partition 1 of 2 is missing'))).toBe(true);

    const badMeta = copy(data);
    fs.writeFileSync(path.join(badMeta, 'topics', 't', 'topic.json'), '{"format": 1, "name": "t", "con');
    const bm = await damaged(badMeta);
    expect(bm.code).toBe(1);
    expect(bm.problems.some((p) => p.file.endsWith('topic.json') && p.what.includes('cannot be read'))).toBe(true);
  });

  it('refuses a directory that is not a broker directory', async () => {
    const r = await sluice(['verify', '--data', tmpDir('sluice-verify-')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('not a broker data directory');
  });
});
