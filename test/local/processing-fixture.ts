// A processing program for the processing-job tests, in JavaScript so that the
// same file runs in process mode (the host's node) and in docker mode (a node
// base image). Its words are its arguments:
//   --mode ok|fail|sleep  --input DIR --output DIR --message FILE
// ok: writes <output>/counts.csv with "<file>,<rows>" for every input file and
//     <output>/env.txt with $GREETING; fail: exits 2 after a line on stderr;
// sleep: prints, then waits a minute (for stop and runtime tests).
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';

export const PROCESS_JS = `
const fs = require('fs');
const path = require('path');
const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
if (args.mode === 'sleep') process.on('SIGTERM', () => { fs.writeFileSync(args.message, 'stopped by SIGTERM'); process.exit(143); });
console.log('processing mode=' + args.mode);
fs.mkdirSync(path.dirname(args.message), { recursive: true });
if (args.mode === 'fail') {
  fs.writeFileSync(args.message, 'bad input: no rows');
  console.error('Traceback: the input has no rows');
  process.exit(2);
}
if (args.mode === 'sleep') {
  setTimeout(() => process.exit(0), 60000);
  return;
}
const lines = [];
for (const name of fs.readdirSync(args.input).sort()) {
  const rows = fs.readFileSync(path.join(args.input, name), 'utf8').split('\\n').filter((l) => l.trim() !== '').length;
  lines.push(name + ',' + rows);
}
fs.writeFileSync(path.join(args.output, 'counts.csv'), lines.join('\\n') + '\\n');
fs.writeFileSync(path.join(args.output, 'env.txt'), String(process.env.GREETING));
fs.writeFileSync(args.message, JSON.stringify({ files: lines.length }));
console.log('done');
`;

/** A build context with /opt/program/process.js (and a Dockerfile on `base` for docker mode). */
export async function writeProcessingContext(dir: string, base = 'node:20.19.5-bookworm-slim'): Promise<string> {
  await fsp.mkdir(dir, { recursive: true });
  await fsp.writeFile(path.join(dir, 'process.js'), PROCESS_JS);
  await fsp.writeFile(path.join(dir, 'Dockerfile'), `FROM ${base}\nCOPY process.js /opt/program/\nWORKDIR /opt/program\n`);
  return dir;
}

/** The words of AppSpecification for `mode`, with SageMaker's usual LocalPaths. */
export function processingApp(imageUri: string, mode: 'ok' | 'fail' | 'sleep') {
  return {
    ImageUri: imageUri,
    ContainerEntrypoint: ['node', '/opt/program/process.js'],
    ContainerArguments: [
      '--mode', mode,
      '--input', '/opt/ml/processing/input/data',
      '--output', '/opt/ml/processing/output/report',
      '--message', '/opt/ml/output/message',
    ],
  };
}
