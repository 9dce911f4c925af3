import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadWorkload, parseWorkload, rateAt, validateWorkload, withDuration } from '../../lib/bench/workload';

const ROOT = path.resolve(__dirname, '..', '..');
const base = { name: 'w', messageSize: 100, durationSeconds: 10 };

describe('bench workloads', () => {
  it('reads YAML and JSON with OMB field names and fills defaults', () => {
    const y = parseWorkload('name: a\ntopics: 2\npartitionsPerTopic: 3\nmessageSize: 1024\nproducerRate: 0\ntestDurationMinutes: 1\nwarmupDurationMinutes: 0.5\nkeyDistributor: NO_KEY\n', 'yaml');
    expect(y).toMatchObject({ name: 'a', topics: 2, partitionsPerTopic: 3, messageSize: 1024, producerRate: 'max', durationSeconds: 60, warmupSeconds: 30, durability: 'always', consumerModel: 'offset', subscriptionsPerTopic: 1, maxBacklog: 0, burst: null, ignored: ['keyDistributor'] });
    const j = parseWorkload(JSON.stringify({ ...base, producerRate: 500, durability: 'interval', syncIntervalMs: 50, consumerModel: 'ack', burst: { startSeconds: 1, durationSeconds: 2, rateMultiplier: 10 } }), 'json');
    expect(j).toMatchObject({ producerRate: 500, durability: 'interval', syncIntervalMs: 50, consumerModel: 'ack' });
    expect(rateAt(j, 0.5, 2)).toBe(250);
    expect(rateAt(j, 1.5, 2)).toBe(2500);
    expect(rateAt(j, 3, 2)).toBe(250);
  });

  it('names the field in every error', () => {
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ ...base, messageSize: 'big' }, /field "messageSize" must be an integer, got "big"/],
      [{ ...base, messageSize: 8 }, /field "messageSize" must be from 16/],
      [{ ...base, producerRate: -5 }, /field "producerRate"/],
      [{ ...base, durability: 'sometimes' }, /field "durability" must be one of always, interval, none, got "sometimes"/],
      [{ ...base, consumerModel: 'pull' }, /field "consumerModel"/],
      [{ ...base, partitionsPerTopc: 3 }, /field "partitionsPerTopc" is not a workload field/],
      [{ name: 'w', messageSize: 100 }, /field "durationSeconds" \(or "testDurationMinutes"\) is required/],
      [{ ...base, testDurationMinutes: 1 }, /"durationSeconds" and "testDurationMinutes" both given/],
      [{ ...base, burst: { startSeconds: 1, durationSeconds: 1, rateMultiplier: 2 } }, /field "burst" needs a fixed "producerRate"/],
      [{ ...base, producerRate: 10, burst: { startSeconds: 1, lengthSeconds: 1 } }, /field "burst.lengthSeconds" is not a burst field/],
      [{ ...base, name: '' }, /field "name" must be a non-empty string/],
      [{ ...base, consumerBacklogSizeGB: 10 }, /field "consumerBacklogSizeGB"/],
    ];
    for (const [raw, re] of bad) expect(() => validateWorkload(raw, 'workload x.yaml'), JSON.stringify(raw)).toThrow(re);
    expect(() => validateWorkload({ ...base, messageSize: 8 }, 'workload x.yaml')).toThrow(RangeError);
    expect(() => validateWorkload({ ...base, messageSize: 'x' }, 'workload x.yaml')).toThrow(/^workload x.yaml: /);
    expect(() => parseWorkload('name: [unclosed', 'yaml', 'w.yaml')).toThrow(/w.yaml: not valid YAML/);
    expect(() => parseWorkload('{"name": ', 'json', 'w.json')).toThrow(/w.json: not valid JSON/);
    expect(() => parseWorkload('- a\n- b\n', 'yaml', 'w.yaml')).toThrow(/must be an object/);
  });

  it('parses every shipped workload', () => {
    const files = fs.readdirSync(path.join(ROOT, 'workloads'));
    expect(files.length).toBeGreaterThanOrEqual(4);
    const names = files.map((f) => loadWorkload(path.join(ROOT, 'workloads', f)).name).sort();
    expect(names).toEqual(expect.arrayContaining(['chat-fanout', 'log-pipeline', 'order-queue', 'peak-burst']));
    const burst = loadWorkload(path.join(ROOT, 'workloads', 'peak-burst.yaml'));
    expect(burst.burst).toEqual({ startSeconds: 10, durationSeconds: 10, rateMultiplier: 10 });
    expect(burst.maxBacklog).toBeGreaterThan(0);
    expect(loadWorkload(path.join(ROOT, 'workloads', 'chat-fanout.json')).subscriptionsPerTopic).toBe(10);
  });

  it('scales warm-up and burst with a --duration override', () => {
    const w = withDuration(loadWorkload(path.join(ROOT, 'workloads', 'peak-burst.yaml')), 4);
    expect(w.durationSeconds).toBe(4);
    expect(w.burst).toEqual({ startSeconds: 1, durationSeconds: 1, rateMultiplier: 10 });
    expect(w.warmupSeconds).toBeCloseTo(0.2);
  });
});
