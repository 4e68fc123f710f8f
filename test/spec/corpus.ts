// Reads the invalid-spec corpus. A YAML fixture's first line is
// `# expect: <field path> [<message fragment>]`; a JSON fixture (JSON has no
// comments) carries that line in `<file>.expect` beside it. The field path
// `(document)` stands for the document itself (an issue with an empty path).
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

export const SPEC_FIXTURES = path.resolve(__dirname, '..', 'fixtures', 'specs');

/** The corpus's name for an issue about the whole document rather than a field. */
export const DOCUMENT_PATH = '(document)';

export interface InvalidSpecCase {
  file: string;
  name: string;
  /** The field path an issue must name: `''` for the document itself. */
  path: string;
  fragment?: string;
}

export function invalidSpecCases(): InvalidSpecCase[] {
  const dir = path.join(SPEC_FIXTURES, 'invalid');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml') || f.endsWith('.json'))
    .sort()
    .map((f) => {
      const file = path.join(dir, f);
      const expectFile = f.endsWith('.json') ? `${file}.expect` : file;
      const first = readFileSync(expectFile, 'utf8').split('\n', 1)[0]!;
      const m = /^# expect: (\S+)(?: (.+))?$/.exec(first.trim());
      if (!m) throw new Error(`${expectFile}: first line must be "# expect: <field path> [<message fragment>]"`);
      const out: InvalidSpecCase = { file, name: f, path: m[1] === DOCUMENT_PATH ? '' : m[1]! };
      if (m[2] !== undefined) out.fragment = m[2];
      return out;
    });
}
