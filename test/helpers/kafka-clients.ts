/** Real Kafka clients for server tests: kcat (librdkafka) as a child process, and a kafkajs produce-then-consume round trip. */
import { spawn } from 'node:child_process';
import { Kafka, logLevel, type KafkaConfig } from 'kafkajs';

/** kcat with `args` and `input` on stdin: its stdout, or a rejection with its stderr. */
export function kcat(args: string[], input = ''): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('kcat', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`kcat ${args.join(' ')} exited ${code}: ${err}`))));
    child.stdin.end(input);
  });
}

/** `-X` pairs for kcat from a map of librdkafka settings. */
export function kcatSettings(settings: Record<string, string>): string[] {
  return Object.entries(settings).flatMap(([k, v]) => ['-X', `${k}=${v}`]);
}

/** kafkajs (with `config`, brokers included) sends `values` to `topic`, then a group consumes them from the start: the values it got. */
export async function kafkajsRoundTrip(config: KafkaConfig, topic: string, values: string[]): Promise<string[]> {
  const kafka = new Kafka({ clientId: 'round-trip', logLevel: logLevel.NOTHING, retry: { retries: 2 }, ...config });
  const producer = kafka.producer();
  await producer.connect();
  try {
    await producer.send({ topic, acks: -1, messages: values.map((value) => ({ value })) });
  } finally {
    await producer.disconnect();
  }
  const consumer = kafka.consumer({ groupId: `round-trip-${topic}`, sessionTimeout: 10_000, heartbeatInterval: 300 });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    const seen: string[] = [];
    await new Promise<void>((resolve, reject) => {
      consumer.run({
        eachMessage: async ({ message }) => {
          seen.push(message.value!.toString());
          if (seen.length === values.length) resolve();
        },
      }).catch(reject);
    });
    return seen;
  } finally {
    await consumer.disconnect();
  }
}
