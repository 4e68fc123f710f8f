// The image tag is a digest of the build context as Docker would send it: the
// examples' .dockerignore keeps their data, spec and harness out, so new data
// never makes a new image; what the image is built from always counts.
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { contextDigest, listContext } from '../../src/artifacts/build-context';

const EXAMPLES = ['claims-severity', 'claims-severity-r'];
let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'champ-context-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe.each(EXAMPLES)('examples/%s as a build context', (example) => {
  let context: string;
  beforeEach(() => {
    context = join(dir, example);
    cpSync(resolve(__dirname, '../../examples', example), context, { recursive: true });
  });

  it('holds only the Dockerfile, the .dockerignore and program/', async () => {
    const rels = (await listContext(context)).map((e) => e.rel);
    expect(rels).toContain('Dockerfile');
    expect(rels.filter((r) => !r.startsWith('program/') && r !== 'Dockerfile' && r !== '.dockerignore')).toEqual([]);
  });

  it('keeps its tag when data is generated or replaced and when the spec or the docs change', async () => {
    const before = await contextDigest(context);
    mkdirSync(join(context, 'data', 'train'), { recursive: true });
    writeFileSync(join(context, 'data', 'train', 'claims.csv'), 'x,y\n1,2\n');
    writeFileSync(join(context, 'pipeline.yaml'), 'name: changed\n');
    writeFileSync(join(context, 'README.md'), 'changed\n');
    mkdirSync(join(context, 'local_test', 'test_dir', 'model'), { recursive: true });
    writeFileSync(join(context, 'local_test', 'test_dir', 'model', 'model.json'), '{}');
    expect(await contextDigest(context)).toBe(before);
  });

  it('changes its tag when the program or the Dockerfile changes', async () => {
    const before = await contextDigest(context);
    writeFileSync(join(context, 'program', 'added.txt'), 'new\n');
    const afterProgram = await contextDigest(context);
    expect(afterProgram).not.toBe(before);
    writeFileSync(join(context, 'Dockerfile'), `${'# changed\n'}FROM scratch\n`);
    expect(await contextDigest(context)).not.toBe(afterProgram);
  });
});

it('counts the Dockerfile and the .dockerignore even when the .dockerignore lists them, as Docker sends them anyway', async () => {
  writeFileSync(join(dir, '.dockerignore'), 'Dockerfile\n.dockerignore\n');
  writeFileSync(join(dir, 'Dockerfile'), 'FROM scratch\n');
  expect((await listContext(dir)).map((e) => e.rel)).toEqual(['.dockerignore', 'Dockerfile']);
  const before = await contextDigest(dir);
  writeFileSync(join(dir, 'Dockerfile'), 'FROM scratch\nENV A=1\n');
  expect(await contextDigest(dir)).not.toBe(before);
});
