// Reads deploy/grafana/champ.json: its panels and the metric names their queries use.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

export const DASHBOARD_PATH = resolve(__dirname, '../../deploy/grafana/champ.json');

export interface Target {
  refId: string;
  expr: string;
  datasource?: { type?: string; uid?: string };
}

export interface Panel {
  id: number;
  title: string;
  type: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { type?: string; uid?: string };
  targets: Target[];
}

export interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: Array<{ name: string; type: string; query?: unknown }> };
}

export function loadDashboard(): Dashboard {
  return JSON.parse(readFileSync(DASHBOARD_PATH, 'utf8')) as Dashboard;
}

/** PromQL functions, keywords and label names: what a metric name is not. */
const NOT_METRICS = new Set(['sum', 'by', 'without', 'rate', 'increase', 'histogram_quantile', 'label_values', 'le', 'avg', 'max', 'min', 'count']);

/** The metric names a PromQL expression reads (identifiers outside braces, strings and ranges, that are not functions). */
export function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/"[^"]*"/g, ' ')
    .replace(/\((?:[a-z_,\s]*)\)(?=\s*\()/g, ' '); // "by (le, stage)" label lists
  const names = bare.match(/[a-zA-Z_:][a-zA-Z0-9_:]*/g) ?? [];
  return [...new Set(names.filter((n) => !NOT_METRICS.has(n) && !/^\d/.test(n)))];
}

/** Every metric name any panel of the dashboard reads. */
export function dashboardMetrics(dashboard: Dashboard = loadDashboard()): string[] {
  return [...new Set(dashboard.panels.flatMap((p) => p.targets.flatMap((t) => metricNames(t.expr))))].sort();
}
