// Layout checked against apache/kafka SaslHandshakeRequest.json / SaslHandshakeResponse.json @1af943b7
import type { ApiSchema } from '../schema';

export const saslHandshake: ApiSchema = {
  key: 17,
  name: 'SaslHandshake',
  versions: '0-1',
  flexible: 'none',
  request: `
mechanism string
`,
  response: `
errorCode int16
mechanisms []string
`,
};
