// Writes schema/pipeline-spec.schema.json from the zod schema.
//   npm run schema                 write the file
//   npm run schema -- --check      write nothing; exit 1 when the file is stale
//   --file <path>                  another target (tests use it)
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { PIPELINE_SPEC_SCHEMA_FILE, renderPipelineSpecJsonSchema } from '../src/spec/json-schema';

const args = process.argv.slice(2);
const fileFlag = args.indexOf('--file');
const target = fileFlag >= 0 && args[fileFlag + 1] ? path.resolve(args[fileFlag + 1]!) : path.resolve(__dirname, '..', PIPELINE_SPEC_SCHEMA_FILE);
const shown = path.relative(process.cwd(), target) || target;
const fresh = renderPipelineSpecJsonSchema();

if (args.includes('--check')) {
  let committed: string | undefined;
  try {
    committed = readFileSync(target, 'utf8');
  } catch {
    committed = undefined;
  }
  if (committed !== fresh) {
    console.error(`${shown} is ${committed === undefined ? 'missing' : 'stale'}: run \`npm run schema\` and commit the result`);
    process.exit(1);
  }
  console.log(`${shown} is up to date`);
} else {
  mkdirSync(path.dirname(target), { recursive: true });
  writeFileSync(target, fresh);
  console.log(`wrote ${shown}`);
}
