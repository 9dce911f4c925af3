/** `sluice/metrics`: Prometheus metrics of a Broker (and its Kafka Server), and their HTTP endpoint. */
export { MetricsServer, type MetricsServerOptions } from './metrics-server';
export { SluiceMetrics, SLUICE_METRIC_NAMES } from './sluice-metrics';
