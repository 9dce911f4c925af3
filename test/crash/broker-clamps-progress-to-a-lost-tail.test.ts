/**
 * Clamps group progress to a topic that lost its unsynced tail. Under topic sync 'interval' and
 * group sync 'always', a power loss can leave a group's committed offset (or an ack-model group's
 * delivered end and acks) past the end of the partition's Log; new messages then get those offsets
 * and would be skipped. Method: write four messages and close the broker, copy the partition's Log
 * directory aside, reopen and write six more, consume them all (an offset group commits 10; an ack
 * group acks everything but message 3), close, and put the copy back: the state of a power loss
 * that kept the group state and lost messages 4-9. On reopen both groups must stand at offset 4
 * (the ack group at 3, with its acks of 4-9 forgotten), and the clamp must be recorded: messages
 * written after it, at offsets 4-9 again, reach both groups after a second restart.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { AckMessage } from '../../lib/index';
import { tmpDir } from '../helpers/tmp';
import { closeBroker, drain, openBroker, SMALL, text, values } from '../broker/broker-fixtures';

describe('group progress past the end of a topic after a power loss', () => {
  it('is clamped to the end on open, and the clamp is written to the group state', async () => {
    const dir = tmpDir('sluice-broker-clamp-');
    const partDir = path.join(dir, 'topics', 't', '0');
    const saved = tmpDir('sluice-broker-clamp-copy-');
    let b = await openBroker({}, dir);
    await b.createTopic('t', SMALL);
    await b.sendBatch('t', values(4));
    await closeBroker(b);
    fs.cpSync(partDir, saved, { recursive: true });

    b = await openBroker({}, dir);
    await b.sendBatch('t', values(6, 'lost'));
    const o = b.consumer({ group: 'o', topics: 't' });
    expect(await drain(o)).toHaveLength(10);
    await o.commit();
    const a = b.consumer({ group: 'a', topics: 't', model: 'ack' });
    for (const m of await drain(a)) if (m.offset !== 3) await m.ack();
    await o.close();
    await a.close();
    expect(b.describeGroup('o').partitions[0].committedOffset).toBe(10);
    expect(b.describeGroup('a').partitions[0]).toMatchObject({ committedOffset: 3, ackedAhead: 6 });
    await closeBroker(b);
    fs.rmSync(partDir, { recursive: true });
    fs.cpSync(saved, partDir, { recursive: true });

    b = await openBroker({}, dir);
    expect(b.describeGroup('o').partitions[0]).toMatchObject({ committedOffset: 4, endOffset: 4, lag: 0 });
    expect(b.describeGroup('a').partitions[0]).toMatchObject({ committedOffset: 3, endOffset: 4, ackedAhead: 0 });
    await b.sendBatch('t', values(6, 'new'));
    await closeBroker(b);

    b = await openBroker({}, dir);
    const o2 = b.consumer({ group: 'o', topics: 't' });
    expect((await drain(o2)).map(text)).toEqual(['new0', 'new1', 'new2', 'new3', 'new4', 'new5']);
    const a2 = b.consumer({ group: 'a', topics: 't', model: 'ack' });
    const got = (await drain(a2)) as AckMessage[];
    expect(got.map((m) => [text(m), m.deliveryCount])).toEqual([['m3', 2], ...values(6, 'new').map((v) => [v.value, 1])]);
  });
});
