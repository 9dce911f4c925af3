import type { ApiSchema } from '../schema';

export const apiVersions: ApiSchema = {
  key: 18,
  name: 'ApiVersions',
  versions: '0-3',
  flexible: '3+',
  request: `
clientSoftwareName string 3+
clientSoftwareVersion string 3+
`,
  response: `
errorCode int16
apiKeys []ApiVersion
  apiKey int16
  minVersion int16
  maxVersion int16
throttleTimeMs int32 1+
supportedFeatures []SupportedFeatureKey 3+ tag:0
  name string
  minVersion int16
  maxVersion int16
finalizedFeaturesEpoch int64 3+ tag:1 default:-1
finalizedFeatures []FinalizedFeatureKey 3+ tag:2
  name string
  maxVersionLevel int16
  minVersionLevel int16
zkMigrationReady bool 3+ tag:3 default:false
`,
};
