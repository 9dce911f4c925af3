/** The Kafka-protocol server (package subpath `sluice/kafka`). */
export { Server, REQUEST_BYTES_MAX_DEFAULT } from './server';
export type { ServerOptions, ServerStats } from './server';
export type { ConnectionProblem } from './connection';
export type { Session } from './handlers/handler';
export { addUser, removeUser, listUsers } from './security/credential-store';
export type { AddUserOptions, UserInfo } from './security/credential-store';
export type { TlsOptions } from './security/tls';
export type { SaslOptions } from './security/sasl/authenticator';
