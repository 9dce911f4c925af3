/**
 * Every API table, by key. The tables are Sluice's own notation (../schema.ts) for the wire layouts
 * of Apache Kafka's protocol (each file names the Kafka message definitions it was checked
 * against); scripts/gen-kafka-codecs.ts turns them into ../generated/.
 */
import type { ApiSchema } from '../schema';
import { addOffsetsToTxn } from './add-offsets-to-txn';
import { addPartitionsToTxn } from './add-partitions-to-txn';
import { apiVersions } from './api-versions';
import { createPartitions } from './create-partitions';
import { createTopics } from './create-topics';
import { deleteTopics } from './delete-topics';
import { describeConfigs } from './describe-configs';
import { describeGroups } from './describe-groups';
import { endTxn } from './end-txn';
import { fetch } from './fetch';
import { findCoordinator } from './find-coordinator';
import { heartbeat } from './heartbeat';
import { initProducerId } from './init-producer-id';
import { joinGroup } from './join-group';
import { leaveGroup } from './leave-group';
import { listGroups } from './list-groups';
import { listOffsets } from './list-offsets';
import { metadata } from './metadata';
import { offsetCommit } from './offset-commit';
import { offsetFetch } from './offset-fetch';
import { produce } from './produce';
import { saslAuthenticate } from './sasl-authenticate';
import { saslHandshake } from './sasl-handshake';
import { syncGroup } from './sync-group';
import { txnOffsetCommit } from './txn-offset-commit';

export const ALL_APIS: readonly ApiSchema[] = [
  produce,
  fetch,
  listOffsets,
  metadata,
  offsetCommit,
  offsetFetch,
  findCoordinator,
  joinGroup,
  heartbeat,
  leaveGroup,
  syncGroup,
  describeGroups,
  listGroups,
  apiVersions,
  createTopics,
  deleteTopics,
  initProducerId,
  addPartitionsToTxn,
  addOffsetsToTxn,
  endTxn,
  txnOffsetCommit,
  describeConfigs,
  createPartitions,
  saslHandshake,
  saslAuthenticate,
];
