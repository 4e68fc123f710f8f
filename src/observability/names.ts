// The names of champ's own metrics, shared by the code that records them (the
// workflows, the AWS client middleware), the runtime's bucket settings and the
// tests that check the Grafana dashboard. No Node imports: workflow code uses it.

export const METRICS = {
  /** Counter: pipelines that ended, labelled pipeline and outcome (deployed, rolled-back, failed...). */
  pipelines: 'champ_pipelines_total',
  /** Histogram (seconds): how long each stage took, labelled pipeline and stage. */
  stageDuration: 'champ_stage_duration_seconds',
  /** Histogram (seconds): from the candidate's registration to the reviewer's decision (or its timeout). */
  approvalWait: 'champ_approval_wait_seconds',
  /** Counter: runs the quality gate rejected, labelled pipeline. */
  gateRejections: 'champ_gate_rejections_total',
  /** Counter: deployments rolled back after verification failed, labelled pipeline. */
  rollbacks: 'champ_rollbacks_total',
  /** Counter: AWS requests (each attempt), labelled service, operation and result (ok, error, throttled). */
  awsRequests: 'champ_aws_requests_total',
  /** Counter: AWS requests refused by throttling, labelled service and operation. */
  awsThrottles: 'champ_aws_throttles_total',
} as const;

export type MetricName = (typeof METRICS)[keyof typeof METRICS];

/**
 * Bucket bounds in seconds. A stage lasts from a second (validating) to hours
 * (training); an approval waits minutes to days.
 */
export const STAGE_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 28800, 86400];
export const APPROVAL_BUCKETS = [10, 60, 300, 900, 1800, 3600, 7200, 14400, 28800, 86400, 172800, 345600, 604800];
