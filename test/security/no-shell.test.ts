// No subprocess runs through a shell with user-supplied strings. Every file
// under src/ is scanned for the ways a string could become shell code: a
// `shell` option, child_process.exec (always a shell), a program name built
// from a template, and `sh -c`/`bash -c` whose script is not a fixed string
// (a fixed script that takes user values as "$1" ... is safe: they stay data).
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

const ROOT = resolve(__dirname, '..', '..');

interface Finding {
  file: string;
  line: number;
  rule: string;
}

function lineOf(text: string, index: number): number {
  return text.slice(0, index).split('\n').length;
}

/** Whether `expr` (the argument after '-c') is a fixed script: a plain literal, or a constant of this file defined without interpolation. */
function isFixedScript(expr: string, text: string): boolean {
  const e = expr.trim();
  if (/^'[^']*'$/.test(e) || /^"[^"]*"$/.test(e) || /^`[^`$]*`$/.test(e)) return true;
  if (!/^[A-Z][A-Z0-9_]*$/.test(e)) return false;
  const def = new RegExp(`const ${e}\\s*=([\\s\\S]*?);\\n`).exec(text);
  return def !== null && !def[1]!.includes('${') && !/\+\s*[a-z]/.test(def[1]!);
}

export function scanForShell(file: string, text: string): Finding[] {
  const found: Finding[] = [];
  const add = (index: number, rule: string) => found.push({ file, line: lineOf(text, index), rule });
  for (const m of text.matchAll(/\bshell\s*:\s*(?!false\b)[^\s,}]+/g)) add(m.index, 'a shell option other than false');
  for (const m of text.matchAll(/import\s*\{([^}]*)\}\s*from\s*['"](?:node:)?child_process['"]/g)) {
    if (/\bexec(?:Sync)?\b/.test(m[1]!)) add(m.index, 'child_process.exec/execSync (always through a shell) imported');
  }
  for (const m of text.matchAll(/\b(?:child_process|cp|childProcess)\.exec(?:Sync)?\s*\(/g)) add(m.index, 'child_process.exec/execSync called');
  for (const m of text.matchAll(/\b(?:spawn|spawnSync|execFile|execFileSync|fork)\s*\(\s*(`[^`]*\$\{|[^,)]*\+)/g)) add(m.index, 'a program name built from a template or concatenation');
  for (const m of text.matchAll(/['"]-c['"]\s*,\s*([^,\]]+)/g)) {
    if (!isFixedScript(m[1]!, text)) add(m.index, `a shell script that is not a fixed string: -c ${m[1]!.trim()}`);
  }
  return found;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(p);
    return /\.(ts|js|mjs|cjs)$/.test(entry.name) ? [p] : [];
  });
}

describe('no shell with user-supplied strings', () => {
  it('finds none under src/', () => {
    const files = sourceFiles(join(ROOT, 'src'));
    expect(files.length).toBeGreaterThan(50);
    const findings = files.flatMap((f) => scanForShell(relative(ROOT, f), readFileSync(f, 'utf8')));
    expect(findings.map((f) => `${f.file}:${f.line}: ${f.rule}`)).toEqual([]);
  });

  // The scanner itself, on what it must catch and what it must let pass.
  it.each([
    ["spawn('docker', args, { shell: true })", 'shell option'],
    ['spawn(cmd, [], { shell: process.env.SHELL })', 'shell option'],
    ["import { exec } from 'node:child_process';", 'exec'],
    ["import { spawn, execSync } from 'child_process';", 'exec'],
    ['child_process.execSync(`docker rm ${name}`)', 'exec'],
    ['spawn(`${dir}/train`, [])', 'program name'],
    ["spawnSync(dir + '/train', [])", 'program name'],
    ["spawn('bash', ['-c', `docker run ${image}`])", 'not a fixed string'],
    ["spawn('sh', ['-c', 'docker run ' + image])", 'not a fixed string'],
    ["spawn('sh', ['-c', script])", 'not a fixed string'],
  ])('flags %s', (code, rule) => {
    const findings = scanForShell('sample.ts', `${code}\n`);
    expect(findings.map((f) => f.rule).join('; ')).toContain(rule);
  });

  it.each([
    ["spawn('docker', ['run', '--rm', image], { shell: false })"],
    ["spawn('bash', ['-c', 'exec \"$@\"', 'name', program, userArg])"],
    ["const SCRIPT = 'exec >\"$1\" 2>\"$2\"';\nspawn('bash', ['-c', SCRIPT, 'name', a, b]);"],
    ["const m = /x(\\d+)/.exec(text);"],
  ])('lets %s pass', (code) => {
    expect(scanForShell('sample.ts', `${code}\n`)).toEqual([]);
  });
});
