// Layout checked against apache/kafka DeleteTopicsRequest.json / DeleteTopicsResponse.json @1eb76443
import type { ApiSchema } from '../schema';

export const deleteTopics: ApiSchema = {
  key: 20,
  name: 'DeleteTopics',
  versions: '0-6',
  flexible: '4+',
  request: `
topics []DeleteTopicState 6+
  name string 6+ null:6+
  topicId uuid 6+
topicNames []string 0-5
timeoutMs int32 0+
`,
  response: `
throttleTimeMs int32 1+
responses []DeletableTopicResult 0+
  name string 0+ null:6+
  topicId uuid 6+
  errorCode int16 0+
  errorMessage string 5+ null:5+ default:null
`,
};
