/**
 * Topic patterns for subscriptions, in the RabbitMQ topic-exchange / NATS style: a pattern is
 * words separated by '.', where the word '*' matches exactly one word and '#' matches zero or
 * more words (`orders.*` matches `orders.eu` but not `orders` or `orders.eu.paid`; `logs.#`
 * matches `logs`, `logs.app` and `logs.app.err`). Topic names never contain '*' or '#' (see
 * topic-config.ts), so any name with one is a pattern.
 *
 * A pattern never matches a dead-letter topic (a name ending in `.dlq`) unless its own last word
 * is `dlq`: `orders.#` with dead letters on would otherwise consume its own dead letters.
 */
const WORD = /^[a-zA-Z0-9_-]+$/;
const DEAD_LETTER_WORD = 'dlq';

export function isPattern(name: string): boolean {
  return name.includes('*') || name.includes('#');
}

export class TopicPattern {
  readonly source: string;
  readonly #words: readonly string[];

  constructor(source: string) {
    if (typeof source !== 'string' || source.length === 0 || source.length > 249) throw new RangeError(`invalid topic pattern ${JSON.stringify(source)}: 1 to 249 characters`);
    const words = source.split('.');
    for (const w of words) {
      if (w !== '*' && w !== '#' && !WORD.test(w)) {
        throw new RangeError(`invalid topic pattern ${JSON.stringify(source)}: each word between dots is * (one word), # (any number of words) or letters, digits, _ and -`);
      }
    }
    this.source = source;
    this.#words = words;
  }

  matches(topic: string): boolean {
    const words = topic.split('.');
    if (words[words.length - 1] === DEAD_LETTER_WORD && this.#words[this.#words.length - 1] !== DEAD_LETTER_WORD) return false;
    return matchWords(this.#words, 0, words, 0, new Map());
  }
}

/** Whether pattern words from `i` match topic words from `j` (memoised: '#' backtracks). */
function matchWords(p: readonly string[], i: number, t: readonly string[], j: number, memo: Map<number, boolean>): boolean {
  const k = i * (t.length + 1) + j;
  const known = memo.get(k);
  if (known !== undefined) return known;
  let result: boolean;
  if (i === p.length) result = j === t.length;
  else if (p[i] === '#') result = matchWords(p, i + 1, t, j, memo) || (j < t.length && matchWords(p, i, t, j + 1, memo));
  else result = j < t.length && (p[i] === '*' || p[i] === t[j]) && matchWords(p, i + 1, t, j + 1, memo);
  memo.set(k, result);
  return result;
}
