// Layout checked against apache/kafka SyncGroupRequest.json / SyncGroupResponse.json @c97b88d5 (3.5.0), and @1eb76443
import type { ApiSchema } from '../schema';

export const syncGroup: ApiSchema = {
  key: 14,
  name: 'SyncGroup',
  versions: '0-4',
  flexible: '4+',
  request: `
groupId string
generationId int32
memberId string
groupInstanceId string 3+ null:3+ default:null
assignments []SyncGroupRequestAssignment
  memberId string
  assignment bytes
`,
  response: `
throttleTimeMs int32 1+
errorCode int16
assignment bytes
`,
};
