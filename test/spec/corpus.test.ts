import { loadSpecFile, SpecError } from '../../src/spec';
import { invalidSpecCases } from './corpus';

const cases = invalidSpecCases();

test('the invalid corpus holds at least 160 specs', () => {
  expect(cases.length).toBeGreaterThanOrEqual(160);
});

describe.each(cases)('invalid spec $name', ({ file, path, fragment }) => {
  test(`is refused with an issue naming ${path === '' ? 'the document' : path}`, () => {
    let error: unknown;
    try {
      loadSpecFile(file);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(SpecError);
    const issues = (error as SpecError).issues;
    const named = issues.filter((issue) => issue.path === path);
    if (named.length === 0) throw new Error(`no issue names ${path || '(document)'}; got:\n${(error as SpecError).format()}`);
    if (fragment !== undefined) {
      const hit = named.some((issue) => issue.message.toLowerCase().includes(fragment.toLowerCase()));
      if (!hit) throw new Error(`no issue at ${path || '(document)'} mentions "${fragment}"; got:\n${(error as SpecError).format()}`);
    }
  });
});
