/**
 * Message filters: a consumer group's `filter`, a small expression language after RocketMQ's
 * SQL92 subset, evaluated where the group reads (a message it rejects never reaches a handler,
 * and the group's position moves past it as if it had been consumed).
 *
 *   region = 'eu' AND amount > 100
 *   tag IN ('paid', 'refunded') OR "x-priority" IS NOT NULL
 *   NOT (amount BETWEEN 10 AND 20) AND customer LIKE 'acme-%'
 *
 * Names are message headers (bare: letters, digits, _ and ., or "double-quoted" for any header
 * name); `$key`, `$topic`, `$partition` and `$timestamp` are the message's own. Literals: 'text'
 * ('' for a quote), numbers, TRUE, FALSE, NULL. Operators: = <> != < <= > >=, [NOT] BETWEEN x AND
 * y, [NOT] IN (...), IS [NOT] NULL, [NOT] LIKE 'pattern' (% any run, _ one character), AND, OR,
 * NOT, parentheses. A header compared with a number is read as a (decimal) number, with TRUE or
 * FALSE as 'true' or 'false' in any case. A missing header is
 * NULL, and as in SQL a comparison with NULL is unknown: NOT unknown is unknown, and only a
 * message for which the whole filter is true is delivered.
 */
import type { LogRecord } from '../../storage/log';

export type FilterValue = string | number | boolean | null;
/** Whether a message passes (true), fails (false) or is unknown (null: fails too). */
type Eval = (m: FilterInput) => boolean | null;
type Operand = (m: FilterInput) => FilterValue;

export interface FilterInput {
  record: LogRecord;
  topic: string;
  partition: number;
}

/** Bounds on what a filter may be: its text, and how deeply it nests. */
export const FILTER_LENGTH_MAX = 4096;
const DEPTH_MAX = 64;

export class MessageFilter {
  readonly source: string;
  readonly #test: Eval;

  constructor(source: string) {
    if (typeof source !== 'string') throw new TypeError(`filter must be a string expression, got ${typeof source}`);
    if (source.length > FILTER_LENGTH_MAX) throw new RangeError(`filter is ${source.length} characters long; at most ${FILTER_LENGTH_MAX}`);
    this.source = source;
    this.#test = new Parser(source).parse();
  }

  accepts(record: LogRecord, topic: string, partition: number): boolean {
    return this.#test({ record, topic, partition }) === true;
  }
}

// ---- Tokens ----

type Token = { kind: 'word' | 'name' | 'string' | 'number' | 'op' | 'end'; text: string; at: number };

function tokenize(s: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i];
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
    } else if (c === "'") {
      let text = '';
      let j = i + 1;
      for (;;) {
        if (j >= s.length) throw syntax(s, i, 'an unterminated string');
        if (s[j] === "'") {
          if (s[j + 1] === "'") {
            text += "'";
            j += 2;
            continue;
          }
          break;
        }
        text += s[j++];
      }
      out.push({ kind: 'string', text, at: i });
      i = j + 1;
    } else if (c === '"') {
      const j = s.indexOf('"', i + 1);
      if (j < 0) throw syntax(s, i, 'an unterminated quoted name');
      out.push({ kind: 'name', text: s.slice(i + 1, j), at: i });
      i = j + 1;
    } else if (/[0-9]/.test(c) || (c === '-' && /[0-9]/.test(s[i + 1] ?? ''))) {
      const m = /^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?/.exec(s.slice(i))!;
      out.push({ kind: 'number', text: m[0], at: i });
      i += m[0].length;
    } else if (/[A-Za-z_$]/.test(c)) {
      const m = /^[A-Za-z_$][A-Za-z0-9_.$]*/.exec(s.slice(i))!;
      out.push({ kind: 'word', text: m[0], at: i });
      i += m[0].length;
    } else {
      const two = s.slice(i, i + 2);
      if (two === '<=' || two === '>=' || two === '<>' || two === '!=') {
        out.push({ kind: 'op', text: two, at: i });
        i += 2;
      } else if ('=<>(),'.includes(c)) {
        out.push({ kind: 'op', text: c, at: i });
        i++;
      } else throw syntax(s, i, `an unexpected character ${JSON.stringify(c)}`);
    }
  }
  out.push({ kind: 'end', text: '', at: s.length });
  return out;
}

