// Where /metrics listens: 127.0.0.1:<CHAMP_METRICS_PORT> by default,
// CHAMP_METRICS_ADDRESS for a container, port 0 for none; a taken or bad
// address is one line naming the variable.
import { loadConfig } from '../../src/config';
import { metricsAddress, metricsTelemetry } from '../../src/observability/metrics';
import { APPROVAL_BUCKETS, METRICS, STAGE_BUCKETS } from '../../src/observability/names';
import { explainStartupError } from '../../src/worker';

it('listens on 127.0.0.1 by default, on CHAMP_METRICS_ADDRESS when set, and nowhere for port 0', () => {
  expect(metricsAddress(loadConfig({}))).toBe('127.0.0.1:9464');
  expect(metricsAddress(loadConfig({ CHAMP_METRICS_PORT: '9500' }))).toBe('127.0.0.1:9500');
  expect(metricsAddress(loadConfig({ CHAMP_METRICS_ADDRESS: '0.0.0.0:9464', CHAMP_METRICS_PORT: '9500' }))).toBe('0.0.0.0:9464');
  expect(metricsAddress(loadConfig({ CHAMP_METRICS_PORT: '0' }))).toBeUndefined();
  expect(metricsAddress(loadConfig({ CHAMP_METRICS_ADDRESS: '0.0.0.0:0' }))).toBeUndefined();
  expect(metricsTelemetry(loadConfig({ CHAMP_METRICS_PORT: '0' }))).toEqual({});
});

it("gives the runtime's exporter the address and champ's histogram buckets", () => {
  expect(metricsTelemetry(loadConfig({ CHAMP_METRICS_ADDRESS: '0.0.0.0:9464' }))).toEqual({
    metrics: { prometheus: { bindAddress: '0.0.0.0:9464', histogramBucketOverrides: { [METRICS.stageDuration]: STAGE_BUCKETS, [METRICS.approvalWait]: APPROVAL_BUCKETS } } },
  });
});

it('refuses an address that is not host:port, naming the variable', () => {
  expect(() => loadConfig({ CHAMP_METRICS_ADDRESS: '9464' })).toThrow(/CHAMP_METRICS_ADDRESS="9464": must be host:port/);
});

it('names CHAMP_METRICS_ADDRESS when the address it gives is taken', () => {
  const err = explainStartupError(new Error('Failed to start prometheus metrics exporter: Address already in use (os error 98)'), loadConfig({ CHAMP_METRICS_ADDRESS: '0.0.0.0:9464' }));
  expect(err?.message).toMatch(/^CHAMP_METRICS_ADDRESS=0\.0\.0\.0:9464: 0\.0\.0\.0:9464 is already in use/);
});
