/**
 * Writes the schema seeds of the Kafka request corpus (corpus.ts) and the RecordBatch seeds of the
 * native fuzzer (native/fuzz/corpus/record-batch/): `node --import tsx test/fuzz/make-corpus.ts`.
 * A schema seed is the request each API table describes with every field of that version present
 * and filled (tagged fields too; two elements per array; a real record batch where records go),
 * encoded by the generated encoder, so that each decoder path has a valid input to start from.
 * Existing files with the same bytes are kept; nothing is removed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { ALL_APIS } from '../../lib/kafka/protocol/apis';
import * as generated from '../../lib/kafka/protocol/generated';
import { encodeRequestHeader } from '../../lib/kafka/protocol/headers';
import { type FieldSpec, inRange, parseTable, parseVersions } from '../../lib/kafka/protocol/schema';
import { ADVERTISED } from '../../lib/kafka/protocol/versions';
import { Writer } from '../../lib/kafka/protocol/writer';
import { encodeBatch } from '../helpers/kafka-batch-encoder';
import { addSeed } from './corpus';

const NATIVE_SEEDS = path.join(__dirname, '..', '..', 'native', 'fuzz', 'corpus', 'record-batch');

const PLAIN = encodeBatch([{ key: 'k1', value: 'value one', headers: [['h', 'v']] }, { key: null, value: 'value two' }], { baseTimestamp: 1_700_000_000_000 });

/** The RecordBatch seeds: plain, keyed, null values, headers, compressed, idempotent, transactional. */
export const BATCHES: Record<string, Buffer> = {
  plain: PLAIN,
  'one-record': encodeBatch([{ value: 'x' }]),
  'null-value-headers': encodeBatch([{ key: 'tombstone', value: null, headers: [['a', null], ['b', 'bee']] }]),
  'log-append-time': encodeBatch([{ value: 'a' }, { value: 'b' }, { value: 'c' }], { attributes: 0x08 }),
  gzip: encodeBatch([{ value: 'compressed one' }, { value: 'compressed two' }], { codec: 1, compress: (b) => gzipSync(b) }),
  idempotent: encodeBatch([{ value: 'p' }, { value: 'q' }], { producerId: 42, producerEpoch: 0, baseSequence: 0 }),
  transactional: encodeBatch([{ value: 't' }], { attributes: 0x10, producerId: 43, producerEpoch: 1, baseSequence: 5 }),
  'two-batches': Buffer.concat([PLAIN, encodeBatch([{ value: 'second' }])]),
};

function sample(type: string, name: string): unknown {
  switch (type) {
    case 'int8':
      return 1;
    case 'int16':
      return name === 'acks' ? -1 : 2;
    case 'uint16':
      return 3;
    case 'int32':
      return name.endsWith('Ms') ? 100 : 1;
    case 'int64':
      return name.includes('Offset') ? 0 : 7;
    case 'float64':
      return 0.5;
    case 'bool':
      return true;
    case 'string':
      return name.toLowerCase().includes('topic') || name === 'name' ? 'fuzz-topic' : `${name}-1`;
    case 'uuid':
      return Buffer.alloc(16, 0xab);
    case 'records':
      return PLAIN;
    default:
      return Buffer.from('bytes');
  }
}

function filled(fields: FieldSpec[], v: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of fields) {
    if (!inRange(v, f.versions)) continue;
    const one = (): unknown => (f.struct ? filled(f.fields, v) : sample(f.type, f.name));
    out[f.name] = f.array ? [one(), one()] : one();
  }
  return out;
}

type Encode = (w: Writer, v: number, m: unknown) => void;
const encoders = generated as unknown as Record<string, Encode>;

/** The request frame (header and body) of `apiName` at `v`, filled as `filled` does. */
export function schemaFrame(apiName: string, apiKey: number, v: number, firstFlexible: number, correlationId: number): Buffer {
  const api = ALL_APIS.find((a) => a.key === apiKey)!;
  const w = new Writer();
  encodeRequestHeader(w, { apiKey, apiVersion: v, correlationId, clientId: 'fuzz-seed' }, v >= firstFlexible);
  encoders[`encode${apiName}Request`](w, v, filled(parseTable(api.request), v));
  return w.toBuffer();
}

function main(): void {
  let written = 0;
  for (const a of ADVERTISED) {
    const api = ALL_APIS.find((x) => x.key === a.key)!;
    const firstFlexible = api.flexible === 'none' ? Infinity : parseVersions(api.flexible).from;
    for (let v = a.minVersion; v <= a.maxVersion; v++) {
      if (addSeed(a.name, v, 'schema', schemaFrame(a.name, a.key, v, firstFlexible, v + 1)) !== null) written++;
    }
  }
  fs.mkdirSync(NATIVE_SEEDS, { recursive: true });
  for (const [name, bytes] of Object.entries(BATCHES)) fs.writeFileSync(path.join(NATIVE_SEEDS, `${name}.bin`), bytes);
  console.log(`${written} request seeds written; ${Object.keys(BATCHES).length} record-batch seeds`);
}

if (require.main === module) main();
