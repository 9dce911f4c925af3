/**
 * The record layout of a message the broker holds in a log of its own before it enters its topic
 * (the delay store's delayed messages, the half messages of prepared transactions): the message
 * as its topic will store it (key, value, headers), preceded by three headers of the holder's
 * names:
 *   <prefix>.topic      the topic it goes to
 *   <prefix>.partition  its partition (decimal)
 *   <prefix>.timestamp  the timestamp the sender gave (decimal ms), or a null value: then the
 *                       message gets the held record's own timestamp
 * The held record's timestamp is the holder's (the delay store: the due time; half messages: the
 * time prepared). They are stripped when it is released.
 */
import { ErrorCode, SluiceError } from '../../errors';
import type { LogRecord, Message } from '../../storage/log';

export interface HeldNames {
  readonly topic: string;
  readonly partition: string;
  readonly timestamp: string;
}

/** The held record of `message` bound for `topic`/`partition`, stamped `timestamp`. */
export function heldRecord(names: HeldNames, topic: string, partition: number, message: Message, timestamp: number): Message {
  const own: [string, string | Uint8Array | null][] = [
    [names.topic, topic],
    [names.partition, String(partition)],
    [names.timestamp, message.timestamp === undefined ? null : String(message.timestamp)],
  ];
  const h = message.headers;
  if (Array.isArray(h)) for (const pair of h as ReadonlyArray<readonly [string, string | Uint8Array | null]>) own.push([pair[0], pair[1]]);
  else if (h !== undefined) for (const [k, v] of Object.entries(h as Record<string, string | Uint8Array | null>)) own.push([k, v]);
  return { key: message.key ?? null, value: message.value, headers: own, timestamp };
}

/** Where a held record goes. */
export function heldTarget(names: HeldNames, r: LogRecord): { topic: string; partition: number } {
  const t = r.headers[0];
  const p = r.headers[1];
  if (t?.key !== names.topic || t.value === null || p?.key !== names.partition || p.value === null) throw heldCorrupt(r, 'has no destination');
  return { topic: t.value.toString(), partition: Number(p.value.toString()) };
}

/** The message a held record releases into its topic. */
export function releasedMessage(names: HeldNames, r: LogRecord): Message {
  const ts = r.headers[2];
  if (ts?.key !== names.timestamp) throw heldCorrupt(r, 'has no timestamp header');
  const timestamp = ts.value === null ? r.timestamp : Number(ts.value.toString());
  return { key: r.key, value: r.value, headers: r.headers.slice(3).map((h) => [h.key, h.value] as [string, Buffer | null]), timestamp };
}

function heldCorrupt(r: LogRecord, what: string): SluiceError {
  return new SluiceError(`held record at offset ${r.offset} ${what}`, ErrorCode.CORRUPT);
}
