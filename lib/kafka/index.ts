/** The Kafka-protocol server (package subpath `sluice/kafka`). */
export { Server, REQUEST_BYTES_MAX_DEFAULT } from './server';
export type { ServerOptions, ServerStats } from './server';
export type { ConnectionProblem } from './connection';
export type { QuotaOptions, QuotaRates, PrincipalQuotas } from './quotas/quota-config';
export type { QuotaStats, QuotaKind } from './quotas/client-quotas';
