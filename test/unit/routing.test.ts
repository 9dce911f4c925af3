/**
 * Routing by topic pattern (routing/topic-pattern.ts: '*' one word, '#' any number, dead-letter
 * topics left out) and by content (routing/message-filter.ts: the SQL92-like subset, three-valued
 * logic, numbers read from headers, clear errors with the position of the fault).
 */
import { describe, expect, it } from 'vitest';
import { MessageFilter } from '../../lib/broker/routing/message-filter';
import { TopicPattern } from '../../lib/broker/routing/topic-pattern';
import type { LogRecord } from '../../lib/storage/log';

function record(headers: Record<string, string | null>, key: string | null = null): LogRecord {
  return {
    offset: 7,
    timestamp: 1000,
    key: key === null ? null : Buffer.from(key),
    value: Buffer.from('v'),
    headers: Object.entries(headers).map(([k, v]) => ({ key: k, value: v === null ? null : Buffer.from(v) })),
  };
}

describe('topic patterns', () => {
  it('* is one word, # any number of words', () => {
    const star = new TopicPattern('orders.*');
    expect(['orders.eu', 'orders.us'].every((t) => star.matches(t))).toBe(true);
    expect(['orders', 'orders.eu.paid', 'ordersx.eu', 'x.orders.eu'].some((t) => star.matches(t))).toBe(false);
    const hash = new TopicPattern('logs.#');
    expect(['logs', 'logs.app', 'logs.app.err'].every((t) => hash.matches(t))).toBe(true);
    expect(hash.matches('log')).toBe(false);
    const mid = new TopicPattern('a.#.z');
    expect(['a.z', 'a.b.z', 'a.b.c.z'].every((t) => mid.matches(t))).toBe(true);
    expect(mid.matches('a.b.c')).toBe(false);
    expect(new TopicPattern('*.eu').matches('orders.eu')).toBe(true);
  });

  it('leaves dead-letter topics out unless the pattern names them', () => {
    expect(new TopicPattern('orders.#').matches('orders.eu.dlq')).toBe(false);
    expect(new TopicPattern('#').matches('orders.dlq')).toBe(false);
    expect(new TopicPattern('*.dlq').matches('orders.dlq')).toBe(true);
  });

  it('refuses malformed patterns', () => {
    expect(() => new TopicPattern('orders*')).toThrow(/each word between dots/);
    expect(() => new TopicPattern('a..b')).toThrow(/each word between dots/);
    expect(() => new TopicPattern('')).toThrow(/1 to 249/);
  });
});

describe('message filters', () => {
  const ok = (f: string, h: Record<string, string | null>, key: string | null = null) => new MessageFilter(f).accepts(record(h, key), 'orders', 2);

  it('compares strings and numbers, with IN, BETWEEN, LIKE, IS NULL, AND, OR, NOT', () => {
    expect(ok("region = 'eu' AND amount > 100", { region: 'eu', amount: '150' })).toBe(true);
    expect(ok("region = 'eu' AND amount > 100", { region: 'eu', amount: '99.5' })).toBe(false);
    expect(ok("tag IN ('paid', 'refunded')", { tag: 'paid' })).toBe(true);
    expect(ok("tag NOT IN ('paid', 'refunded')", { tag: 'open' })).toBe(true);
    expect(ok('amount BETWEEN 10 AND 20', { amount: '10' })).toBe(true);
    expect(ok('NOT (amount BETWEEN 10 AND 20)', { amount: '21' })).toBe(true);
    expect(ok("customer LIKE 'acme-%'", { customer: 'acme-7' })).toBe(true);
    expect(ok("customer LIKE 'acme-_'", { customer: 'acme-77' })).toBe(false);
    expect(ok('"x-priority" IS NOT NULL', { 'x-priority': 'high' })).toBe(true);
    expect(ok("a = 'x' OR b = 'y'", { b: 'y' })).toBe(true);
    expect(ok("$key = 'k1' AND $partition = 2 AND $topic = 'orders' AND $timestamp >= 1000", {}, 'k1')).toBe(true);
    expect(ok("note = 'it''s'", { note: "it's" })).toBe(true);
    expect(ok('TRUE', {})).toBe(true);
  });

  it('follows three-valued logic: a missing header is NULL, unknown is never delivered', () => {
    expect(ok("region = 'eu'", {})).toBe(false);
    expect(ok("NOT (region = 'eu')", {})).toBe(false);
    expect(ok("region <> 'eu'", {})).toBe(false);
    expect(ok('region IS NULL', {})).toBe(true);
    expect(ok("region = 'eu' OR TRUE", {})).toBe(true);
    expect(ok('amount > 5', { amount: 'lots' })).toBe(false); // not a number: unknown
  });

  it('refuses malformed filters with the position', () => {
    expect(() => new MessageFilter("region = 'eu")).toThrow(/unterminated string at character 10/);
    expect(() => new MessageFilter('region')).toThrow(/expected a comparison/);
    expect(() => new MessageFilter("region = 'eu' AND")).toThrow(/ends too early/);
    expect(() => new MessageFilter('a = 1 b')).toThrow(/unexpected "b"/);
    expect(() => new MessageFilter('$nope = 1')).toThrow(/unknown name \$nope/);
    expect(() => new MessageFilter('a ~ 1')).toThrow(/unexpected character "~"/);
    expect(() => new MessageFilter('')).toThrow(/empty expression/);
    expect(() => new MessageFilter(`${'NOT '.repeat(100)}a = 1`)).toThrow(/nesting deeper than 64/);
    expect(() => new MessageFilter('x'.repeat(5000))).toThrow(/at most 4096/);
  });
});
