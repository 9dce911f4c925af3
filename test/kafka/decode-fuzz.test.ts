/**
 * Bad request bodies never get past the decoders as anything but MALFORMED_REQUEST: 100,000
 * seeded frames (random bytes, and valid encodings with bytes flipped, cut or repeated) for every
 * advertised API and version. A decoder may accept a mutated body (many bytes are free values),
 * but it must never throw another error, read past the frame, or allocate by a claimed count.
 */
import { expect, it } from 'vitest';
import { ALL_APIS } from '../../lib/kafka/protocol/apis';
import * as generated from '../../lib/kafka/protocol/generated';
import { Reader } from '../../lib/kafka/protocol/reader';
import { ADVERTISED } from '../../lib/kafka/protocol/versions';
import { Writer } from '../../lib/kafka/protocol/writer';
import { mulberry32 as rng } from '../helpers/prng';

const SEED = Number(process.env.SLUICE_TEST_SEED ?? 424242);
const FRAMES = Number(process.env.SLUICE_FUZZ_FRAMES ?? 100_000);

type Decode = (r: Reader, v: number) => unknown;
type Encode = (w: Writer, v: number, m: unknown) => void;
const g = generated as unknown as Record<string, Decode & Encode>;

/** A small valid request of each API, to mutate (every field defaulted: empty arrays, zeros). */
function seedBody(name: string, v: number): Buffer {
  const w = new Writer();
  const empty: Record<string, unknown> = { topics: [], topicData: [], groups: [], resources: [], topicNames: [], members: [], protocols: [], assignments: [], coordinatorKeys: [], forgottenTopicsData: [] };
  try {
    g[`encode${name}Request`](w, v, new Proxy(empty, { get: (o, k) => (k in o ? o[k as string] : undefined) }));
    return w.toBuffer();
  } catch {
    return Buffer.alloc(0);
  }
}

it(`decodes ${FRAMES} bad request bodies without an error other than MALFORMED_REQUEST (seed ${SEED}; replay with SLUICE_TEST_SEED=${SEED})`, () => {
  const rand = rng(SEED);
  const targets = ADVERTISED.flatMap((a) => {
    const api = ALL_APIS.find((x) => x.key === a.key)!;
    return Array.from({ length: a.maxVersion - a.minVersion + 1 }, (_, i) => ({ name: api.name, v: a.minVersion + i }));
  });
  const seeds = new Map(targets.map((t) => [`${t.name}/${t.v}`, seedBody(t.name, t.v)]));
  let accepted = 0;
  for (let i = 0; i < FRAMES; i++) {
    const t = targets[Math.floor(rand() * targets.length)];
    let body: Buffer;
    const base = seeds.get(`${t.name}/${t.v}`)!;
    if (i % 2 === 0 || base.length === 0) {
      body = Buffer.from(Array.from({ length: Math.floor(rand() * 48) }, () => Math.floor(rand() * 256)));
    } else {
      body = Buffer.from(base);
      const flips = 1 + Math.floor(rand() * 4);
      for (let k = 0; k < flips && body.length > 0; k++) body[Math.floor(rand() * body.length)] = Math.floor(rand() * 256);
      if (rand() < 0.3) body = body.subarray(0, Math.floor(rand() * body.length));
      if (rand() < 0.2) body = Buffer.concat([body, body]);
    }
    const r = new Reader(body);
    try {
      g[`decode${t.name}Request`](r, t.v);
      expect(r.pos).toBeLessThanOrEqual(body.length);
      accepted++;
    } catch (e) {
      if ((e as { code?: string }).code !== 'MALFORMED_REQUEST') throw new Error(`${t.name} v${t.v} body ${body.toString('hex')}: ${(e as Error).stack}`);
    }
  }
  expect(accepted).toBeGreaterThan(0);
}, 120_000);
