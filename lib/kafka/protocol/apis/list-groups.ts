// Layout checked against apache/kafka ListGroupsRequest.json / ListGroupsResponse.json @1eb76443
import type { ApiSchema } from '../schema';

export const listGroups: ApiSchema = {
  key: 16,
  name: 'ListGroups',
  versions: '0-4',
  flexible: '3+',
  request: `
statesFilter []string 4+
`,
  response: `
throttleTimeMs int32 1+
errorCode int16 0+
groups []ListedGroup 0+
  groupId string 0+
  protocolType string 0+
  groupState string 4+
`,
};
