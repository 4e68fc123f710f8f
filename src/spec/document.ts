// From bytes or text to a plain value, refusing what a spec never needs and an
// attacker or an accident might bring: a file too large to be a spec, bytes
// that are not UTF-8, YAML aliases that expand without bound, unknown YAML
// tags, keys given twice (JSON and YAML would silently keep the last),
// prototype-altering keys, nesting or value counts beyond any real spec, and
// values that are not plain data. Pure: no file system.
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Node as YamlNode } from 'yaml';
import { formatPath, type SpecIssue } from './errors';
import { MAX_SPEC_BYTES, MAX_SPEC_DEPTH, MAX_SPEC_VALUES, MAX_YAML_ALIASES } from './limits';

type PathKey = string | number;

/** Keys that would reach an object's prototype in code that copies the spec naively. */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

const MiB = (bytes: number) => `${Math.round((bytes / 1024 / 1024) * 10) / 10} MiB`;

export function tooLargeIssue(size: string): SpecIssue {
  return {
    path: '',
    message: `the spec is ${size}, larger than the ${MiB(MAX_SPEC_BYTES)} a spec may be; is this the right file? (a spec is a few KB: keep data out of it and point training.inputs at the data instead)`,
  };
}

/**
 * Spec file bytes as text: refuses more than MAX_SPEC_BYTES and anything not
 * UTF-8 (naming the line and column of the first bad byte), drops a BOM.
 */
export function decodeSpecBytes(bytes: Uint8Array): { text: string } | { issue: SpecIssue } {
  if (bytes.length > MAX_SPEC_BYTES) return { issue: tooLargeIssue(`over ${MiB(MAX_SPEC_BYTES)}`) };
  const bad = firstInvalidUtf8(bytes);
  if (bad !== undefined) {
    const { line, column } = bytePosition(bytes, bad);
    const utf16 = (bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff);
    return {
      issue: {
        path: '',
        line,
        column,
        message: `the spec is not UTF-8 text (byte 0x${bytes[bad]!.toString(16).padStart(2, '0')} at byte ${bad})${utf16 ? '; it looks like UTF-16' : ''}: save it as UTF-8`,
      },
    };
  }
  let text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  return { text };
}

/** Offset of the first byte that does not belong to well-formed UTF-8 (no overlongs, no surrogates), or undefined. */
export function firstInvalidUtf8(bytes: Uint8Array): number | undefined {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let min: number;
    if (b >= 0xc2 && b <= 0xdf) [need, min] = [1, 0x80];
    else if (b >= 0xe0 && b <= 0xef) [need, min] = [2, 0x800];
    else if (b >= 0xf0 && b <= 0xf4) [need, min] = [3, 0x10000];
    else return i;
    let code = b & (0x3f >> need);
    for (let k = 1; k <= need; k++) {
      const next = bytes[i + k];
      if (next === undefined || (next & 0xc0) !== 0x80) return i;
      code = (code << 6) | (next & 0x3f);
    }
    if (code < min || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return i;
    i += need + 1;
  }
  return undefined;
}

function bytePosition(bytes: Uint8Array, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset; i++) {
    if (bytes[i] === 0x0a) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

function textTooLarge(text: string): SpecIssue | undefined {
  // Cheap bound first: a UTF-8 byte is at most one UTF-16 unit, and a unit at most 3 bytes.
  if (text.length * 3 <= MAX_SPEC_BYTES) return undefined;
  const bytes = Buffer.byteLength(text, 'utf8');
  return bytes > MAX_SPEC_BYTES ? tooLargeIssue(MiB(bytes)) : undefined;
}

// --- YAML ---------------------------------------------------------------------

const TOO_DEEP = /Maximum call stack/i;
const tooDeepIssue = (): SpecIssue => ({ path: '', message: `the document nests too deeply (a spec nests at most ${MAX_SPEC_DEPTH} levels)` });

/** YAML text to a plain value, or the issues that refuse it. */
export function readYaml(text: string): { value: unknown } | { issues: SpecIssue[] } {
  const large = textTooLarge(text);
  if (large) return { issues: [large] };
  try {
    return readYamlUnguarded(text);
  } catch (err) {
    // The yaml package recurses; a pathological document must still end as a SpecIssue.
    const message = String((err as Error)?.message ?? err);
    if (TOO_DEEP.test(message)) return { issues: [tooDeepIssue()] };
    return { issues: [{ path: '', message: `the YAML document cannot be read: ${yamlFirstLine(message)}` }] };
  }
}

function readYamlUnguarded(text: string): { value: unknown } | { issues: SpecIssue[] } {
  const lineCounter = new LineCounter();
  // Only YAML 1.2 core: no !!binary, !!timestamp, !!set ... (values a spec never holds), keys always strings.
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: false, stringKeys: true, resolveKnownTags: false, lineCounter });
  const at = (offset: number | undefined): Pick<SpecIssue, 'line' | 'column'> => {
    if (offset === undefined) return {};
    const pos = lineCounter.linePos(offset);
    return { line: pos.line, column: pos.col };
  };
  const problem = doc.errors[0];
  if (problem) {
    const issue: SpecIssue = { path: '', message: `YAML syntax error: ${yamlFirstLine(problem.message)}` };
    const pos = problem.linePos?.[0];
    if (pos) {
      issue.line = pos.line;
      issue.column = pos.col;
    }
    if (TOO_DEEP.test(problem.message)) return { issues: [{ ...tooDeepIssue(), ...at(problem.pos[0]) }] };
    if (problem.code === 'MULTIPLE_DOCS') issue.message = 'the file holds more than one YAML document (a second ---); a spec is one document: keep one';
    return { issues: [issue] };
  }
  const warning = doc.warnings[0];
  if (warning) {
    const pos = warning.linePos?.[0];
    const tag = /Unresolved tag: (\S+)/.exec(warning.message)?.[1]?.replace(/^tag:yaml\.org,2002:/, '!!');
    const message = tag
      ? `YAML tag ${tag} is not supported: a spec holds plain text, numbers, true/false, lists and mappings; remove the tag`
      : `YAML: ${yamlFirstLine(warning.message)}`;
    return { issues: [{ path: '', message, ...(pos ? { line: pos.line, column: pos.col } : {}) }] };
  }
  const duplicates = yamlDuplicateKeys(doc.contents, at);
  if (duplicates.length > 0) return { issues: duplicates };
  try {
    return { value: doc.toJS({ maxAliasCount: MAX_YAML_ALIASES }) as unknown };
  } catch (err) {
    if (!/alias count/i.test(String((err as Error)?.message))) throw err;
    const message = `YAML aliases (*name) expand too far: a spec may expand at most ${MAX_YAML_ALIASES} aliases ("billion laughs" documents are refused); write the values out or use fewer aliases`;
    return { issues: [{ path: '', message }] };
  }
}

