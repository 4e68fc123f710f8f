// The validation gate: judges a candidate by the spec's thresholds and against
// the champion. Pure, so the workflow can call it and tests can pin it down.
import type { GateSpec } from '../spec/schema';
import type { MetricValue } from '../activities/types';

export type RuleVerdict = 'pass' | 'fail' | 'missing';

export interface GateRuleResult {
  /** The rule in words, e.g. `rmse <= 0.5` or `rmse below champion v3 by >= 0.01`. */
  rule: string;
  kind: 'threshold' | 'champion';
  metric: string;
  /** The candidate's value; absent when the candidate did not report the metric. */
  value?: number;
  /** A threshold rule's bound. */
  threshold?: number;
  /** The champion's value for a comparison rule, when there is a champion with that metric. */
  championValue?: number;
  verdict: RuleVerdict;
}

export interface GateResult {
  passed: boolean;
  rules: GateRuleResult[];
}

export interface GateChampion {
  version: number;
  metrics: MetricValue[];
}

/** Float noise (0.3 - 0.1 = 0.19999999999999998) must not decide a rule. */
const EPSILON = 1e-9;

/** The last finite value reported under `name`: training logs may print a metric several times. */
export function metricValue(metrics: readonly MetricValue[], name: string): number | undefined {
  let found: number | undefined;
  for (const m of metrics) if (m.name === name && Number.isFinite(m.value)) found = m.value;
  return found;
}

function holds(value: number, op: '<' | '<=' | '>' | '>=', bound: number): boolean {
  const tol = EPSILON * Math.max(1, Math.abs(bound));
  switch (op) {
    case '<':
      return value < bound - tol;
    case '<=':
      return value <= bound + tol;
    case '>':
      return value > bound + tol;
    case '>=':
      return value >= bound - tol;
  }
}

/**
 * Every threshold must hold, and the candidate must beat the champion by at
 * least `minImprovement` (absolute) in the comparison's direction. A metric
 * the candidate did not report fails its rule. With no champion, or a
 * champion that never recorded the metric, the comparison passes: there is
 * nothing to beat.
 */
export function evaluateGate(gate: GateSpec, candidateMetrics: readonly MetricValue[], champion: GateChampion | null): GateResult {
  const rules: GateRuleResult[] = [];

  for (const t of gate.thresholds) {
    const value = metricValue(candidateMetrics, t.metric);
    const rule = `${t.metric} ${t.op} ${t.value}`;
    if (value === undefined) {
      rules.push({ rule, kind: 'threshold', metric: t.metric, threshold: t.value, verdict: 'missing' });
    } else {
      rules.push({ rule, kind: 'threshold', metric: t.metric, value, threshold: t.value, verdict: holds(value, t.op, t.value) ? 'pass' : 'fail' });
    }
  }

  const cmp = gate.champion;
  if (cmp) {
    const minImprovement = cmp.minImprovement ?? 0;
    const value = metricValue(candidateMetrics, cmp.metric);
    const championValue = champion ? metricValue(champion.metrics, cmp.metric) : undefined;
    const relation = cmp.direction === 'minimize' ? 'below' : 'above';
    if (value === undefined) {
      rules.push({ rule: `${cmp.metric} ${relation} champion (candidate did not report ${cmp.metric})`, kind: 'champion', metric: cmp.metric, championValue, verdict: 'missing' });
    } else if (!champion) {
      rules.push({ rule: `${cmp.metric} vs champion: no champion yet`, kind: 'champion', metric: cmp.metric, value, verdict: 'pass' });
    } else if (championValue === undefined) {
      rules.push({ rule: `${cmp.metric} vs champion v${champion.version}: champion has no ${cmp.metric} recorded`, kind: 'champion', metric: cmp.metric, value, verdict: 'pass' });
    } else {
      const improvement = cmp.direction === 'minimize' ? championValue - value : value - championValue;
      const passed = improvement >= minImprovement - EPSILON * Math.max(1, Math.abs(championValue));
      rules.push({
        rule: `${cmp.metric} ${relation} champion v${champion.version} (${championValue}) by >= ${minImprovement}`,
        kind: 'champion',
        metric: cmp.metric,
        value,
        championValue,
        verdict: passed ? 'pass' : 'fail',
      });
    }
  }

  return { passed: rules.every((r) => r.verdict === 'pass'), rules };
}

/** One line naming the rules that did not pass, for results and logs. */
export function gateFailureReason(result: GateResult): string {
  const failed = result.rules.filter((r) => r.verdict !== 'pass');
  return failed
    .map((r) => (r.verdict === 'missing' ? `${r.rule}: metric ${r.metric} missing` : `${r.rule}: got ${r.value}`))
    .join('; ');
}
