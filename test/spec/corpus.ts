// Reads the invalid-spec corpus: each file's first line is
// `# expect: <field path> [<message fragment>]`.
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

export const SPEC_FIXTURES = path.resolve(__dirname, '..', 'fixtures', 'specs');

export interface InvalidSpecCase {
  file: string;
  name: string;
  path: string;
  fragment?: string;
}

export function invalidSpecCases(): InvalidSpecCase[] {
  const dir = path.join(SPEC_FIXTURES, 'invalid');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => {
      const file = path.join(dir, f);
      const first = readFileSync(file, 'utf8').split('\n', 1)[0]!;
      const m = /^# expect: (\S+)(?: (.+))?$/.exec(first.trim());
      if (!m) throw new Error(`${file}: first line must be "# expect: <field path> [<message fragment>]"`);
      const out: InvalidSpecCase = { file, name: f, path: m[1]! };
      if (m[2] !== undefined) out.fragment = m[2];
      return out;
    });
}
