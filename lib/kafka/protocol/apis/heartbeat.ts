// Layout checked against apache/kafka HeartbeatRequest.json / HeartbeatResponse.json @c97b88d5 (3.5.0), and @1eb76443
import type { ApiSchema } from '../schema';

export const heartbeat: ApiSchema = {
  key: 12,
  name: 'Heartbeat',
  versions: '0-4',
  flexible: '4+',
  request: `
groupId string
generationId int32
memberId string
groupInstanceId string 3+ null:3+ default:null
`,
  response: `
throttleTimeMs int32 1+
errorCode int16
`,
};
