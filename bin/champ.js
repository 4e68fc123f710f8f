#!/usr/bin/env node
// The `champ` command: the TypeScript source through tsx in a checkout; the
// compiled client (npm run build) where the source is absent or NODE_ENV=production.
// Node 20 is supported; the AWS SDK's notice about its future versions is noise in a CLI.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const compiled = join(__dirname, '..', 'dist', 'src', 'client.js');
let cli;
const source = join(__dirname, '..', 'src', 'client.ts');
if (existsSync(compiled) && (process.env.NODE_ENV === 'production' || !existsSync(source))) {
  cli = require(compiled);
} else {
  require('tsx/cjs');
  cli = require(source);
}
cli.runCli(process.argv.slice(2)).then((code) => process.exit(code));
