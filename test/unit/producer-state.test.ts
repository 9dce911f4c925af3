/** ProducerStates: duplicates of the last five batches, sequence wrap-around, epochs, and the bound on producers. */
import { describe, expect, it } from 'vitest';
import { PRODUCER_BATCHES_KEPT, PRODUCER_STATE_WINDOW_MS, PRODUCERS_MAX, ProducerStates } from '../../lib/broker/topic/producer-state';

const b = (baseSequence: number, lastOffsetDelta = 0, producerEpoch = 0, producerId = 7) => ({ producerId, producerEpoch, baseSequence, lastOffsetDelta });

describe('ProducerStates', () => {
  it('recognises the last five batches as duplicates, and nothing older', () => {
    const s = new ProducerStates();
    for (let i = 0; i < PRODUCER_BATCHES_KEPT + 1; i++) {
      expect(s.check(b(i * 2, 1))).toEqual({ kind: 'append' });
      s.record(b(i * 2, 1), 100 + i * 2, 0);
    }
    expect(s.check(b(10, 1))).toEqual({ kind: 'duplicate', firstOffset: 110, lastOffset: 111 });
    expect(s.check(b(2, 1))).toEqual({ kind: 'duplicate', firstOffset: 102, lastOffset: 103 });
    expect(s.check(b(0, 1))).toEqual({ kind: 'out-of-order', expected: 12 }); // fell out of the five
    expect(s.check(b(10, 0))).toEqual({ kind: 'out-of-order', expected: 12 }); // same start, other range
  });

  it('wraps sequences past 2^31 - 1 to 0', () => {
    const s = new ProducerStates();
    s.record(b(2 ** 31 - 2, 1), 0, 0);
    expect(s.check(b(0))).toEqual({ kind: 'append' });
    s.record(b(0), 2, 0);
    expect(s.check(b(2 ** 31 - 2, 1))).toEqual({ kind: 'duplicate', firstOffset: 0, lastOffset: 1 });
  });

  it('starts a new epoch at sequence 0 and fences the old one', () => {
    const s = new ProducerStates();
    s.record(b(0), 0, 0);
    expect(s.check(b(5, 0, 1))).toEqual({ kind: 'out-of-order', expected: 0 });
    s.record(b(0, 0, 1), 1, 0);
    expect(s.check(b(1, 0, 0))).toEqual({ kind: 'fenced', epoch: 1 });
  });

  it('remembers at most PRODUCERS_MAX producers, forgetting the idle ones first', () => {
    const s = new ProducerStates();
    for (let id = 0; id < PRODUCERS_MAX; id++) s.record(b(0, 0, 0, id), id, id === 0 ? 0 : PRODUCER_STATE_WINDOW_MS);
    s.record(b(0, 0, 0, PRODUCERS_MAX), 0, PRODUCER_STATE_WINDOW_MS + 1);
    expect(s.size).toBe(PRODUCERS_MAX);
    expect(s.check(b(0, 0, 0, 0))).toEqual({ kind: 'append' }); // producer 0 was idle longest: forgotten
    expect(s.check(b(0, 0, 0, 1))).toEqual({ kind: 'duplicate', firstOffset: 1, lastOffset: 1 });
  });
});
