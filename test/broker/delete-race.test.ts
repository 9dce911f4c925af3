/**
 * A send racing deleteTopic: the send was admitted (its message appended) just before the topic
 * went, so its confirm can never be honoured. It fails with UNKNOWN_TOPIC, a SluiceError, never
 * with whatever the closed partition Log would say (it used to be a RangeError about offset 0).
 */
import { describe, expect, it } from 'vitest';
import { ErrorCode, SluiceError } from '../../lib/index';
import { openBroker, SMALL } from './broker-fixtures';

describe('deleteTopic racing sends', () => {
  it('fails in-flight sends and later ones with UNKNOWN_TOPIC', async () => {
    const b = await openBroker();
    for (const sync of ['always', 'interval', 'none'] as const) {
      await b.createTopic('t', { ...SMALL, partitions: 2, sync });
      const sends = [b.send('t', { value: 'a' }), b.sendBatch('t', [{ value: 'b' }, { value: 'c' }]), b.send('t', { key: 'k', value: 'd' })];
      const deleting = b.deleteTopic('t');
      const results = await Promise.allSettled(sends);
      await deleting;
      for (const r of results) {
        expect(r.status).toBe('rejected');
        const e = (r as PromiseRejectedResult).reason;
        expect(e).toBeInstanceOf(SluiceError);
        expect(e.code).toBe(ErrorCode.UNKNOWN_TOPIC);
      }
      await expect(b.send('t', { value: 'late' })).rejects.toMatchObject({ code: ErrorCode.UNKNOWN_TOPIC });
    }
  });
});
