/**
 * Routing: keyed messages go where Kafka's default partitioner puts them (murmur2 of the key bytes,
 * sign bit cleared, modulo the partition count), checked against published vectors; keyless
 * messages take turns (a batch stays together); an explicit partition or a custom partitioner wins.
 */
import { describe, expect, it } from 'vitest';
import { keyPartition, murmur2 } from '../../lib/index';
import { openBroker, SMALL } from './broker-fixtures';

// apache/kafka clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java, testMurmur2.
const KAFKA_VECTORS: [string, number][] = [
  ['21', -973932308],
  ['foobar', -790332482],
  ['a-little-bit-long-string', -985981536],
  ['a-little-bit-longer-string', -1486304829],
  ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
  ['abc', 479470107],
];

// kafkajs src/producer/partitioners/defaultJava/murmur2.spec.js (generated with the Java client).
const KAFKAJS_JAVA_VECTORS: [string, number][] = [
  ['0', 971027396],
  ['1', -1993445489],
  ['128', -326012175],
  ['2187', -1508407203],
  ['16384', -325739742],
  ['78125', -1654490814],
  ['279936', 1462227128],
  ['823543', -2014198330],
  ['2097152', 607668903],
  ['4782969', -1182699775],
  ['10000000', -1830336757],
  ['19487171', -1603849305],
  ['35831808', -857013643],
  ['62748517', -1167431028],
  ['105413504', -381294639],
  ['170859375', -1658323481],
  ['100:48069', 1009543857],
];

describe('murmur2', () => {
  it.each([...KAFKA_VECTORS, ...KAFKAJS_JAVA_VECTORS])('hashes %j as the Java client does', (key, hash) => {
    expect(murmur2(Buffer.from(key))).toBe(hash);
  });

  it('hashes every tail length (0 to 3 bytes past a 4-byte block)', () => {
    // Lengths 1..4 of "1234" (akka's Murmur2Spec vectors, from Kafka's implementation).
    expect(murmur2(Buffer.from('1'))).toBe(-1993445489);
    expect(murmur2(Buffer.from('12'))).toBe(126087238);
    expect(murmur2(Buffer.from('123'))).toBe(-267702483);
    expect(murmur2(Buffer.from('1234'))).toBe(-1614185708);
    expect(murmur2(Buffer.from('12345'))).toBe(-1188365604);
  });

  it('picks the partition as toPositive(murmur2) % partitions, for string and byte keys alike', () => {
    // -790332482 & 0x7fffffff = 1357151166 (= 7 * 193878738); % 3 = 0, % 4 = 2, % 7 = 0, % 10 = 6.
    expect(keyPartition('foobar', 3)).toBe(0);
    expect(keyPartition('foobar', 4)).toBe(2);
    expect(keyPartition('foobar', 7)).toBe(0);
    expect(keyPartition(Buffer.from('foobar'), 10)).toBe(6);
    // 479470107 is positive: 479470107 % 4 = 3.
    expect(keyPartition('abc', 4)).toBe(3);
    for (const [key, hash] of [...KAFKA_VECTORS, ...KAFKAJS_JAVA_VECTORS]) {
      for (const n of [1, 2, 3, 6, 12, 100]) expect(keyPartition(key, n)).toBe((hash & 0x7fffffff) % n);
    }
  });

  it('hashes non-ASCII string keys as their UTF-8 bytes', () => {
    for (const key of ['clé', '键', 'emoji-\u{1f600}']) {
      expect(keyPartition(key, 17)).toBe((murmur2(Buffer.from(key, 'utf8')) & 0x7fffffff) % 17);
    }
  });
});

describe('routing', () => {
  it('sends a keyed message to the murmur2 partition, every time', async () => {
    const b = await openBroker();
    await b.createTopic('t', { ...SMALL, partitions: 6 });
    for (const [key] of KAFKA_VECTORS) {
      const c1 = await b.send('t', { key, value: 'x' });
      const c2 = await b.send('t', { key: Buffer.from(key), value: 'y' });
      expect(c1.partition).toBe(keyPartition(key, 6));
      expect(c2.partition).toBe(c1.partition);
    }
  });

  it('spreads keyless sends round-robin and keeps a keyless batch on one partition', async () => {
    const b = await openBroker();
    await b.createTopic('t', { ...SMALL, partitions: 3 });
    const singles = [];
    for (let i = 0; i < 6; i++) singles.push((await b.send('t', { value: `v${i}` })).partition);
    expect(singles).toEqual([0, 1, 2, 0, 1, 2]);
    const batch = await b.sendBatch('t', Array.from({ length: 10 }, (_, i) => ({ value: `b${i}` })));
    expect(new Set(batch.map((c) => c.partition)).size).toBe(1);
    const next = await b.sendBatch('t', [{ value: 'n' }]);
    expect(next[0].partition).toBe((batch[0].partition + 1) % 3);
  });

  it('lets an explicit partition win over the key, and a custom partitioner over the key', async () => {
    const b = await openBroker();
    await b.createTopic('t', { ...SMALL, partitions: 4 });
    const explicit = await b.send('t', { key: 'foobar', value: 'x', partition: 3 });
    expect(explicit.partition).toBe(3);
    const seen: unknown[] = [];
    const p = b.producer({
      partitioner: (input) => {
        seen.push(input);
        return 2;
      },
    });
    expect((await p.send('t', { key: 'foobar', value: { a: 1 } })).partition).toBe(2);
    expect(seen).toEqual([{ topic: 't', partitions: 4, key: 'foobar', value: { a: 1 } }]);
    expect((await p.send('t', { key: 'foobar', value: 'x', partition: 1 })).partition).toBe(1);
    const bad = b.producer({ partitioner: () => 4 });
    await expect(bad.send('t', { value: 'x' })).rejects.toThrow(RangeError);
    await expect(b.send('t', { value: 'x', partition: 4 })).rejects.toThrow(RangeError);
    await expect(b.send('t', { value: 'x', partition: 1.5 })).rejects.toThrow(TypeError);
  });
});
