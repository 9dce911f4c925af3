/**
 * One rule for bad arguments across the broker: a wrong type is a TypeError, a value out of range
 * a RangeError, an unknown key a TypeError; each message names the option, its limits and the
 * value it got (strings quoted, so '4' and 4 read differently).
 */
import { describe, expect, it } from 'vitest';
import { Broker } from '../../lib/index';
import { tmpDir } from '../helpers/tmp';
import { openBroker, SMALL } from './broker-fixtures';

describe('broker argument validation', () => {
  it('checks topic options by type, range and name', async () => {
    const b = await openBroker();
    const cases: Array<[Record<string, unknown>, ErrorConstructor, RegExp]> = [
      [{ partitions: '4' }, TypeError, /partitions must be an integer, got "4"/],
      [{ partitions: 0 }, RangeError, /partitions must be an integer between 1 and 1024, got 0/],
      [{ partitions: 2.5 }, RangeError, /partitions must be an integer between 1 and 1024, got 2.5/],
      [{ segmentBytes: 'x' }, TypeError, /segmentBytes must be an integer, got "x"/],
      [{ segmentBytes: 1000 }, RangeError, /segmentBytes must be an integer between 65536 and 2147483647, got 1000/],
      [{ sync: 'sometimes' }, RangeError, /sync must be 'always', 'interval', 'none', got "sometimes"/],
      [{ sync: 1 }, TypeError, /sync must be/],
      [{ messageBytesMax: 10 }, RangeError, /messageBytesMax must be an integer between 68 and 67108864, got 10/],
      [{ maxBacklog: -1 }, RangeError, /maxBacklog must be an integer between 1 and/],
      [{ retentionMs: '1' }, TypeError, /retentionMs must be an integer, got "1"/],
      [{ partitons: 2 }, TypeError, /unknown topic option "partitons"/],
    ];
    for (const [config, type, message] of cases) {
      await expect(b.createTopic('t', config as never), JSON.stringify(config)).rejects.toThrow(type);
      await expect(b.createTopic('t', config as never), JSON.stringify(config)).rejects.toThrow(message);
    }
    expect(b.listTopics()).toEqual([]);
  });

  it('rejects unknown message fields and send options instead of ignoring them', async () => {
    const b = await openBroker();
    await b.createTopic('t', SMALL);
    await expect(b.send('t', { value: 'a', kye: 'typo' } as never)).rejects.toThrow(/message 0: unknown field "kye"/);
    await expect(b.sendBatch('t', [{ value: 'a' }, { value: 'b', header: {} } as never])).rejects.toThrow(/message 1: unknown field "header"/);
    await expect(b.send('t', { value: 'a' }, { timeout: 5 } as never)).rejects.toThrow(/unknown send option "timeout"/);
    expect(b.describeTopic('t').messages).toBe(0);
  });

  it('checks broker and consumer options the same way', async () => {
    const dir = tmpDir('sluice-broker-');
    await expect(Broker.open(dir, { groupSync: 'never' } as never)).rejects.toThrow(RangeError);
    await expect(Broker.open(dir, { groupCheckpointBytes: '1' } as never)).rejects.toThrow(/groupCheckpointBytes must be an integer, got "1"/);
    await expect(Broker.open(dir, { clok: 1 } as never)).rejects.toThrow(/unknown broker option "clok"/);
    await expect(Broker.open(42 as never)).rejects.toThrow(TypeError);
    const b = await openBroker();
    await b.createTopic('t', SMALL);
    expect(() => b.consumer({ group: 'g', topics: 't', maxInFlight: '5' as never })).toThrow(/maxInFlight must be an integer, got "5"/);
    expect(() => b.consumer({ group: 'g', topics: 't', model: 'queue' as never })).toThrow(/model must be 'offset', 'ack', got "queue"/);
    expect(() => b.consumer({ group: 'g', topics: 't', autoCommit: 'yes' as never })).toThrow(TypeError);
  });
});
