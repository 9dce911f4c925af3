/**
 * The codecs of Kafka's compressed record batches (attributes bits 0-2), for reading: the log
 * stores compressed batches as clients sent them and decompresses them on `read`. Sluice never
 * compresses. Every decoder is synchronous (reads are) and bounded by DECOMPRESSED_BYTES_MAX.
 *
 *   1 gzip    node:zlib
 *   2 snappy  `snappy` (napi-rs, prebuilt binaries in per-platform npm packages): both the raw
 *             snappy block that librdkafka may send and the xerial framing of Kafka's Java client,
 *             magic 82 'SNAPPY' 00, version and compat (int32 each), then [int32 length, block]...
 *   3 lz4     `lz4-napi` (napi-rs over lz4_flex): the LZ4 frame format
 *   4 zstd    `fzstd` (pure JS): zstd frames, decoded block by block
 *
 * Failures throw a plain Error with the codec's reason; the callers turn it into CORRUPT with the
 * place of the batch.
 */
import { Buffer } from 'node:buffer';
import * as zlib from 'node:zlib';
import { Decompress as ZstdDecompress } from 'fzstd';
import { decompressFrameSync as lz4DecompressFrame } from 'lz4-napi';
import { uncompressSync as snappyUncompress } from 'snappy';

export const Codec = { NONE: 0, GZIP: 1, SNAPPY: 2, LZ4: 3, ZSTD: 4 } as const;

const CODEC_NAMES = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];

/** The codec of a batch's attributes, by name ('none', 'gzip', ...) or 'codec N' for unknown ones. */
export function codecName(attributes: number): string {
  const c = attributes & 0x07;
  return CODEC_NAMES[c] ?? `codec ${c}`;
}

/**
 * The largest decompressed payload accepted: a batch's records are read whole into memory, so a
 * small batch that expands without bound (a decompression bomb) must be refused. 256 MiB is the
 * engine's ceiling for messageBytesMax (LogOptions::kMessageBytesMaxMax).
 */
export const DECOMPRESSED_BYTES_MAX = 256 * 1024 * 1024;

const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const XERIAL_HEADER_BYTES = 16; // magic, version, compat

/** The decompressed records of a batch whose attributes name a codec. */
export function decompressRecords(attributes: number, payload: Buffer): Buffer {
  switch (attributes & 0x07) {
    case Codec.GZIP:
      return zlib.gunzipSync(payload, { maxOutputLength: DECOMPRESSED_BYTES_MAX });
    case Codec.SNAPPY:
      return snappyRecords(payload);
    case Codec.LZ4:
      return bounded(lz4DecompressFrame(payload));
    case Codec.ZSTD:
      return zstdRecords(payload);
    default:
      throw new Error(`unknown compression codec ${attributes & 0x07}`);
  }
}

function snappyRecords(payload: Buffer): Buffer {
  if (payload.length < XERIAL_HEADER_BYTES || !payload.subarray(0, XERIAL_MAGIC.length).equals(XERIAL_MAGIC)) {
    return snappyBlock(payload);
  }
  const blocks: Buffer[] = [];
  let total = 0;
  for (let pos = XERIAL_HEADER_BYTES; pos < payload.length; ) {
    if (pos + 4 > payload.length) throw new Error(`xerial snappy: a block length is cut off at ${pos}`);
    const len = payload.readUInt32BE(pos);
    pos += 4;
    if (len > payload.length - pos) throw new Error(`xerial snappy: a block of ${len} bytes runs past the payload at ${pos}`);
    const block = snappyBlock(payload.subarray(pos, pos + len));
    total += block.length;
    if (total > DECOMPRESSED_BYTES_MAX) throw new Error(`decompressed records exceed ${DECOMPRESSED_BYTES_MAX} bytes`);
    blocks.push(block);
    pos += len;
  }
  return blocks.length === 1 ? blocks[0] : Buffer.concat(blocks, total);
}

/** One raw snappy block, whose uncompressed length (a varint) is checked against the bound first. */
function snappyBlock(block: Buffer): Buffer {
  let length = 0;
  for (let i = 0, shift = 1; ; i++, shift *= 128) {
    if (i >= block.length || i >= 5) throw new Error('snappy: no valid uncompressed length');
    length += (block[i] & 0x7f) * shift;
    if ((block[i] & 0x80) === 0) break;
  }
  if (length > DECOMPRESSED_BYTES_MAX) throw new Error(`snappy: an uncompressed length of ${length} bytes is over ${DECOMPRESSED_BYTES_MAX}`);
  return snappyUncompress(block, { asBuffer: true }) as Buffer;
}

/** zstd frames, decoded block by block so that the bound holds before the memory is taken. */
function zstdRecords(payload: Buffer): Buffer {
  const blocks: Uint8Array[] = [];
  let total = 0;
  let ended = false;
  const stream = new ZstdDecompress((block, final) => {
    total += block.length;
    if (total > DECOMPRESSED_BYTES_MAX) throw new Error(`decompressed records exceed ${DECOMPRESSED_BYTES_MAX} bytes`);
    if (block.length > 0) blocks.push(block);
    if (final === true) ended = true;
  });
  stream.push(payload, true);
  if (!ended) throw new Error('zstd: the payload ends inside a frame');
  return blocks.length === 1 ? toBuffer(blocks[0]) : Buffer.concat(blocks, total);
}

// lz4 frames expand at most 255-fold, so a batch within messageBytesMax stays bounded; the check
// after the fact keeps the one ceiling.
function bounded(b: Buffer): Buffer {
  if (b.length > DECOMPRESSED_BYTES_MAX) throw new Error(`decompressed records exceed ${DECOMPRESSED_BYTES_MAX} bytes`);
  return b;
}

function toBuffer(u: Uint8Array): Buffer {
  return Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}