function syntax(s: string, at: number, what: string): RangeError {
  return new RangeError(`invalid filter ${JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}...` : s)}: ${what} at character ${at + 1}`);
}

const KEYWORDS = new Set(['AND', 'OR', 'NOT', 'BETWEEN', 'IN', 'IS', 'NULL', 'LIKE', 'TRUE', 'FALSE']);

// ---- Parser: a closure per node ----

class Parser {
  readonly #s: string;
  readonly #t: Token[];
  #i = 0;
  #depth = 0;

  constructor(s: string) {
    this.#s = s;
    this.#t = tokenize(s);
  }

  parse(): Eval {
    if (this.#peek().kind === 'end') throw syntax(this.#s, 0, 'an empty expression');
    const e = this.#or();
    const t = this.#peek();
    if (t.kind !== 'end') throw syntax(this.#s, t.at, `unexpected ${JSON.stringify(t.text)}`);
    return e;
  }

  #or(): Eval {
    let left = this.#and();
    while (this.#keyword('OR')) {
      const a = left;
      const b = this.#and();
      left = (m) => {
        const x = a(m);
        if (x === true) return true;
        const y = b(m);
        if (y === true) return true;
        return x === null || y === null ? null : false;
      };
    }
    return left;
  }

  #and(): Eval {
    let left = this.#not();
    while (this.#keyword('AND')) {
      const a = left;
      const b = this.#not();
      left = (m) => {
        const x = a(m);
        if (x === false) return false;
        const y = b(m);
        if (y === false) return false;
        return x === null || y === null ? null : true;
      };
    }
    return left;
  }

  #not(): Eval {
    if (++this.#depth > DEPTH_MAX) throw syntax(this.#s, this.#peek().at, `nesting deeper than ${DEPTH_MAX}`);
    try {
      if (this.#keyword('NOT')) {
        const e = this.#not();
        return (m) => {
          const x = e(m);
          return x === null ? null : !x;
        };
      }
      if (this.#peek().text === '(' && this.#peek().kind === 'op') {
        this.#i++;
        const e = this.#or();
        this.#expect(')');
        return e;
      }
      return this.#predicate();
    } finally {
      this.#depth--;
    }
  }

  #predicate(): Eval {
    const start = this.#peek();
    const left = this.#operand();
    const t = this.#peek();
    if (t.kind === 'op' && ['=', '<>', '!=', '<', '<=', '>', '>='].includes(t.text)) {
      this.#i++;
      return comparison(t.text, left, this.#operand());
    }
    if (this.#keyword('IS')) {
      const negated = this.#keyword('NOT');
      if (!this.#keyword('NULL')) throw syntax(this.#s, this.#peek().at, 'expected NULL after IS');
      return (m) => (left(m) === null) !== negated;
    }
    const negated = this.#keyword('NOT');
    let e: Eval;
    if (this.#keyword('BETWEEN')) {
      const lo = this.#operand();
      if (!this.#keyword('AND')) throw syntax(this.#s, this.#peek().at, 'expected AND in BETWEEN');
      const hi = this.#operand();
      const ge = comparison('>=', left, lo);
      const le = comparison('<=', left, hi);
      e = (m) => {
        const x = ge(m);
        const y = le(m);
        if (x === false || y === false) return false;
        return x === null || y === null ? null : true;
      };
    } else if (this.#keyword('IN')) {
      this.#expect('(');
      const list: Operand[] = [this.#literal()];
      while (this.#peek().text === ',' && this.#peek().kind === 'op') {
        this.#i++;
        list.push(this.#literal());
      }
      this.#expect(')');
      const eqs = list.map((v) => comparison('=', left, v));
      e = (m) => {
        let unknown = false;
        for (const eq of eqs) {
          const r = eq(m);
          if (r === true) return true;
          if (r === null) unknown = true;
        }
        return unknown ? null : false;
      };
    } else if (this.#keyword('LIKE')) {
      const p = this.#peek();
      if (p.kind !== 'string') throw syntax(this.#s, p.at, 'expected a quoted pattern after LIKE');
      this.#i++;
      const re = likePattern(p.text);
      e = (m) => {
        const v = left(m);
        return v === null ? null : re.test(String(v));
      };
    } else {
      if (negated) throw syntax(this.#s, this.#peek().at, 'expected BETWEEN, IN or LIKE after NOT');
      if (start.kind === 'word' && (start.text.toUpperCase() === 'TRUE' || start.text.toUpperCase() === 'FALSE')) return (m) => left(m) as boolean;
      throw syntax(this.#s, this.#peek().at, 'expected a comparison');
    }
    if (!negated) return e;
    return (m) => {
      const x = e(m);
      return x === null ? null : !x;
    };
  }

  #operand(): Operand {
    const t = this.#peek();
    if (t.kind === 'name') {
      this.#i++;
      return header(t.text);
    }
    if (t.kind === 'word' && !KEYWORDS.has(t.text.toUpperCase())) {
      this.#i++;
      return t.text.startsWith('$') ? own(this.#s, t) : header(t.text);
    }
    return this.#literal();
  }

  #literal(): Operand {
    const t = this.#peek();
    this.#i++;
    if (t.kind === 'string') return () => t.text;
    if (t.kind === 'number') {
      const n = Number(t.text);
      return () => n;
    }
    const upper = t.kind === 'word' ? t.text.toUpperCase() : '';
    if (upper === 'TRUE') return () => true;
    if (upper === 'FALSE') return () => false;
    if (upper === 'NULL') return () => null;
    throw syntax(this.#s, t.at, t.kind === 'end' ? 'the expression ends too early' : `expected a value, got ${JSON.stringify(t.text)}`);
  }

  #keyword(word: string): boolean {
    const t = this.#peek();
    if (t.kind !== 'word' || t.text.toUpperCase() !== word) return false;
    this.#i++;
    return true;
  }

  #expect(op: string): void {
    const t = this.#peek();
    if (t.kind !== 'op' || t.text !== op) throw syntax(this.#s, t.at, `expected ${JSON.stringify(op)}`);
    this.#i++;
  }

  #peek(): Token {
    return this.#t[this.#i];
  }
}

function header(name: string): Operand {
  return (m) => {
    for (const h of m.record.headers) if (h.key === name) return h.value === null ? null : h.value.toString();
    return null;
  };
}

function own(s: string, t: Token): Operand {
  switch (t.text) {
    case '$key':
      return (m) => (m.record.key === null ? null : m.record.key.toString());
    case '$topic':
      return (m) => m.topic;
    case '$partition':
      return (m) => m.partition;
    case '$timestamp':
      return (m) => m.record.timestamp;
    default:
      throw syntax(s, t.at, `unknown name ${t.text} (the message's own are $key, $topic, $partition and $timestamp)`);
  }
}

