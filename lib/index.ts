export { Log } from './storage/log';
export type {
  AppendOptions,
  Confirm,
  ConfirmCallback,
  Bytes,
  HeadersInput,
  LogOptions,
  LogRecord,
  Message,
  RawSlice,
  ReadOptions,
  RecordHeader,
  RecoveryReport,
  RetentionReport,
  SyncPolicy,
  WritePath,
} from './storage/log';
export { ErrorCode, SluiceError } from './errors';
export { faultInjection } from './storage/fault-injection';
export type { FaultErrno, FaultKind } from './storage/fault-injection';
export { Broker } from './broker/broker';
export type { BrokerOptions } from './broker/broker';
export { Consumer } from './broker/consumer';
export type { Handler } from './broker/consumer';
export type { CommitEntry, ConsumerOptions, PartitionRef, PollOptions, RunOptions, SeekTarget, StartPosition } from './broker/consumer-options';
export { Producer } from './broker/producer';
export type { ProducerMessage, ProducerOptions, SendConfirm, SendOptions } from './broker/producer';
export { AckMessage, ConsumedMessage, OffsetMessage } from './broker/consumed-message';
export type { NackOptions } from './broker/consumed-message';
export type { StateConfirm, StateDurability } from './broker/state-confirm';
export { keyPartition, murmur2 } from './broker/partitioner';
export type { Partitioner, PartitionerInput } from './broker/partitioner';
export { systemClock } from './broker/clock';
export type { Clock, TimerHandle } from './broker/clock';
export { ManualClock } from './broker/manual-clock';
export { CODEC_HEADER } from './broker/value-codec';
export type { TopicConfig, TopicConfigInput } from './broker/topic-config';
export type { DeliveryModel } from './broker/group-state';
export type {
  BrokerDescription,
  GroupDescription,
  GroupPartitionDescription,
  MemberDescription,
  PartitionDescription,
  TopicDescription,
} from './broker/describe';
