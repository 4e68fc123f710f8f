// evaluateGate: thresholds, missing metrics and the champion comparison.
import { evaluateGate, gateFailureReason, type GateChampion } from '../../src/workflows/gate';
import type { GateSpec } from '../../src/spec/schema';

const m = (value: number, name = 'rmse') => [{ name, value }];
const champion = (value: number, version = 3): GateChampion => ({ version, metrics: m(value) });

describe('evaluateGate thresholds', () => {
  it.each([
    ['<', 0.5, 0.4, 'pass'],
    ['<', 0.5, 0.5, 'fail'],
    ['<=', 0.5, 0.5, 'pass'],
    ['<=', 0.5, 0.51, 'fail'],
    ['>', 0.9, 0.91, 'pass'],
    ['>', 0.9, 0.9, 'fail'],
    ['>=', 0.9, 0.9, 'pass'],
    ['>=', 0.9, 0.89, 'fail'],
  ] as const)('%s %d with value %d gives %s', (op, bound, value, verdict) => {
    const result = evaluateGate({ thresholds: [{ metric: 'rmse', op, value: bound }] }, m(value), null);
    expect(result.rules).toEqual([{ rule: `rmse ${op} ${bound}`, kind: 'threshold', metric: 'rmse', value, threshold: bound, verdict }]);
    expect(result.passed).toBe(verdict === 'pass');
  });

  it('does not let float noise decide a bound the value meets exactly', () => {
    expect(evaluateGate({ thresholds: [{ metric: 'rmse', op: '<=', value: 0.2 }] }, m(0.3 - 0.1), null).passed).toBe(true);
  });

  it('fails a rule whose metric the candidate did not report, and names it in the reason', () => {
    const result = evaluateGate({ thresholds: [{ metric: 'auc', op: '>=', value: 0.8 }] }, m(0.1), null);
    expect(result.passed).toBe(false);
    expect(result.rules[0]).toMatchObject({ metric: 'auc', verdict: 'missing' });
    expect(result.rules[0].value).toBeUndefined();
    expect(gateFailureReason(result)).toBe('auc >= 0.8: metric auc missing');
  });

  it('judges the last value of a metric reported several times, ignoring non-finite ones', () => {
    const metrics = [
      { name: 'rmse', value: 0.9 },
      { name: 'rmse', value: 0.3 },
      { name: 'rmse', value: Number.NaN },
    ];
    expect(evaluateGate({ thresholds: [{ metric: 'rmse', op: '<', value: 0.5 }] }, metrics, null).rules[0]).toMatchObject({ value: 0.3, verdict: 'pass' });
  });

  it('passes with no rules at all', () => {
    expect(evaluateGate({ thresholds: [] }, [], null)).toEqual({ passed: true, rules: [] });
  });
});

describe('evaluateGate champion comparison', () => {
  const minimize = (minImprovement: number): GateSpec => ({ thresholds: [], champion: { metric: 'rmse', direction: 'minimize', minImprovement } });
  const maximize = (minImprovement: number): GateSpec => ({ thresholds: [], champion: { metric: 'rmse', direction: 'maximize', minImprovement } });

  it('passes as "no champion yet" when there is no champion', () => {
    const result = evaluateGate(minimize(0.1), m(5), null);
    expect(result.passed).toBe(true);
    expect(result.rules[0]).toMatchObject({ kind: 'champion', verdict: 'pass', rule: 'rmse vs champion: no champion yet' });
  });

  it.each([
    [0.3, 0.4, 0.1, 'pass'], // 0.1 better: exactly the required improvement (float noise included)
    [0.3, 0.35, 0.1, 'fail'],
    [0.4, 0.4, 0, 'pass'], // no worse, none required
    [0.41, 0.4, 0, 'fail'],
  ] as const)('minimize: candidate %d vs champion %d with minImprovement %d gives %s', (candidate, champ, min, verdict) => {
    const result = evaluateGate(minimize(min), m(candidate), champion(champ));
    expect(result.rules[0]).toMatchObject({ value: candidate, championValue: champ, verdict });
    expect(result.rules[0].rule).toBe(`rmse below champion v3 (${champ}) by >= ${min}`);
  });

  it.each([
    [0.9, 0.85, 0.05, 'pass'],
    [0.88, 0.85, 0.05, 'fail'],
    [0.85, 0.9, 0, 'fail'],
  ] as const)('maximize: candidate %d vs champion %d with minImprovement %d gives %s', (candidate, champ, min, verdict) => {
    expect(evaluateGate(maximize(min), m(candidate), champion(champ)).rules[0]).toMatchObject({ verdict });
  });

  it('fails when the candidate lacks the compared metric, even with no champion', () => {
    expect(evaluateGate(minimize(0), m(0.1, 'mae'), null).rules[0]).toMatchObject({ verdict: 'missing' });
  });

  it('passes when the champion never recorded the compared metric: there is nothing to beat', () => {
    const result = evaluateGate(minimize(0), m(0.3), { version: 2, metrics: m(0.1, 'mae') });
    expect(result.rules[0]).toMatchObject({ verdict: 'pass', rule: 'rmse vs champion v2: champion has no rmse recorded' });
  });

  it('needs every rule to pass', () => {
    const gate: GateSpec = { thresholds: [{ metric: 'rmse', op: '<', value: 1 }], champion: { metric: 'rmse', direction: 'minimize', minImprovement: 0 } };
    const result = evaluateGate(gate, m(0.5), champion(0.4));
    expect(result.rules.map((r) => r.verdict)).toEqual(['pass', 'fail']);
    expect(result.passed).toBe(false);
    expect(gateFailureReason(result)).toBe('rmse below champion v3 (0.4) by >= 0: got 0.5');
  });
});
