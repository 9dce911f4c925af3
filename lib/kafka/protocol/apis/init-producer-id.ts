// Layout checked against apache/kafka InitProducerIdRequest.json / InitProducerIdResponse.json @771b9576 (3.8.0)
import type { ApiSchema } from '../schema';

export const initProducerId: ApiSchema = {
  key: 22,
  name: 'InitProducerId',
  versions: '0-4',
  flexible: '2+',
  request: `
transactionalId string null:0+
transactionTimeoutMs int32
producerId int64 3+ default:-1
producerEpoch int16 3+ default:-1
`,
  response: `
throttleTimeMs int32
errorCode int16
producerId int64 default:-1
producerEpoch int16
`,
};
