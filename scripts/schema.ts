// Writes schema/pipeline-spec.schema.json from the zod schema.
// `--check` writes nothing and exits 1 when the committed file is stale.
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { PIPELINE_SPEC_SCHEMA_FILE, renderPipelineSpecJsonSchema } from '../src/spec/json-schema';

const target = path.resolve(__dirname, '..', PIPELINE_SPEC_SCHEMA_FILE);
const fresh = renderPipelineSpecJsonSchema();

if (process.argv.includes('--check')) {
  let committed = '';
  try {
    committed = readFileSync(target, 'utf8');
  } catch {
    committed = '';
  }
  if (committed !== fresh) {
    console.error(`${PIPELINE_SPEC_SCHEMA_FILE} is stale: run \`npm run schema\` and commit the result`);
    process.exit(1);
  }
  console.log(`${PIPELINE_SPEC_SCHEMA_FILE} is up to date`);
} else {
  mkdirSync(path.dirname(target), { recursive: true });
  writeFileSync(target, fresh);
  console.log(`wrote ${PIPELINE_SPEC_SCHEMA_FILE}`);
}
