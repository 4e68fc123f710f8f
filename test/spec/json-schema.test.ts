import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { PIPELINE_SPEC_SCHEMA_FILE, renderPipelineSpecJsonSchema } from '../../src/spec';
import { SPEC_FIXTURES } from './corpus';

const ROOT = path.resolve(__dirname, '..', '..');
const committedText = readFileSync(path.join(ROOT, PIPELINE_SPEC_SCHEMA_FILE), 'utf8');

interface Node {
  type?: string | string[];
  properties?: Record<string, Node>;
  required?: string[];
  additionalProperties?: boolean | Node;
  items?: Node;
  anyOf?: Node[];
  description?: string;
}

/** A deliberately small check: required keys present and no undeclared keys, through objects and arrays. */
function shapeProblems(schema: Node, value: unknown, at = ''): string[] {
  if (schema.anyOf) return schema.anyOf.some((branch) => shapeProblems(branch, value, at).length === 0) ? [] : [`${at}: matches no branch`];
  if (schema.type === 'array' && Array.isArray(value) && schema.items)
    return value.flatMap((item, i) => shapeProblems(schema.items!, item, `${at}[${i}]`));
  if (schema.type !== 'object' || value === null || typeof value !== 'object' || Array.isArray(value)) return [];
  const record = value as Record<string, unknown>;
  const problems = (schema.required ?? []).filter((key) => !(key in record)).map((key) => `${at}.${key}: required`);
  for (const [key, child] of Object.entries(record)) {
    const declared = schema.properties?.[key];
    if (declared) problems.push(...shapeProblems(declared, child, `${at}.${key}`));
    else if (schema.additionalProperties === false) problems.push(`${at}.${key}: not declared`);
  }
  return problems;
}

test('the committed JSON Schema is what the generator makes now (run `npm run schema` when this fails)', () => {
  expect(committedText).toBe(renderPipelineSpecJsonSchema());
});

test('the JSON Schema carries $schema, $id, a title and field descriptions', () => {
  const schema = JSON.parse(committedText) as Node & Record<string, unknown>;
  expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
  expect(schema.$id).toEqual(expect.any(String));
  expect(schema.title).toEqual(expect.any(String));
  expect(schema.properties!.name!.description).toMatch(/prefixes every resource/);
});

test('the JSON Schema describes the input side: fields with defaults are optional', () => {
  const schema = JSON.parse(committedText) as Node;
  expect([...schema.required!].sort()).toEqual(['deployment', 'image', 'name', 'training']);
  expect(schema.properties!.training!.required).toEqual(['inputs', 'outputPath']);
  expect(schema.properties!.deployment!.required).toEqual(['endpointName']);
});

test.each(['minimal.yaml', 'claims-severity.yaml', 'linear-prebuilt.json'])('the JSON Schema accepts the shape of valid/%s', (name) => {
  const schema = JSON.parse(committedText) as Node;
  const document: unknown = parseYaml(readFileSync(path.join(SPEC_FIXTURES, 'valid', name), 'utf8'));
  expect(shapeProblems(schema, document)).toEqual([]);
});

test('the hand check can fail: it flags a missing required key and an undeclared one', () => {
  const schema = JSON.parse(committedText) as Node;
  const document = parseYaml(readFileSync(path.join(SPEC_FIXTURES, 'valid', 'minimal.yaml'), 'utf8')) as Record<string, Record<string, unknown>>;
  delete document.training!.outputPath;
  document.deployment!.canaryPercent = 10;
  expect(shapeProblems(schema, document)).toEqual(['.training.outputPath: required', '.deployment.canaryPercent: not declared']);
});

test('`schema --check` exits non-zero for a stale file and zero for a fresh one', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'champ-schema-'));
  try {
    const file = path.join(dir, 'pipeline-spec.schema.json');
    const run = () => execFileSync(path.join(ROOT, 'node_modules', '.bin', 'tsx'), [path.join(ROOT, 'scripts', 'schema.ts'), '--check', '--file', file], { stdio: 'pipe', timeout: 30_000 });
    writeFileSync(file, committedText.replace('"title": ', '"title": "old" , "x": '));
    expect(run).toThrow(/stale/);
    writeFileSync(file, renderPipelineSpecJsonSchema());
    expect(run().toString()).toContain('up to date');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