function yamlFirstLine(message: string): string {
  return message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
}

/** Keys given twice in one mapping, with the path of the key and the lines of both. Walks the syntax tree, not the value, so aliases are not followed. */
function yamlDuplicateKeys(root: YamlNode | null, at: (offset: number | undefined) => Pick<SpecIssue, 'line' | 'column'>): SpecIssue[] {
  const issues: SpecIssue[] = [];
  const stack: Array<{ node: unknown; path: PathKey[]; depth: number }> = [{ node: root, path: [], depth: 0 }];
  while (stack.length > 0 && issues.length < 20) {
    const { node, path, depth } = stack.pop()!;
    if (depth > MAX_SPEC_DEPTH) continue;
    if (isMap(node)) {
      const seen = new Map<string, number | undefined>();
      for (const item of node.items) {
        if (!isPair(item)) continue;
        const key = isScalar(item.key) ? String(item.key.value) : String(item.key);
        const offset = isScalar(item.key) ? item.key.range?.[0] : undefined;
        if (seen.has(key)) {
          const first = at(seen.get(key)).line;
          const here = at(offset);
          issues.push({
            path: formatPath([...path, key]),
            message: `appears twice in one mapping${first !== undefined && here.line !== undefined ? ` (lines ${first} and ${here.line})` : ''}; YAML would silently keep only the last, so remove one`,
            ...here,
          });
        } else seen.set(key, offset);
        stack.push({ node: item.value, path: [...path, key], depth: depth + 1 });
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => stack.push({ node: item, path: [...path, i], depth: depth + 1 }));
    }
  }
  return issues;
}

// --- JSON ---------------------------------------------------------------------

/** JSON text to a plain value, or the issues that refuse it (syntax, size, duplicate keys). */
export function readJson(text: string): { value: unknown } | { issues: SpecIssue[] } {
  const large = textTooLarge(text);
  if (large) return { issues: [large] };
  const source = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  let value: unknown;
  try {
    value = JSON.parse(source) as unknown;
  } catch (err) {
    const message = String((err as Error)?.message ?? err);
    return { issues: [TOO_DEEP.test(message) ? tooDeepIssue() : jsonSyntaxIssue(source, message)] };
  }
  const duplicates = jsonDuplicateKeys(source);
  return duplicates.length > 0 ? { issues: duplicates } : { value };
}

function jsonSyntaxIssue(text: string, message: string): SpecIssue {
  const issue: SpecIssue = { path: '', message: `JSON syntax error: ${message.replace(/ in JSON at position \d+.*$/, '')}` };
  const lineColumn = /line (\d+) column (\d+)/.exec(message);
  const position = /position (\d+)/.exec(message);
  if (lineColumn) {
    issue.line = Number(lineColumn[1]);
    issue.column = Number(lineColumn[2]);
  } else {
    const offset = position ? Number(position[1]) : /end of JSON input/.test(message) ? text.length : undefined;
    if (offset !== undefined) {
      const before = text.slice(0, offset).split('\n');
      issue.line = before.length;
      issue.column = before[before.length - 1]!.length + 1;
    }
  }
  return issue;
}

