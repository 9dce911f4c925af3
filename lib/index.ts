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
} from './storage/log';
export { ErrorCode, SluiceError } from './errors';
export { faultInjection } from './storage/fault-injection';
export type { FaultErrno, FaultKind } from './storage/fault-injection';
