// Layout checked against apache/kafka LeaveGroupRequest.json / LeaveGroupResponse.json @c97b88d5 (3.5.0), and @1eb76443
import type { ApiSchema } from '../schema';

export const leaveGroup: ApiSchema = {
  key: 13,
  name: 'LeaveGroup',
  versions: '0-4',
  flexible: '4+',
  request: `
groupId string
memberId string 0-2
members []MemberIdentity 3+
  memberId string 3+
  groupInstanceId string 3+ null:3+ default:null
`,
  response: `
throttleTimeMs int32 1+
errorCode int16
members []MemberResponse 3+
  memberId string 3+
  groupInstanceId string 3+ null:3+
  errorCode int16 3+
`,
};
