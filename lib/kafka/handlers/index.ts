/** Every API the server serves, by key; protocol/versions.ts says which versions of each. */
import { createPartitionsHandler, createTopicsHandler, deleteTopicsHandler, describeConfigsHandler } from './admin-topics';
import { apiVersionsHandler } from './api-versions';
import { fetchHandler } from './fetch';
import { describeGroupsHandler, findCoordinatorHandler, heartbeatHandler, listGroupsHandler, joinGroupHandler, leaveGroupHandler, offsetCommitHandler, offsetFetchHandler, syncGroupHandler } from './groups';
import { initProducerIdHandler } from './init-producer-id';
import { listOffsetsHandler } from './list-offsets';
import { produceHandler } from './produce';
import { saslAuthenticateHandler, saslHandshakeHandler } from './sasl';
import { addOffsetsToTxnHandler, addPartitionsToTxnHandler, endTxnHandler, txnOffsetCommitHandler } from './transactions';
import type { ApiHandler } from './handler';
import { metadataHandler } from './metadata';

export const HANDLERS: ReadonlyMap<number, ApiHandler> = new Map<number, ApiHandler>([apiVersionsHandler, metadataHandler, produceHandler, fetchHandler, listOffsetsHandler, createTopicsHandler, deleteTopicsHandler, describeConfigsHandler, findCoordinatorHandler, joinGroupHandler, syncGroupHandler, heartbeatHandler, leaveGroupHandler, offsetCommitHandler, offsetFetchHandler, describeGroupsHandler, listGroupsHandler, initProducerIdHandler, createPartitionsHandler, addPartitionsToTxnHandler, addOffsetsToTxnHandler, endTxnHandler, txnOffsetCommitHandler, saslHandshakeHandler, saslAuthenticateHandler].map((h) => [h.key, h]));
