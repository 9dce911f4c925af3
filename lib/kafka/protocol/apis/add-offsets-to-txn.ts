// Layout checked against apache/kafka AddOffsetsToTxnRequest.json / AddOffsetsToTxnResponse.json @1eb76443
import type { ApiSchema } from '../schema';

export const addOffsetsToTxn: ApiSchema = {
  key: 25,
  name: 'AddOffsetsToTxn',
  versions: '0-4',
  flexible: '3+',
  request: `
transactionalId string
producerId int64
producerEpoch int16
groupId string
`,
  response: `
throttleTimeMs int32
errorCode int16
`,
};
