export { Log } from './storage/log';
export type {
  AppendOptions,
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
} from './storage/log';
export { ErrorCode, SluiceError } from './errors';