type JsonFrame =
  | { kind: 'object'; path: PathKey[]; keys: Map<string, number>; expectKey: boolean; key?: string }
  | { kind: 'array'; path: PathKey[]; index: number };

/**
 * Keys given twice in one object of JSON text that JSON.parse accepted
 * (JSON.parse keeps the last silently). One pass, no recursion.
 */
export function jsonDuplicateKeys(text: string): SpecIssue[] {
  const issues: SpecIssue[] = [];
  const stack: JsonFrame[] = [];
  let line = 1;
  const childPath = (): PathKey[] => {
    const top = stack[stack.length - 1];
    if (!top) return [];
    return top.kind === 'object' ? [...top.path, top.key ?? ''] : [...top.path, top.index];
  };
  for (let i = 0; i < text.length && issues.length < 20; i++) {
    const c = text[i];
    if (c === '\n') line++;
    else if ((c === '{' || c === '[') && stack.length >= MAX_SPEC_DEPTH) return [...issues, { ...tooDeepIssue(), line }];
    else if (c === '{') stack.push({ kind: 'object', path: childPath(), keys: new Map(), expectKey: true });
    else if (c === '[') stack.push({ kind: 'array', path: childPath(), index: 0 });
    else if (c === '}' || c === ']') stack.pop();
    else if (c === ',') {
      const top = stack[stack.length - 1];
      if (top?.kind === 'object') top.expectKey = true;
      else if (top?.kind === 'array') top.index++;
    } else if (c === '"') {
      let end = i + 1;
      while (text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      const top = stack[stack.length - 1];
      if (top?.kind === 'object' && top.expectKey) {
        const key = JSON.parse(text.slice(i, end + 1)) as string;
        const first = top.keys.get(key);
        if (first !== undefined)
          issues.push({
            path: formatPath([...top.path, key]),
            message: `appears twice in one object (lines ${first} and ${line}); JSON would silently keep only the last, so remove one`,
            line,
          });
        else top.keys.set(key, line);
        top.key = key;
        top.expectKey = false;
      }
      i = end;
    }
  }
  return issues;
}

// --- the value ------------------------------------------------------------------

/**
 * Problems of a spec value as a whole, before the schema looks at it: not
 * plain data, a forbidden key, too deep, too many values or too much text.
 * Runs without recursion, so no value can exhaust the stack.
 */
export function plainDataIssues(root: unknown): SpecIssue[] {
  const issues: SpecIssue[] = [];
  const stack: Array<{ value: unknown; path: PathKey[] }> = [{ value: root, path: [] }];
  let values = 0;
  let textLength = 0;
  while (stack.length > 0) {
    if (issues.length >= 20) break;
    const { value, path } = stack.pop()!;
    values++;
    if (values > MAX_SPEC_VALUES) {
      issues.push({ path: '', message: `the spec holds more than ${MAX_SPEC_VALUES} values (after YAML aliases are expanded); a real spec holds a few hundred` });
      break;
    }
    if (typeof value === 'string') {
      textLength += value.length;
      if (textLength > MAX_SPEC_BYTES) {
        issues.push({ path: '', message: `the spec holds more than ${MiB(MAX_SPEC_BYTES)} of text (after YAML aliases are expanded); keep data out of it` });
        break;
      }
      continue;
    }
    if (value === null || value === undefined || typeof value === 'boolean') continue;
    if (typeof value === 'number') {
      if (!Number.isFinite(value)) issues.push({ path: formatPath(path), message: 'must be a finite number', found: String(value) });
      continue;
    }
    if (typeof value !== 'object') {
      issues.push({ path: formatPath(path), message: `is a ${typeof value}: a spec holds plain text, numbers, true/false, lists and mappings` });
      continue;
    }
    if (path.length >= MAX_SPEC_DEPTH) {
      issues.push({ path: formatPath(path), message: `nests too deeply: a spec nests at most ${MAX_SPEC_DEPTH} levels` });
      continue;
    }
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push({ value: value[i], path: [...path, i] });
      continue;
    }
    // A plain object's prototype is an Object.prototype (of any realm: jest and vm contexts have their own) or null.
    const proto = Object.getPrototypeOf(value) as object | null;
    if (proto !== null && Object.getPrototypeOf(proto) !== null) {
      issues.push({ path: formatPath(path), message: 'is not plain data: a spec holds plain text, numbers, true/false, lists and mappings' });
      continue;
    }
    const keys = Object.keys(value);
    for (let k = keys.length - 1; k >= 0; k--) {
      const key = keys[k]!;
      textLength += key.length;
      if (FORBIDDEN_KEYS.has(key)) {
        issues.push({
          path: formatPath([...path, key]),
          message: `"${key}" is not allowed as a key (it could alter object prototypes in code that reads the spec); rename or remove it`,
        });
        continue;
      }
      stack.push({ value: (value as Record<string, unknown>)[key], path: [...path, key] });
    }
  }
  return issues;
}
