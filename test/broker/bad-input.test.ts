/**
 * Bad input: unknown topics, wrong types, double acks, acks of another group's message and calls
 * on closed objects each fail with a clear error (TypeError, RangeError, or a SluiceError with its
 * code), and none of them changes any state: afterwards the broker describes itself exactly as
 * before and goes on working.
 */
import { describe, expect, it } from 'vitest';
import { ErrorCode, type AckMessage } from '../../lib/index';
import { drain, openBroker, SMALL, text, values } from './broker-fixtures';

type Outcome = 'TypeError' | 'RangeError' | ErrorCode;

function outcome(fn: () => unknown): Outcome | 'ok' {
  try {
    fn();
    return 'ok';
  } catch (e) {
    if (e instanceof TypeError) return 'TypeError';
    if (e instanceof RangeError) return 'RangeError';
    return (e as { code: ErrorCode }).code;
  }
}

async function asyncOutcome(p: () => Promise<unknown>): Promise<Outcome | 'ok'> {
  try {
    await p();
    return 'ok';
  } catch (e) {
    if (e instanceof TypeError) return 'TypeError';
    if (e instanceof RangeError) return 'RangeError';
    return (e as { code: ErrorCode }).code;
  }
}

describe('bad input', () => {
  it('gets a clear error for every misuse and leaves the state untouched', async () => {
    const b = await openBroker();
    await b.createTopic('t', { ...SMALL, partitions: 2, maxBacklog: 100 });
    await b.sendBatch('t', values(6));
    const q = b.consumer({ group: 'q', topics: 't', model: 'ack' });
    const other = b.consumer({ group: 'other', topics: 't', model: 'ack' });
    const log = b.consumer({ group: 'log', topics: 't' });
    const mine = (await drain(q)) as AckMessage[];
    const theirs = (await drain(other)) as AckMessage[];
    await drain(log);
    await mine[0].ack();
    const fingerprint = (): string => JSON.stringify(b.describe());
    const before = fingerprint();

    const sync: [string, () => unknown, Outcome][] = [
      ['describe an unknown topic', () => b.describeTopic('nope'), ErrorCode.UNKNOWN_TOPIC],
      ['describe a topic by number', () => b.describeTopic(7 as never), 'TypeError'],
      ['describe an unknown group', () => b.describeGroup('nope'), ErrorCode.UNKNOWN_GROUP],
      ['subscribe to an unknown topic', () => b.consumer({ group: 'x', topics: 'nope' }), ErrorCode.UNKNOWN_TOPIC],
      ['subscribe with the wrong model', () => b.consumer({ group: 'q', topics: 't' }), ErrorCode.GROUP_MODEL_MISMATCH],
      ['subscribe with a numeric group', () => b.consumer({ group: 5 as never, topics: 't' }), 'TypeError'],
      ['ack twice', () => mine[0].ack(), ErrorCode.ALREADY_ACKED],
      ['ack twice through the consumer', () => q.ack(mine[0]), ErrorCode.ALREADY_ACKED],
      ['ack a message of another group', () => q.ack(theirs[1]), ErrorCode.WRONG_GROUP],
      ['nack a message of another group', () => q.nack(theirs[1]), ErrorCode.WRONG_GROUP],
      ['ack something that is not a message', () => q.ack({ offset: 1 } as never), 'TypeError'],
      ['ack on an offset-model consumer', () => log.ack(mine[1]), ErrorCode.WRONG_MODEL],
      ['nack with a negative delay', () => mine[1].nack({ delayMs: -1 }), 'RangeError'],
      ['commit on an ack-model consumer', () => q.commit(), ErrorCode.WRONG_MODEL],
      ['seek on an ack-model consumer', () => q.seek({ topic: 't', offset: 0 }), ErrorCode.WRONG_MODEL],
      ['seek an unknown topic', () => log.seek({ topic: 'nope', offset: 0 }), ErrorCode.UNKNOWN_TOPIC],
      ['seek with a string offset', () => log.seek({ topic: 't', offset: '3' as never }), 'TypeError'],
      ['commit a bogus entry', () => log.commit({ topic: 't', partition: 0, offset: -3 }), 'RangeError'],
      ['commit past the end', () => log.commit({ topic: 't', partition: 0, offset: 1_000_000 }), 'RangeError'],
      ['pause with a string', () => q.pause('t' as never), 'TypeError'],
    ];
    for (const [what, fn, expected] of sync) expect(outcome(fn), what).toBe(expected);

    const asyncCases: [string, () => Promise<unknown>, Outcome][] = [
      ['send to an unknown topic', () => b.send('nope', { value: 'x' }), ErrorCode.UNKNOWN_TOPIC],
      ['send a message without a value', () => b.send('t', {} as never), 'TypeError'],
      ['send a non-object message', () => b.send('t', 'x' as never), 'TypeError'],
      ['send to a partition that does not exist', () => b.send('t', { value: 'x', partition: 9 }), 'RangeError'],
      ['send with a symbol key', () => b.send('t', { value: 'x', key: Symbol('k') as never }), 'TypeError'],
      ['send a function', () => b.send('t', { value: () => 0 }), 'TypeError'],
      ['send a batch that is not an array', () => b.sendBatch('t', { value: 'x' } as never), 'TypeError'],
      ['create a topic twice', () => b.createTopic('t'), ErrorCode.TOPIC_EXISTS],
      ['create a topic with a bad name', () => b.createTopic('a b'), 'RangeError'],
      ['delete an unknown topic', () => b.deleteTopic('nope'), ErrorCode.UNKNOWN_TOPIC],
      ['delete a group with members', () => b.deleteGroup('q'), ErrorCode.GROUP_ACTIVE],
      ['poll zero messages', () => q.poll(0), 'RangeError'],
      ['run without a handler', () => q.run(undefined as never), 'TypeError'],
    ];
    for (const [what, fn, expected] of asyncCases) expect(await asyncOutcome(fn), what).toBe(expected);

    expect(fingerprint()).toBe(before);
    // Everything still works.
    await mine[1].ack();
    await theirs[1].ack();
    await b.send('t', { value: 'after' });
    expect((await drain(log)).map(text)).toEqual(['after']);
    await b.deleteTopic('t');
    expect(outcome(() => mine[2].ack())).toBe(ErrorCode.UNKNOWN_TOPIC);
  });

  it('fails calls on a closed consumer and on messages of a closed broker with CLOSED', async () => {
    const b = await openBroker();
    await b.createTopic('t', SMALL);
    await b.sendBatch('t', values(2));
    const q = b.consumer({ group: 'q', topics: 't', model: 'ack' });
    const log = b.consumer({ group: 'log', topics: 't' });
    const [m] = (await drain(q)) as AckMessage[];
    await log.close();
    expect(outcome(() => log.commit())).toBe(ErrorCode.CLOSED);
    expect(await log.poll(1)).toEqual([]);
    await b.close();
    expect(outcome(() => m.ack())).toBe(ErrorCode.CLOSED);
  });
});
