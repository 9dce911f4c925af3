/** The Kafka-protocol server (package subpath `sluice/kafka`). */
export { Server, REQUEST_BYTES_MAX_DEFAULT } from './server';
export type { Authorization, ServerOptions, ServerStats } from './server';
export type { ConnectionProblem } from './connection';
