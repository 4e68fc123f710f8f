// deploy/grafana/champ.json against the structure Grafana's dashboard schema
// requires, and against the metrics: every champ metric has a panel, and every
// panel reads a metric the worker exports (the end-to-end metrics test checks
// the same names on a real /metrics).
import { METRICS } from '../../src/observability/names';
import { dashboardMetrics, loadDashboard, metricNames } from './dashboard';

const dashboard = loadDashboard();
/** The SDK's own metrics the dashboard reads (names as the Temporal runtime's exporter writes them). */
const SDK_METRICS = ['temporal_workflow_completed', 'temporal_activity_execution_latency_bucket'];
const HISTOGRAMS: string[] = [METRICS.stageDuration, METRICS.approvalWait];

it('has the fields a dashboard needs: uid, title, schemaVersion, time, panels with ids, types, grid positions and queries', () => {
  expect(dashboard).toMatchObject({ uid: expect.stringMatching(/^[a-z0-9-]{1,40}$/), title: expect.any(String), schemaVersion: expect.any(Number) });
  expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
  expect(dashboard.panels.length).toBeGreaterThan(0);
  const ids = dashboard.panels.map((p) => p.id);
  expect(new Set(ids).size).toBe(ids.length);
  for (const p of dashboard.panels) {
    expect([p.title, ['timeseries', 'stat', 'piechart', 'table', 'bargauge', 'gauge', 'heatmap']]).toEqual([p.title, expect.arrayContaining([p.type])]);
    const { x, y, w, h } = p.gridPos;
    expect([p.title, x >= 0 && y >= 0 && w > 0 && h > 0 && x + w <= 24]).toEqual([p.title, true]);
    expect(p.targets.length).toBeGreaterThan(0);
    for (const t of p.targets) expect([p.title, t.refId, t.expr.length > 0, t.datasource?.uid]).toEqual([p.title, expect.stringMatching(/^[A-Z]$/), true, '${datasource}']);
  }
});

it('lays its panels out without overlap', () => {
  const cells = new Map<string, string>();
  for (const p of dashboard.panels) {
    for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++) {
      for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
        const key = `${x},${y}`;
        expect([key, cells.get(key)]).toEqual([key, undefined]);
        cells.set(key, p.title);
      }
    }
  }
});

it('defines the variables its queries use: the Prometheus data source and the pipeline filter', () => {
  const vars = dashboard.templating.list.map((v) => v.name);
  expect(vars).toEqual(expect.arrayContaining(['datasource', 'pipeline']));
  const used = new Set(dashboard.panels.flatMap((p) => p.targets.flatMap((t) => [...t.expr.matchAll(/\$([a-z_]+)/g)].map((m) => m[1]!))));
  for (const name of used) if (!name.startsWith('_')) expect(vars).toContain(name);
});

it('reads only metrics the worker exports, and has a panel for each of champ’s', () => {
  const known = new Set([...Object.values(METRICS).map((m) => (HISTOGRAMS.includes(m) ? `${m}_bucket` : m)), ...SDK_METRICS]);
  const used = dashboardMetrics(dashboard);
  expect(used.filter((m) => !known.has(m))).toEqual([]);
  expect([...known].filter((m) => !used.includes(m))).toEqual([]);
});

it('finds metric names in PromQL, not functions or labels', () => {
  expect(metricNames('histogram_quantile(0.95, sum by (le, stage) (rate(champ_stage_duration_seconds_bucket{pipeline=~"$pipeline"}[5m])))')).toEqual(['champ_stage_duration_seconds_bucket']);
  expect(metricNames('sum by (outcome) (increase(champ_pipelines_total[$__range]))')).toEqual(['champ_pipelines_total']);
});
