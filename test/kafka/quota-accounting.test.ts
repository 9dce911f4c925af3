/**
 * The quota arithmetic on a fake clock, no sockets: the sliding-window rate (at least samples - 1
 * whole samples, old samples forgotten), Kafka's throttle time X = (O - T) / T * W, a throttled
 * fetch that counts nothing, the precedence of principal+client, principal, client id and
 * default (each quota kind resolved on its own), entities forgotten once idle; and the parsing of
 * `sluice serve`'s --quota and --connections-per-ip-override flags.
 */
import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { byteRate, connectionsOverride, quotaFlag } from '../../lib/cli/quota-flags';
import { ClientQuotas } from '../../lib/kafka/quotas/client-quotas';
import { ConnectionsPerIp } from '../../lib/kafka/quotas/connections-per-ip';
import { quotaConfigOf, type QuotaOptions } from '../../lib/kafka/quotas/quota-config';
import { SampledRate } from '../../lib/kafka/quotas/sampled-rate';

const ANON = 'User:ANONYMOUS';

function quotas(o: QuotaOptions): { q: ClientQuotas; clock: { now: number } } {
  const clock = { now: 1_000_000 };
  return { q: new ClientQuotas(quotaConfigOf(o), () => clock.now), clock };
}

describe('SampledRate', () => {
  it('spreads the first values over samples - 1 whole samples, then over the time since the oldest sample', () => {
    const r = new SampledRate(11, 1000);
    r.record(10_000, 0);
    expect(r.windowMs(0)).toBe(10_000);
    expect(r.ratePerSec(0)).toBe(1000);
    r.record(10_000, 10_500);
    expect(r.windowMs(10_500)).toBe(10_500);
    expect(r.ratePerSec(10_500)).toBeCloseTo(20_000 / 10.5);
  });

  it('forgets samples a whole window old, and is idle once nothing counts', () => {
    const r = new SampledRate(3, 100);
    r.record(500, 0);
    expect(r.idle(299)).toBe(false);
    expect(r.ratePerSec(300)).toBe(0);
    expect(r.idle(300)).toBe(true);
  });

  it('takes back a negative value in the same sample', () => {
    const r = new SampledRate(3, 100);
    r.record(500, 0);
    r.record(-500, 10);
    expect(r.ratePerSec(20)).toBe(0);
  });
});

