// Layout checked against apache/kafka MetadataRequest.json / MetadataResponse.json @771b9576 (3.8.0)
import type { ApiSchema } from '../schema';

export const metadata: ApiSchema = {
  key: 3,
  name: 'Metadata',
  versions: '0-9',
  flexible: '9+',
  request: `
topics []MetadataRequestTopic null:1+
  name string
allowAutoTopicCreation bool 4+ default:true
includeClusterAuthorizedOperations bool 8-10
includeTopicAuthorizedOperations bool 8+
`,
  response: `
throttleTimeMs int32 3+
brokers []MetadataResponseBroker
  nodeId int32
  host string
  port int32
  rack string 1+ null:1+ default:null
clusterId string 2+ null:2+ default:null
controllerId int32 1+ default:-1
topics []MetadataResponseTopic
  errorCode int16
  name string
  isInternal bool 1+ default:false
  partitions []MetadataResponsePartition
    errorCode int16
    partitionIndex int32
    leaderId int32
    leaderEpoch int32 7+ default:-1
    replicaNodes []int32
    isrNodes []int32
    offlineReplicas []int32 5+
  topicAuthorizedOperations int32 8+ default:-2147483648
clusterAuthorizedOperations int32 8-10 default:-2147483648
`,
};
