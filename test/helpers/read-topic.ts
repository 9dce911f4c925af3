/**
 * Everything a topic holds, read committed, through a fresh offset-model group (the crash tests'
 * check after each kill): each message's place, its value as text and its headers as text.
 */
import type { Broker } from '../../lib/index';

export interface ReadMessage {
  partition: number;
  offset: number;
  value: string;
  headers: Record<string, string | undefined>;
}

export async function readTopic(broker: Broker, topic: string): Promise<ReadMessage[]> {
  const reader = broker.consumer({ group: `check-${Date.now()}-${Math.random()}`, topics: topic, start: 'earliest' });
  const out: ReadMessage[] = [];
  try {
    for (;;) {
      const got = await reader.poll(1000, { timeoutMs: 0 });
      if (got.length === 0) break;
      for (const m of got) out.push({ partition: m.partition, offset: m.offset, value: String(m.value), headers: Object.fromEntries(m.headers.map((h) => [h.key, h.value?.toString()])) });
    }
  } finally {
    await reader.close();
  }
  return out;
}
