// Layout checked against apache/kafka JoinGroupRequest.json / JoinGroupResponse.json @c97b88d5 (3.5.0), and @1eb76443
import type { ApiSchema } from '../schema';

export const joinGroup: ApiSchema = {
  key: 11,
  name: 'JoinGroup',
  versions: '0-6',
  flexible: '6+',
  request: `
groupId string
sessionTimeoutMs int32
rebalanceTimeoutMs int32 1+ default:-1
memberId string
groupInstanceId string 5+ null:5+ default:null
protocolType string
protocols []JoinGroupRequestProtocol
  name string
  metadata bytes
`,
  response: `
throttleTimeMs int32 2+
errorCode int16
generationId int32 default:-1
protocolName string
leader string
memberId string
members []JoinGroupResponseMember
  memberId string
  groupInstanceId string 5+ null:5+ default:null
  metadata bytes
`,
};