describe('ClientQuotas', () => {
  it('answers 0 within the quota and (O - T) / T * W above it, and counts what it throttled', () => {
    const { q } = quotas({ default: { produceBytesPerSec: 1000 }, windowSamples: 11, windowSampleMs: 1000 });
    expect(q.recordProduce(ANON, 'a', 10_000)).toBe(0); // 10,000 over 10 s: exactly the quota
    // 20,000 over 10 s is 2000/s: (2000 - 1000) / 1000 * 10 s.
    expect(q.recordProduce(ANON, 'a', 10_000)).toBe(10_000);
    expect(q.stats()).toEqual({ throttledRequests: { produce: 1, fetch: 0 }, throttleTimeMs: { produce: 10_000, fetch: 0 }, entities: 1 });
  });

  it('answers 0 with no quota of that kind, and measures nothing', () => {
    const { q } = quotas({ default: { fetchBytesPerSec: 10 } });
    expect(q.recordProduce(ANON, 'a', 1e9)).toBe(0);
    expect(q.stats().entities).toBe(0);
    expect(new ClientQuotas(null).recordProduce(ANON, null, 1e9)).toBe(0);
    expect(new ClientQuotas(null).fetchBytesMax(ANON, null)).toBe(Infinity);
  });

  it('does not count a fetch it throttles, and lets one fetch take at most a window of the quota', () => {
    const { q, clock } = quotas({ default: { fetchBytesPerSec: 1000 }, windowSamples: 5, windowSampleMs: 1000 });
    expect(q.fetchBytesMax(ANON, 'c')).toBe(4000);
    expect(q.admitFetch(ANON, 'c', 4000)).toBe(0);
    const throttle = q.admitFetch(ANON, 'c', 4000);
    expect(throttle).toBe(4000); // (8000 / 4 s - 1000) / 1000 * 4 s
    // Nothing was counted for the throttled one: asked again, the same answer (8000 had it counted).
    expect(q.admitFetch(ANON, 'c', 4000)).toBe(4000);
    clock.now += 5000; // the first fetch's sample is a whole window old
    expect(q.admitFetch(ANON, 'c', 4000)).toBe(0);
  });

  it('applies principal+client, then principal, then client id, then default, per kind', () => {
    const o: QuotaOptions = {
      default: { produceBytesPerSec: 1, fetchBytesPerSec: 1 },
      clientIds: { etl: { produceBytesPerSec: 2, fetchBytesPerSec: 2 } },
      principals: { 'User:alice': { produceBytesPerSec: 3, clientIds: { etl: { produceBytesPerSec: 4 } } } },
    };
    const { q } = quotas({ ...o, windowSamples: 2, windowSampleMs: 1000 });
    // The window is 1 s: one fetch may take the quota's bytes of one second.
    expect(q.fetchBytesMax('User:bob', 'x')).toBe(1);
    expect(q.fetchBytesMax('User:bob', 'etl')).toBe(2);
    expect(q.fetchBytesMax('User:alice', 'x')).toBe(1); // alice has no fetch quota of her own: the default
    expect(q.fetchBytesMax('User:alice', 'etl')).toBe(2); // nor alice with etl: the client id's
    // Produce: recording the quota's bytes of one window is within it, one byte more is not.
    for (const [principal, clientId, rate] of [['User:bob', 'x', 1], ['User:bob', 'etl', 2], ['User:alice', 'x', 3], ['User:alice', 'etl', 4]] as const) {
      expect(q.recordProduce(principal, clientId, rate), `${principal} ${clientId}`).toBe(0);
      expect(q.recordProduce(principal, clientId, 1), `${principal} ${clientId}`).toBeGreaterThan(0);
    }
  });

  it('shares a principal quota among its client ids, a client-id quota among principals, and the default per pair', () => {
    const { q } = quotas({ default: { produceBytesPerSec: 10 }, clientIds: { etl: { produceBytesPerSec: 10 } }, principals: { 'User:alice': { produceBytesPerSec: 10 } }, windowSamples: 2, windowSampleMs: 1000 });
    expect(q.recordProduce('User:alice', 'a', 10)).toBe(0);
    expect(q.recordProduce('User:alice', 'b', 1)).toBeGreaterThan(0);
    expect(q.recordProduce('User:bob', 'etl', 10)).toBe(0);
    expect(q.recordProduce('User:carol', 'etl', 1)).toBeGreaterThan(0);
    expect(q.recordProduce('User:bob', 'x', 10)).toBe(0);
    expect(q.recordProduce('User:carol', 'x', 10)).toBe(0);
    expect(q.recordProduce('User:bob', 'y', 10)).toBe(0);
  });

  it('forgets entities that recorded nothing for a whole window', () => {
    const { q, clock } = quotas({ default: { produceBytesPerSec: 10 }, windowSamples: 2, windowSampleMs: 100 });
    for (let i = 0; i < 100; i++) q.recordProduce(ANON, `client-${i}`, 1);
    expect(q.stats().entities).toBe(100);
    clock.now += 200;
    q.recordProduce(ANON, 'last', 1);
    expect(q.stats().entities).toBe(1);
  });

  it('refuses bad options with what is wrong', () => {
    expect(() => quotaConfigOf({ default: { produceBytesPerSec: 0 } })).toThrow(/quotas.default.produceBytesPerSec must be an integer between 1/);
    expect(() => quotaConfigOf({ principals: { alice: {} } })).toThrow(/principals such as "User:alice"/);
    expect(() => quotaConfigOf({ clientIds: { a: { producerBytesPerSec: 1 } } } as never)).toThrow(/unknown quotas.clientIds\["a"\] key "producerBytesPerSec"/);
    expect(() => quotaConfigOf({ windowSamples: 1 })).toThrow(/windowSamples/);
    expect(() => quotaConfigOf({ clientIds: { __proto__: { produceBytesPerSec: 5 } } as never })).not.toThrow();
  });
});

