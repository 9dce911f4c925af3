/**
 * One rule for bad arguments to a Log (lib/validate.ts): a wrong type is a TypeError, a value out
 * of range a RangeError, an unknown option or message field a TypeError; every message names the
 * option, its limits and the value it got.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Log } from '../../lib/index';
import { tmpDir } from '../helpers/tmp';

const open: Log[] = [];
afterEach(async () => {
  for (const l of open.splice(0)) await l.close();
});

describe('Log argument validation', () => {
  it('checks open options by type, range and name', async () => {
    const cases: Array<[Record<string, unknown>, ErrorConstructor, RegExp]> = [
      [{ segmentBytes: 'x' }, TypeError, /segmentBytes must be an integer, got "x"/],
      [{ segmentBytes: 1000 }, RangeError, /segmentBytes must be an integer between 65536 and 2147483647, got 1000/],
      [{ messageBytesMax: 10 }, RangeError, /messageBytesMax must be an integer between 68 and/],
      [{ batchBytesMax: 2 ** 21 }, RangeError, /batchBytesMax must be an integer between 68 and 1048576, got 2097152/],
      [{ sync: 'sometimes' }, RangeError, /sync must be 'always', 'interval', 'none', got "sometimes"/],
      [{ writePath: 1 }, TypeError, /writePath must be/],
      [{ syncIntervalMs: 86_400_001 }, RangeError, /syncIntervalMs must be an integer between 1 and 86400000, got 86400001/],
      [{ retentionBytes: -2 }, RangeError, /retentionBytes must be an integer between -1 and/],
      [{ readOnly: 'yes' }, TypeError, /readOnly must be a boolean, got "yes"/],
      [{ segmentByte: 65536 }, TypeError, /unknown log option "segmentByte"/],
    ];
    for (const [options, type, message] of cases) {
      await expect(Log.open(tmpDir(), options as never), JSON.stringify(options)).rejects.toThrow(type);
      await expect(Log.open(tmpDir(), options as never), JSON.stringify(options)).rejects.toThrow(message);
    }
    await expect(Log.open(42 as never)).rejects.toThrow(TypeError);
    await expect(Log.open('')).rejects.toThrow(RangeError);
  });

  it('checks append, appendBatch, read and slice arguments the same way', async () => {
    const log = await Log.open(tmpDir(), { segmentBytes: 1 << 20 });
    open.push(log);
    expect(() => log.append('a', { kye: 'typo' } as never)).toThrow(/unknown append option "kye"/);
    expect(() => log.append('a', { timestamp: -1 })).toThrow(RangeError);
    expect(() => log.append('a', { timestamp: '1' as never })).toThrow(/timestamp must be an integer, got "1"/);
    expect(() => log.appendBatch([{ value: 'a' }, { value: 'b', header: {} } as never])).toThrow(/message 1: unknown field "header"/);
    expect(log.endOffset).toBe(0);
    expect(() => log.read(0, 'x' as never)).toThrow(/read options must be an object, got "x"/);
    expect(() => log.read(0, { maxRecord: 1 } as never)).toThrow(/unknown read option "maxRecord"/);
    expect(() => log.read(0, { maxBytes: 0 })).toThrow(RangeError);
    expect(() => log.read('0' as never)).toThrow(/offset must be an integer, got "0"/);
    expect(() => log.read(-1)).toThrow(RangeError);
    expect(() => log.slice(0, { max: 1 } as never)).toThrow(/unknown slice option "max"/);
  });
});
