// Layout checked against apache/kafka DescribeConfigsRequest.json / DescribeConfigsResponse.json @1eb76443
import type { ApiSchema } from '../schema';

export const describeConfigs: ApiSchema = {
  key: 32,
  name: 'DescribeConfigs',
  versions: '0-4',
  flexible: '4+',
  request: `
resources []DescribeConfigsResource 0+
  resourceType int8 0+
  resourceName string 0+
  configurationKeys []string 0+ null:0+
includeSynonyms bool 1+ default:false
includeDocumentation bool 3+ default:false
`,
  response: `
throttleTimeMs int32 0+
results []DescribeConfigsResult 0+
  errorCode int16 0+
  errorMessage string 0+ null:0+
  resourceType int8 0+
  resourceName string 0+
  configs []DescribeConfigsResourceResult 0+
    name string 0+
    value string 0+ null:0+
    readOnly bool 0+
    isDefault bool 0
    configSource int8 1+ default:-1
    isSensitive bool 0+
    synonyms []DescribeConfigsSynonym 1+
      name string 1+
      value string 1+ null:0+
      source int8 1+
    configType int8 3+ default:0
    documentation string 3+ null:0+
`,
};