describe('ConnectionsPerIp', () => {
  it('counts per address, IPv4 seen through IPv6 as itself, with overrides', () => {
    const limit = ConnectionsPerIp.of({ connectionsPerIpMax: 2, connectionsPerIpOverrides: { '10.0.0.7': 0, '::1': 3 } })!;
    expect(limit.tryOpen('127.0.0.1')).toBe(true);
    expect(limit.tryOpen('::ffff:127.0.0.1')).toBe(true);
    expect(limit.tryOpen('127.0.0.1')).toBe(false);
    limit.closed('127.0.0.1');
    expect(limit.tryOpen('127.0.0.1')).toBe(true);
    expect(limit.tryOpen('::ffff:10.0.0.7')).toBe(false);
    expect([1, 2, 3, 4].map(() => limit.tryOpen('::1'))).toEqual([true, true, true, false]);
    expect(ConnectionsPerIp.of({})).toBeNull();
    expect(() => ConnectionsPerIp.of({ connectionsPerIpOverrides: { 'host.example': 1 } })).toThrow(/keys are IP addresses/);
    expect(() => ConnectionsPerIp.of({ connectionsPerIpMax: 0 })).toThrow(/connectionsPerIpMax must be an integer between 1/);
  });
});

describe('sluice serve quota flags', () => {
  it('parses byte rates with decimal and binary units', () => {
    expect(byteRate('1MiB/s')).toBe(1024 * 1024);
    expect(byteRate('512KiB')).toBe(512 * 1024);
    expect(byteRate('2.5MB/s')).toBe(2_500_000);
    expect(byteRate('1000')).toBe(1000);
    expect(() => byteRate('fast')).toThrow(InvalidArgumentError);
    expect(() => byteRate('0B/s')).toThrow(/at least 1 byte per second/);
  });

  it('builds the quotas option from repeated --quota flags', () => {
    let q = quotaFlag('produce=1MiB/s');
    q = quotaFlag('client-id=etl:fetch=512KiB/s', q);
    q = quotaFlag('client-id=a:b:produce=1KB', q);
    q = quotaFlag('principal=User:alice:produce=2MB/s,fetch=4MB/s', q);
    q = quotaFlag('principal=User:alice:client-id=etl:produce=100KiB/s', q);
    expect(JSON.parse(JSON.stringify(q))).toEqual({
      default: { produceBytesPerSec: 1048576 },
      clientIds: { etl: { fetchBytesPerSec: 524288 }, 'a:b': { produceBytesPerSec: 1000 } },
      principals: { 'User:alice': { produceBytesPerSec: 2_000_000, fetchBytesPerSec: 4_000_000, clientIds: { etl: { produceBytesPerSec: 102400 } } } },
    });
    expect(quotaConfigOf(q)).not.toBeNull();
  });

  it('refuses malformed --quota and override flags with an example', () => {
    expect(() => quotaFlag('produce')).toThrow(/want produce=RATE or fetch=RATE/);
    expect(() => quotaFlag('user=bob:produce=1MiB')).toThrow(/name client-id=ID, principal=TYPE:NAME or both/);
    expect(() => quotaFlag('principal=bob:produce=1MiB')).toThrow(/a principal is TYPE:NAME/);
    expect(() => quotaFlag('produce=1MiB', quotaFlag('produce=2MiB'))).toThrow(/given twice/);
    expect(connectionsOverride('::1=0', connectionsOverride('10.0.0.7=500'))).toEqual({ '10.0.0.7': 500, '::1': 0 });
    expect(() => connectionsOverride('10.0.0.7')).toThrow(/want ADDRESS=N/);
    expect(() => connectionsOverride('db.local=5')).toThrow(/not an IP address/);
  });
});
