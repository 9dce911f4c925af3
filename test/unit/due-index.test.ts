/**
 * The delay store's bounded index (broker/delay/due-index.ts), against a model: a "disk" holding
 * every pending key. Random inserts, pops of the earliest and refills by scanning the disk; at
 * every step the index holds exactly the pending keys below its horizon, never more than about
 * twice its capacity, and pops come out in (due, offset) order. The seed is printed.
 */
import { describe, expect, it } from 'vitest';
import { before, Collector, DueIndex, KEY_MAX, selectSmallest, type DueKey } from '../../lib/broker/delay/due-index';
import { mulberry32 } from '../helpers/prng';

/**
 * A scan as the delay store runs one: keys at or above the horizon from the disk as it was when
 * the scan began, while `meanwhile` inserts more (a key the index does not take goes to the
 * scan's collector, as DelayStore.#keep does), then the merge.
 */
function scanInto(index: DueIndex, disk: Map<number, number>, meanwhile: () => void = () => {}): void {
  const c = new Collector(index.capacity);
  const h = index.horizon;
  for (const [offset, due] of [...disk]) if (!before(due, offset, h.due, h.offset)) c.add(due, offset);
  scanning = c;
  meanwhile();
  scanning = null;
  c.finish();
  index.merge(c, c.limit, h);
}
let scanning: Collector | null = null;

describe('due index', () => {
  it('holds exactly the pending keys below its horizon, bounded, and pops in order', () => {
    const seed = (Date.now() ^ 0x5eed) >>> 0;
    console.log(`due-index seed ${seed}`);
    const rnd = mulberry32(seed);
    const index = new DueIndex(8);
    const disk = new Map<number, number>(); // offset -> due
    let nextOffset = 0;
    let last: DueKey = { due: -Infinity, offset: -Infinity };
    scanInto(index, disk);
    for (let step = 0; step < 20_000; step++) {
      const r = rnd();
      if (r < 0.55) {
        // Due times at or above the last popped one (the store clamps them so).
        const due = Math.max(last.due, Math.floor(rnd() * 200) + (last.due === -Infinity ? 0 : last.due));
        const offset = nextOffset++;
        disk.set(offset, due);
        if (!index.insert(due, offset)) scanning?.add(due, offset);
      } else {
        if (index.size === 0 && !index.complete) {
          // Sometimes many inserts land while the scan runs (enough to overflow the index).
          const burst = rnd() < 0.3 ? Math.floor(rnd() * 60) : 0;
          scanInto(index, disk, () => {
            for (let k = 0; k < burst; k++) {
              // Due soon: most land below the horizon, enough to make the index drop keys.
              const due = (last.due === -Infinity ? 0 : last.due) + Math.floor(rnd() * 3);
              const offset = nextOffset++;
              disk.set(offset, due);
              if (!index.insert(due, offset)) scanning?.add(due, offset);
            }
          });
        }
        const k = { due: 0, offset: 0 };
        if (!index.pop(k)) continue;
        // The earliest pending key of all.
        let min: DueKey = KEY_MAX;
        for (const [o, d] of disk) if (before(d, o, min.due, min.offset)) min = { due: d, offset: o };
        expect(k).toEqual(min);
        expect(before(last.due, last.offset, k.due, k.offset)).toBe(true);
        disk.delete(k.offset);
        last = k;
      }
      expect(index.size).toBeLessThanOrEqual(2 * index.capacity);
      const h = index.horizon;
      let below = 0;
      for (const [o, d] of disk) if (before(d, o, h.due, h.offset)) below++;
      expect(index.size, `step ${step}`).toBe(below);
    }
  });

  it('selectSmallest puts the k smallest first and returns the smallest of the rest', () => {
    const rnd = mulberry32(7);
    const n = 1000;
    const due = Float64Array.from({ length: n }, () => Math.floor(rnd() * 50));
    const off = Float64Array.from({ length: n }, (_, i) => i);
    const keys = Array.from({ length: n }, (_, i) => ({ due: due[i], offset: off[i] })).sort((a, b) => (before(a.due, a.offset, b.due, b.offset) ? -1 : 1));
    const cut = selectSmallest(due, off, n, 100);
    expect(cut).toEqual(keys[100]);
    const first = Array.from({ length: 100 }, (_, i) => ({ due: due[i], offset: off[i] })).sort((a, b) => (before(a.due, a.offset, b.due, b.offset) ? -1 : 1));
    expect(first).toEqual(keys.slice(0, 100));
  });
});
