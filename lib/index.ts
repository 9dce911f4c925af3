export { Log } from './storage/log';
export type {
  AbortedTransaction,
  AppendOptions,
  BatchProducer,
  Confirm,
  ConfirmCallback,
  Bytes,
  HeadersInput,
  LogOptions,
  LogRecord,
  Message,
  RawSlice,
  ReadOptions,
  ReadResult,
  RecordHeader,
  RecoveryReport,
  RetentionReport,
  SyncPolicy,
  TxnMarker,
  WritePath,
} from './storage/log';
export { ErrorCode, SluiceError } from './errors';
export { faultInjection } from './storage/fault-injection';
export type { FaultErrno, FaultKind } from './storage/fault-injection';
export { Broker } from './broker/broker';
export type { BrokerOptions, BrokerRecovery, PartitionRecovery, ResetTarget } from './broker/broker';
export type { PartitionReopen, PartitionReopenOutcome } from './broker/topic/partition-reopen';
export { Consumer } from './broker/consume/consumer';
export type { Handler } from './broker/consume/consumer';
export type { CommitEntry, ConsumerOptions, PartitionRef, PollOptions, RunOptions, SeekTarget, StartPosition } from './broker/consume/consumer-options';
export { Producer } from './broker/produce/producer';
export type { ProducerMessage, ProducerOptions, SendConfirm, SendOptions } from './broker/produce/producer';
export { AckMessage, ConsumedMessage, OffsetMessage } from './broker/consume/consumed-message';
export type { NackOptions } from './broker/consume/consumed-message';
export type { StateConfirm, StateDurability } from './broker/group/state-confirm';
export { keyPartition, murmur2 } from './broker/produce/partitioner';
export type { Partitioner, PartitionerInput } from './broker/produce/partitioner';
export { systemClock } from './broker/time/clock';
export type { Clock, TimerHandle } from './broker/time/clock';
export { ManualClock } from './broker/time/manual-clock';
export { CODEC_HEADER } from './broker/codec/value-codec';
export type { TopicConfig, TopicConfigInput } from './broker/topic/topic-config';
export type { DeliveryModel } from './broker/group/group-state';
export type {
  BrokerDescription,
  GroupDescription,
  GroupPartitionDescription,
  MemberDescription,
  PartitionDescription,
  TopicDescription,
} from './broker/describe';
export { PartitionAccess } from './broker/topic/partition-access';
export { Transaction } from './broker/txn/transaction';
export { DEAD_LETTER_HEADERS } from './broker/delivery/ack/dead-letters';
export type { DeadLetter, RedriveOptions, RedriveResult } from './broker/delivery/ack/redrive';
export type { RetryBackoffInput } from './broker/delivery/ack/retry-backoff';
export type { TransactionCommit, TransactionSend } from './broker/txn/transaction';
export type { PartitionOffsets } from './broker/topic/partition-access';
export { DELAY_HEADERS, DELIVER_AT_MAX } from './broker/delay/due-time';
export type { DelayDescription } from './broker/delay/delay-store';
export { SCHEDULE_HEADERS } from './broker/schedule/scheduler';
export type { ScheduleDescription, ScheduleOptions } from './broker/schedule/scheduler';
export { HALF_HEADERS, PreparedMessage } from './broker/txn/half-messages';
export type { CheckAnswer, CheckOptions, HalfCommit, HalfDescription, HalfMessageCheck, TransactionCheck } from './broker/txn/half-messages';
export type { Explanation, ExplainQuery, GroupPosition, MessageState } from './broker/explain/explanation';
