// Layout checked against apache/kafka CreatePartitionsRequest.json / CreatePartitionsResponse.json @1eb76443
import type { ApiSchema } from '../schema';

export const createPartitions: ApiSchema = {
  key: 37,
  name: 'CreatePartitions',
  versions: '0-3',
  flexible: '2+',
  request: `
topics []CreatePartitionsTopic 0+
  name string 0+
  count int32 0+
  assignments []CreatePartitionsAssignment 0+ null:0+
    brokerIds []int32 0+
timeoutMs int32 0+
validateOnly bool 0+
`,
  response: `
throttleTimeMs int32 0+
results []CreatePartitionsTopicResult 0+
  name string 0+
  errorCode int16 0+
  errorMessage string 0+ null:0+ default:null
`,
};
