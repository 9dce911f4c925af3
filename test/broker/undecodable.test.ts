/**
 * Values marked `sluice.codec: msgpack` whose bytes do not decode (as another client could write
 * them: the producer refuses the reserved header, so the test appends them to the partition's Log
 * directly, with the broker closed). A pull consumer gets UNDECODABLE from `msg.value`; run(), in
 * both delivery models, counts the message as a failed delivery: the handler is not called,
 * onError gets the UNDECODABLE error, and the message is retried after retryDelayMs, never sooner
 * (the ManualClock only moves when the test advances it, so every retry is counted).
 */
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrorCode, Log, ManualClock, SluiceError, type Broker, type ConsumedMessage } from '../../lib/index';
import { CODEC_HEADER, MSGPACK } from '../../lib/broker/codec/value-codec';
import { tmpDir } from '../helpers/tmp';
import { closeBroker, openBroker, SMALL, turns } from './broker-fixtures';

const RETRY_MS = 1000;

/** Undecodable bytes: an array of 2 with one element, an unknown extension, a Map extension over an odd array, trailing bytes. */
const UNDECODABLE = ['9201', 'd47f00', 'd44d009101', '01ff'];

/** 'a', then `bad` marked msgpack, then 'c' and {ok: true}. */
async function setup(bad = UNDECODABLE[0]): Promise<{ b: Broker; clock: ManualClock }> {
  const dir = tmpDir('sluice-undecodable-');
  await closeBroker(await openBroker({}, dir).then(async (b) => (await b.createTopic('t', SMALL), b)));
  const log = await Log.open(path.join(dir, 'topics', 't', '0'), { segmentBytes: SMALL.segmentBytes });
  log.appendBatch([Buffer.from('a'), { value: Buffer.from(bad, 'hex'), headers: { [CODEC_HEADER]: MSGPACK } }, Buffer.from('c')]);
  await log.close();
  const clock = new ManualClock();
  const b = await openBroker({ clock }, dir);
  await b.send('t', { value: { ok: true } });
  return { b, clock };
}

function codeOf(e: unknown): unknown {
  return e instanceof SluiceError ? e.code : e;
}

describe('undecodable values', () => {
  it.each(UNDECODABLE)('make msg.value throw UNDECODABLE for a pull consumer, on every access, and leave the other messages alone (%s)', async (bad) => {
    const { b } = await setup(bad);
    const c = b.consumer({ group: 'g', topics: 't' });
    const ms = await c.poll(10);
    expect(ms.map((m) => m.offset)).toEqual([0, 1, 2, 3]);
    for (let i = 0; i < 2; i++) {
      let err: unknown;
      try {
        void ms[1].value;
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(SluiceError);
      expect(err).toMatchObject({ code: ErrorCode.UNDECODABLE });
      expect((err as Error).message).toMatch(/^the value of t\/0@1 is marked sluice\.codec: msgpack but does not decode: /);
    }
    expect(ms[1].rawValue).toEqual(Buffer.from(bad, 'hex'));
    expect(ms[1].headers).toEqual([]);
    expect(ms[0].value).toEqual(Buffer.from('a'));
    expect(ms[3].value).toStrictEqual({ ok: true });
    await c.close();
  });

  it('fail a delivery in run() (offset model): onError gets UNDECODABLE, no handler call, a rewind after retryDelayMs each time', async () => {
    const { b, clock } = await setup();
    const c = b.consumer({ group: 'g', topics: 't' });
    const handled: number[] = [];
    const errors: [unknown, number][] = [];
    const running = c.run((m: ConsumedMessage) => void handled.push(m.offset), {
      retryDelayMs: RETRY_MS,
      onError: (e, m) => errors.push([codeOf(e), m.offset]),
    });
    await turns(10);
    expect(handled).toEqual([0]);
    expect(errors).toEqual([[ErrorCode.UNDECODABLE, 1]]);
    clock.advance(RETRY_MS - 1);
    await turns(10);
    expect(errors).toHaveLength(1); // not retried before retryDelayMs
    for (let k = 2; k <= 4; k++) {
      clock.advance(RETRY_MS);
      await turns(10);
      expect(errors).toHaveLength(k); // exactly one more delivery per delay
    }
    expect(handled).toEqual([0]); // the partition stays in order: nothing after the message
    expect(b.describeGroup('g').partitions[0]).toMatchObject({ committedOffset: 1 });
    await c.close();
    await running;
  });

  it('fail a delivery in run() (ack model): onError gets UNDECODABLE, no handler call, a nack with retryDelayMs each time', async () => {
    const { b, clock } = await setup();
    const c = b.consumer({ group: 'q', topics: 't', model: 'ack' });
    const handled: number[] = [];
    const errors: [unknown, number, number][] = [];
    const running = c.run((m) => void handled.push(m.offset), {
      retryDelayMs: RETRY_MS,
      onError: (e, m) => errors.push([codeOf(e), m.offset, m.deliveryCount]),
    });
    await turns(10);
    expect(handled).toEqual([0, 2, 3]); // the others are acked
    expect(errors).toEqual([[ErrorCode.UNDECODABLE, 1, 1]]);
    clock.advance(RETRY_MS - 1);
    await turns(10);
    expect(errors).toHaveLength(1);
    for (let k = 2; k <= 4; k++) {
      clock.advance(RETRY_MS);
      await turns(10);
      expect(errors).toHaveLength(k);
      expect(errors.at(-1)).toEqual([ErrorCode.UNDECODABLE, 1, k]);
    }
    expect(handled).toEqual([0, 2, 3]);
    expect(b.describeGroup('q').partitions[0]).toMatchObject({ committedOffset: 1, ackedAhead: 2, pendingRedelivery: 1 });
    await c.close();
    await running;
  });
});
