import { describeBacktrackingProblem, findBacktrackingProblem } from '../../src/spec/regex-safety';
import { ECR_REPOSITORY, IMAGE_REFERENCE, MEDIA_RANGES, MEDIA_TYPE, PLAIN_TEXT, SAGEMAKER_NAME } from '../../src/spec/schema';

describe('findBacktrackingProblem', () => {
  test.each([
    ['(a+)+$', 'nested-repeat'],
    ['(a*)*', 'nested-repeat'],
    ['((a+))+', 'nested-repeat'],
    ['(?:a+){10,}', 'nested-repeat'],
    ['loss=((\\d+)+)x', 'nested-repeat'],
    ['(\\w+\\d)+', 'nested-repeat'],
    ['(.*,)+', 'nested-repeat'],
    ['(.*)*', 'nested-repeat'],
    ['(\\d+\\.?)+', 'nested-repeat'],
    ['(\\s*\\w+)*x', 'nested-repeat'],
    ['(x+x+)+y', 'nested-repeat'],
    ['(\\d+|\\.)+', 'nested-repeat'],
    ['^(([a-z])+.)+[A-Z]([a-z])+$', 'nested-repeat'],
    ['(a|ab)+', 'overlapping-alternatives'],
    ['(a|a)+$', 'overlapping-alternatives'],
    ['(\\w|\\d)*', 'overlapping-alternatives'],
    ['([a-c]|[b-d])+x', 'overlapping-alternatives'],
  ])('refuses %s (%s)', (source, reason) => {
    expect(findBacktrackingProblem(source)?.reason).toBe(reason);
  });

  test.each([
    'validation:deviance=([0-9.eE+-]+)',
    'rmse=([0-9.]+)',
    '.*loss: ([-+]?[0-9]*\\.?[0-9]+(?:[eE][-+]?[0-9]+)?)',
    'epoch (\\d+)/(\\d+)',
    '\\[(\\d+)\\]',
    '(a+b)+',
    '([a-z]+\\s)+',
    '([^,]+,)+',
    '(a|b)+',
    '(?:ab)+(c)',
    '(\\d{1,3}\\.){3}\\d{1,3}',
    '(a+){2}',
    '(?=(a+))a',
  ])('accepts %s', (source) => {
    expect(findBacktrackingProblem(source)).toBeUndefined();
  });

  test("the schema's own patterns pass the check", () => {
    for (const pattern of [SAGEMAKER_NAME, ECR_REPOSITORY, IMAGE_REFERENCE, MEDIA_TYPE, MEDIA_RANGES, PLAIN_TEXT]) {
      expect([pattern.source, findBacktrackingProblem(pattern.source)]).toEqual([pattern.source, undefined]);
    }
  });

  test('the message names the parts, the danger and a rewrite', () => {
    const message = describeBacktrackingProblem(findBacktrackingProblem('gini=((a+)+)$')!);
    expect(message).toContain('(a+)+');
    expect(message).toContain('catastrophic backtracking');
    expect(message).toMatch(/a\+ rather than \(a\+\)\+/);
  });

  test('survives any source that compiles, and answers fast', () => {
    const sources = ['', '[]', '[^]', '()', '(?:)', '\\', 'a{', 'a{1', 'a{,2}', '[a-]', '[-a]', '[\\]]', '(?<n>a)\\k<n>', '\\1(a)', '\\cA', '\\u{1F600}', '😀+', 'x'.repeat(500)];
    for (const source of sources) {
      let compiles = true;
      try {
        new RegExp(source);
      } catch {
        compiles = false;
      }
      if (!compiles) continue;
      const started = Date.now();
      expect(() => findBacktrackingProblem(source)).not.toThrow();
      expect(Date.now() - started).toBeLessThan(500);
    }
  });
});
