/**
 * Every generated codec, every version in its table, both directions: seeded random messages
 * (every field of that version, nulls where the version allows them, tagged fields present or
 * absent) are encoded and decoded back, and must come back equal; a cut-short encoding must be
 * refused with MALFORMED_REQUEST, never read past its end. This checks the generator against
 * itself (encoders and decoders agree on every table); the tables are checked against real
 * clients' encoders in codec-clients.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { ALL_APIS } from '../../lib/kafka/protocol/apis';
import * as generated from '../../lib/kafka/protocol/generated';
import { Reader } from '../../lib/kafka/protocol/reader';
import { type FieldSpec, inRange, parseTable, parseVersions } from '../../lib/kafka/protocol/schema';
import { Writer } from '../../lib/kafka/protocol/writer';
import { mulberry32 as rng } from '../helpers/prng';

const SEED = Number(process.env.SLUICE_TEST_SEED ?? 20261202);

type Value = unknown;

function randomPrimitive(type: string, rand: () => number): Value {
  const int = (lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));
  switch (type) {
    case 'int8':
      return int(-128, 127);
    case 'int16':
      return int(-32768, 32767);
    case 'uint16':
      return int(0, 65535);
    case 'int32':
      return int(-2147483648, 2147483647);
    case 'int64':
      return rand() < 0.2 ? -1 : int(-(2 ** 53) + 1, 2 ** 53 - 1);
    case 'float64':
      return (rand() - 0.5) * 1e6;
    case 'bool':
      return rand() < 0.5;
    case 'string':
      return ['', 'a', 'topic-1', 'grüße', '消息', 'x'.repeat(int(0, 300))][int(0, 5)];
    case 'uuid':
      return Buffer.from(Array.from({ length: 16 }, () => int(0, 255)));
    default:
      return Buffer.from(Array.from({ length: int(0, 40) }, () => int(0, 255)));
  }
}

function present(f: FieldSpec, v: number): boolean {
  return inRange(v, f.versions);
}

function randomStruct(fields: FieldSpec[], v: number, rand: () => number, depth: number): Record<string, Value> {
  const out: Record<string, Value> = {};
  for (const f of fields) {
    if (!present(f, v)) continue;
    if (f.tag !== null && rand() < 0.4) continue; // an absent tagged field
    if (inRange(v, f.nullable) && rand() < 0.25) {
      out[f.name] = null;
      continue;
    }
    const one = (): Value => (f.struct ? randomStruct(f.fields, v, rand, depth + 1) : randomPrimitive(f.type, rand));
    if (f.array) out[f.name] = Array.from({ length: depth > 3 ? 0 : Math.floor(rand() * 3) }, one);
    else out[f.name] = one();
  }
  return out;
}

/** What a decoder must give back for `m`: each field of the version, a tagged field's default where absent. */
function expectEqual(fields: FieldSpec[], v: number, sent: Record<string, Value>, got: Record<string, Value>, at: string): void {
  for (const f of fields) {
    if (!present(f, v)) continue;
    const where = `${at}.${f.name}`;
    const s = sent[f.name];
    const g = got[f.name];
    if (s === undefined) {
      // Only tagged fields are left out: the decoder gives the default, or nothing for a struct.
      expect(f.tag, where).not.toBeNull();
      if (f.array) expect(g === null || (Array.isArray(g) && g.length === 0), where).toBe(true);
      else if (f.default !== undefined) expect(g, where).toEqual(f.default);
      continue;
    }
    if (s === null || !f.struct) {
      expect(g, where).toEqual(s);
      continue;
    }
    if (f.array) {
      expect(Array.isArray(g), where).toBe(true);
      const sa = s as Record<string, Value>[];
      const ga = g as Record<string, Value>[];
      expect(ga.length, where).toBe(sa.length);
      sa.forEach((e, i) => expectEqual(f.fields, v, e, ga[i], `${where}[${i}]`));
    } else {
      expectEqual(f.fields, v, s as Record<string, Value>, g as Record<string, Value>, where);
    }
  }
}

type Codec = (r: Reader, version: number) => Record<string, Value>;
type Encoder = (w: Writer, version: number, m: Record<string, Value>) => void;

describe(`generated Kafka codecs round-trip (seed ${SEED}; replay with SLUICE_TEST_SEED=${SEED})`, () => {
  for (const api of ALL_APIS) {
    const range = parseVersions(api.versions);
    for (const kind of ['Request', 'Response'] as const) {
      const fields = parseTable(kind === 'Request' ? api.request : api.response);
      const decode = (generated as unknown as Record<string, Codec>)[`decode${api.name}${kind}`];
      const encode = (generated as unknown as Record<string, Encoder>)[`encode${api.name}${kind}`];
      it(`${api.name} ${kind.toLowerCase()}, versions ${api.versions}`, () => {
        expect(decode, `decode${api.name}${kind}`).toBeTypeOf('function');
        const rand = rng(SEED ^ (api.key * 131 + (kind === 'Request' ? 0 : 7)));
        for (let v = range.from; v <= range.to; v++) {
          for (let i = 0; i < 40; i++) {
            const m = randomStruct(fields, v, rand, 0);
            const w = new Writer();
            encode(w, v, m);
            const bytes = w.toBuffer();
            const r = new Reader(bytes);
            const back = decode(r, v);
            expect(r.pos, `${api.name} v${v}: the decoder read the whole body`).toBe(bytes.length);
            expectEqual(fields, v, m, back, `${api.name}${kind} v${v}`);
            // Cut short anywhere: refused, never read past the end.
            const cut = Math.floor(rand() * bytes.length);
            if (cut < bytes.length) {
              let threw: unknown;
              try {
                decode(new Reader(bytes.subarray(0, cut)), v);
              } catch (e) {
                threw = e;
              }
              if (threw !== undefined) expect((threw as { code?: string }).code, `${api.name} v${v} cut at ${cut}`).toBe('MALFORMED_REQUEST');
            }
          }
        }
      });
    }
  }

  it('refuses versions outside a table', () => {
    expect(() => generated.decodeProduceRequest(new Reader(Buffer.alloc(0)), 9)).toThrow(expect.objectContaining({ code: 'MALFORMED_REQUEST' }));
    expect(() => generated.encodeFetchResponse(new Writer(), 3, { responses: [] } as never)).toThrow(/Fetch version 3 is not supported/);
  });
});
