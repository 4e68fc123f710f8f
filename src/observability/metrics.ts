// Where the worker's Prometheus endpoint listens, and the runtime's metrics
// settings: the SDK's own metrics and champ's (src/observability/names.ts) are
// served together on /metrics by the Temporal runtime's exporter.
import type { TelemetryOptions } from '@temporalio/worker';
import { APPROVAL_BUCKETS, METRICS, STAGE_BUCKETS } from './names';

export interface MetricsSettings {
  CHAMP_METRICS_PORT: number;
  CHAMP_METRICS_ADDRESS?: string;
}

/**
 * The address /metrics listens on, or undefined when the metrics are off.
 * CHAMP_METRICS_ADDRESS (e.g. 0.0.0.0:9464 in a container) wins; otherwise
 * 127.0.0.1 and CHAMP_METRICS_PORT. Port 0 in either turns the metrics off.
 */
export function metricsAddress(settings: MetricsSettings): string | undefined {
  const address = settings.CHAMP_METRICS_ADDRESS ?? `127.0.0.1:${settings.CHAMP_METRICS_PORT}`;
  return /:0+$/.test(address) ? undefined : address;
}

/** The variable to name when the address is wrong or taken. */
export function metricsVariable(settings: MetricsSettings): string {
  return settings.CHAMP_METRICS_ADDRESS !== undefined ? `CHAMP_METRICS_ADDRESS=${settings.CHAMP_METRICS_ADDRESS}` : `CHAMP_METRICS_PORT=${settings.CHAMP_METRICS_PORT}`;
}

/** The runtime's `telemetryOptions.metrics`, or nothing when the metrics are off. */
export function metricsTelemetry(settings: MetricsSettings): Pick<TelemetryOptions, 'metrics'> {
  const bindAddress = metricsAddress(settings);
  if (!bindAddress) return {};
  return {
    metrics: {
      prometheus: {
        bindAddress,
        histogramBucketOverrides: { [METRICS.stageDuration]: STAGE_BUCKETS, [METRICS.approvalWait]: APPROVAL_BUCKETS },
      },
    },
  };
}
