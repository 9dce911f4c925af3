# Client of test/kafka/transactions.test.ts: librdkafka's transactional producer (Debian's
# python3-confluent-kafka) against the server under test. Commits two records, aborts one, then
# consumes the committed ones as group "py-g" (read_committed) and in one transaction produces
# an output and commits the group's offset past them (send_offsets_to_transaction: AddOffsetsToTxn
# and TxnOffsetCommit v3 with the member's generation). Prints one JSON line of what it saw.
import json
import sys

from confluent_kafka import Consumer, Producer, TopicPartition

bootstrap = sys.argv[1]
producer = Producer({'bootstrap.servers': bootstrap, 'transactional.id': 'py-tx', 'linger.ms': 0})
producer.init_transactions(20)
producer.begin_transaction()
producer.produce('py', value=b'c1')
producer.produce('py', value=b'c2')
producer.commit_transaction(20)
producer.begin_transaction()
producer.produce('py', value=b'x1')
producer.flush(20)
producer.abort_transaction(20)

consumer = Consumer({'bootstrap.servers': bootstrap, 'group.id': 'py-g', 'enable.auto.commit': False,
                     'auto.offset.reset': 'earliest', 'isolation.level': 'read_committed'})
consumer.subscribe(['py'])
got = []
last = None
while len(got) < 2:
    m = consumer.poll(1.0)
    if m is None or m.error():
        continue
    got.append(m.value().decode())
    last = m
producer.begin_transaction()
producer.produce('py-out', value=b'done')
producer.send_offsets_to_transaction([TopicPartition('py', last.partition(), last.offset() + 1)],
                                     consumer.consumer_group_metadata(), 20)
producer.commit_transaction(20)
committed = consumer.committed([TopicPartition('py', 0)], 20)[0].offset
consumer.close()
print(json.dumps({'got': got, 'committed': committed}))
