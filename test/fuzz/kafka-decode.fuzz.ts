/**
 * Fuzz target kafka-decode: mutated requests of every advertised API and version (the committed
 * corpus, corpus.ts) through decodeRequest, the decoding Connection#onFrame does (header, version
 * checks, header tags, the API's generated decoder). Properties, for every input:
 *   - the decode returns a request, or fails in one of the ways the connection answers: a header
 *     that does not decode, an unsupported API or version, or a body that throws SluiceError
 *     MALFORMED_REQUEST, never another error;
 *   - memory is bounded by the frame: the decoded request holds no more array elements, string
 *     characters and bytes than the frame has bytes, and its bytes fields are views of the frame,
 *     never copies (an allocation sized by a claimed count would show as a larger request, or
 *     as the run's peak RSS);
 *   - it returns in well under HANG_MS.
 * Run with scripts/fuzz.js (target kafka-decode), or under vitest by fuzz.test.ts.
 */
import { ErrorCode, SluiceError } from '../../lib/errors';
import { HANDLERS } from '../../lib/kafka/handlers';
import { decodeRequest } from '../../lib/kafka/request-decoder';
import { loadCorpus } from './corpus';
import { type FuzzOptions, type FuzzReport, fuzz, fuzzMain } from './runner';

/** Array elements, string characters and bytes in `v`; throws when bytes are not views of `frame`. */
export function heldBy(v: unknown, frame: Buffer): number {
  if (typeof v === 'string') return v.length;
  if (Buffer.isBuffer(v)) {
    if (v.buffer !== frame.buffer) throw new Error('a bytes field was copied out of the frame');
    return v.length;
  }
  if (Array.isArray(v)) return v.reduce((n: number, x) => n + 1 + heldBy(x, frame), 0);
  if (v !== null && typeof v === 'object') return Object.values(v).reduce((n: number, x) => n + heldBy(x, frame), 0);
  return 0;
}

export function decodeProperty(counts: Record<string, number>): (frame: Buffer) => void {
  return (frame) => {
    const d = decodeRequest(frame, HANDLERS);
    counts[d.kind] = (counts[d.kind] ?? 0) + 1;
    if (d.kind === 'malformed') {
      const e = d.error;
      if (!(e instanceof SluiceError && e.code === ErrorCode.MALFORMED_REQUEST)) {
        throw new Error(`${d.api.name} v${d.header.apiVersion} threw ${e instanceof Error ? `${e.constructor.name}: ${e.message}` : String(e)}, not MALFORMED_REQUEST`, { cause: e });
      }
    }
    if (d.kind === 'request') {
      const held = heldBy(d.request, frame);
      // Each element, character and byte comes from at least one byte of the frame; the
      // 2x covers a struct whose string and array share no byte (the count is per element).
      if (held > 2 * frame.length) throw new Error(`${d.api.name} v${d.header.apiVersion}: a ${frame.length}-byte frame decoded into ${held} elements, characters and bytes`);
    }
  };
}

export function fuzzKafkaDecode(o: FuzzOptions): Promise<FuzzReport> {
  const seeds = loadCorpus().map((s) => s.frame);
  const counts: Record<string, number> = {};
  return fuzz('kafka-decode', seeds, decodeProperty(counts), o, counts);
}

if (require.main === module) fuzzMain(fuzzKafkaDecode);
