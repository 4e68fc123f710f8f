#!/usr/bin/env node
// The `champ` command: the compiled client when `npm run build` has run, else the TypeScript source through tsx.
// Node 20 is supported; the AWS SDK's notice about its future versions is noise in a CLI.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const compiled = join(__dirname, '..', 'dist', 'src', 'client.js');
let cli;
if (existsSync(compiled)) {
  cli = require(compiled);
} else {
  require('tsx/cjs');
  cli = require(join(__dirname, '..', 'src', 'client.ts'));
}
cli.runCli(process.argv.slice(2)).then((code) => process.exit(code));
