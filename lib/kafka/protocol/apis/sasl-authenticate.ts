// Layout checked against apache/kafka SaslAuthenticateRequest.json / SaslAuthenticateResponse.json @0effb0fe
import type { ApiSchema } from '../schema';

export const saslAuthenticate: ApiSchema = {
  key: 36,
  name: 'SaslAuthenticate',
  versions: '0-2',
  flexible: '2+',
  request: `
authBytes bytes
`,
  response: `
errorCode int16
errorMessage string null:0+
authBytes bytes
sessionLifetimeMs int64 1+
`,
};
