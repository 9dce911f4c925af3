// Layout checked against apache/kafka EndTxnRequest.json / EndTxnResponse.json @1eb76443 (version 5, KIP-890's epoch bump per transaction, is not described)
import type { ApiSchema } from '../schema';

export const endTxn: ApiSchema = {
  key: 26,
  name: 'EndTxn',
  versions: '0-4',
  flexible: '3+',
  request: `
transactionalId string
producerId int64
producerEpoch int16
committed bool
`,
  response: `
throttleTimeMs int32
errorCode int16
`,
};