/** A comparison in three-valued logic; a header compared with a number is read as one. */
function comparison(op: string, left: Operand, right: Operand): Eval {
  return (m) => {
    let a = left(m);
    let b = right(m);
    if (a === null || b === null) return null;
    if (typeof a === 'number' && typeof b === 'string') b = numeric(b);
    else if (typeof b === 'number' && typeof a === 'string') a = numeric(a);
    else if (typeof a === 'boolean' && typeof b === 'string') b = booleanOf(b);
    else if (typeof b === 'boolean' && typeof a === 'string') a = booleanOf(a);
    if (a === null || b === null) return null;
    if (typeof a !== typeof b) return op === '<>' || op === '!=' ? true : op === '=' ? false : null;
    switch (op) {
      case '=':
        return a === b;
      case '<>':
      case '!=':
        return a !== b;
      case '<':
        return a < b;
      case '<=':
        return a <= b;
      case '>':
        return a > b;
      default:
        return a >= b;
    }
  };
}

/** A header's text as a number: decimal only ('0x10' is not 16). */
function numeric(s: string): number | null {
  if (!/^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/.test(s)) return null;
  const n = Number(s);
  return Number.isFinite(n) ? n : null;
}

/** A header's text as a boolean: 'true' or 'false' in any case. */
function booleanOf(s: string): boolean | null {
  const l = s.trim().toLowerCase();
  return l === 'true' ? true : l === 'false' ? false : null;
}

function likePattern(p: string): RegExp {
  let re = '^';
  for (const c of p) re += c === '%' ? '[\\s\\S]*' : c === '_' ? '[\\s\\S]' : c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`${re}$`);
}
