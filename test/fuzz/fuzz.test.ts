/**
 * The fuzz targets, briefly, on every test run (scripts/fuzz.js runs them for longer; README
 * "Fuzzing"): the committed corpus covers every advertised API version and each of its seeds is a
 * valid request; each JavaScript target runs SECONDS with a fixed seed (replay a failure with
 * SLUICE_TEST_SEED) and each native target SECONDS under libFuzzer with ASan and UBSan (skipped,
 * saying so, where clang is missing; the first run compiles the core, ~30 s).
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { HANDLERS } from '../../lib/kafka/handlers';
import { skipTaggedFields } from '../../lib/kafka/protocol/codec-support';
import { decodeMetadataRequest, decodeProduceRequest } from '../../lib/kafka/protocol/generated';
import { Reader } from '../../lib/kafka/protocol/reader';
import { decodeRequest } from '../../lib/kafka/request-decoder';
import { corpusDirOf, loadCorpus, versionsWithoutSeeds } from './corpus';
import { fuzzKafkaConnection } from './kafka-connection.fuzz';
import { fuzzKafkaDecode } from './kafka-decode.fuzz';

const SECONDS = 3;
const SEED = Number(process.env.SLUICE_TEST_SEED ?? 20261204);
const ROOT = path.join(__dirname, '..', '..');
const HAS_CLANG = spawnSync('clang++', ['--version']).status === 0;

describe('the request corpus', () => {
  it('has a seed for every API version the server advertises', () => {
    expect(versionsWithoutSeeds()).toEqual([]);
  });

  it('holds valid requests only, each in its API version\'s directory', () => {
    for (const s of loadCorpus()) {
      const d = decodeRequest(s.frame, HANDLERS);
      expect(d.kind, s.name).toBe('request');
      if (d.kind === 'request') expect(s.name.split('/')[0], s.name).toBe(path.basename(corpusDirOf(d.api.name, d.header.apiVersion)));
    }
  });
});

describe('a length or count the bytes claim beyond the frame', () => {
  const frame = (hex: string): Reader => new Reader(Buffer.from(hex.padEnd(40, '0'), 'hex')); // 20 bytes
  const heap = (): number => process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
  const refused = (f: () => unknown): void => {
    const before = heap();
    expect(f).toThrow(expect.objectContaining({ code: 'MALFORMED_REQUEST' }));
    expect(heap() - before).toBeLessThan(16 * 1024 * 1024);
  };

  it('fails fast on an array count of 2^31 - 1 (int32) or 2^32 - 2 (compact) in a 20-byte frame', () => {
    refused(() => decodeMetadataRequest(frame('7fffffff'), 1)); // topics: int32 count
    refused(() => decodeMetadataRequest(frame('8fffffff0f'), 9)); // topics: compact count
    refused(() => frame('7fffffff').arrayCount(false, 1));
  });

  it('fails fast on bytes, strings and tagged fields longer than the frame', () => {
    // Produce v3: one topic 'z', one partition whose records claim 2^31 - 1 bytes.
    refused(() => decodeProduceRequest(new Reader(Buffer.from('ffff000100000064000000010001' + '7a' + '00000001' + '00000000' + '7fffffff', 'hex')), 3));
    refused(() => frame('7fffffff').bytes());
    refused(() => frame('7fff').string());
    refused(() => frame('ffffffff0f').compactString());
    refused(() => skipTaggedFields(frame('ffffffff0f'))); // 2^32 - 1 tags, each at least 2 bytes
  });
});

describe('fuzz targets', () => {
  // Each JavaScript target, and the outcome its inputs must reach at least once.
  for (const [target, run, reached] of [
    ['kafka-decode', fuzzKafkaDecode, 'request'],
    ['kafka-connection', fuzzKafkaConnection, 'answered'],
  ] as const) {
    it(`${target} runs ${SECONDS} s without a failure (seed ${SEED})`, async () => {
      const r = await run({ seconds: SECONDS, seed: SEED });
      expect(r.failure).toBeUndefined();
      expect(r.executions).toBeGreaterThan(0);
      expect(r.counts[reached]).toBeGreaterThan(0);
    }, 60_000);
  }

  for (const target of ['record-batch', 'recovery']) {
    const title = `${target} runs ${SECONDS} s under libFuzzer with ASan and UBSan without a crash`;
    it.skipIf(!HAS_CLANG)(HAS_CLANG ? title : `${title} (skipped: clang++ is not installed; apt-get install -y clang)`, () => {
      const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'fuzz.js'), '--target', target, '--seconds', String(SECONDS)], { cwd: ROOT, encoding: 'utf8' });
      expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`${target}: [1-9]\\d* executions`));
    }, 300_000);
  }
});
