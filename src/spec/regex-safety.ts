// Over 400 lines on purpose: one small regex parser and the checks over its tree, which read best together.
// A small static check for regular expressions that backtrack catastrophically.
// Metric regexes run over every line a training job logs; one such as (a+)+$
// takes exponential time on a line like "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!" and
// wedges whatever applies it. The check is deliberately conservative: it may
// refuse a harmless pattern (and says how to rewrite it), never the reverse for
// the two shapes it knows:
//   1. a repeated group holding a repeated part, with nothing in the group that
//      the inner part cannot match to tell one repetition from the next:
//      (a+)+  (\w+\d)+  (.*,)+  (\d+\.?)+   but not (a+b)+ or (-*[a-z0-9])*;
//   2. a repeated alternation whose alternatives can start with the same
//      character: (a|ab)+  (\w|\d)*.
// Pure: no I/O. The caller has already checked that the source compiles.

/** A set of code points as sorted, disjoint, inclusive ranges. */
type CharSet = ReadonlyArray<readonly [number, number]>;

const MAX_CODE_POINT = 0x10ffff;
const ANY: CharSet = [[0, MAX_CODE_POINT]];
const DIGIT: CharSet = [[0x30, 0x39]];
const WORD: CharSet = [
  [0x30, 0x39],
  [0x41, 0x5a],
  [0x5f, 0x5f],
  [0x61, 0x7a],
];
const SPACE: CharSet = [
  [0x09, 0x0d],
  [0x20, 0x20],
  [0xa0, 0xa0],
  [0x1680, 0x1680],
  [0x2000, 0x200a],
  [0x2028, 0x2029],
  [0x202f, 0x202f],
  [0x205f, 0x205f],
  [0x3000, 0x3000],
  [0xfeff, 0xfeff],
];
const LINE_TERMINATORS: CharSet = [
  [0x0a, 0x0a],
  [0x0d, 0x0d],
  [0x2028, 0x2029],
];

function normalize(ranges: Array<readonly [number, number]>): CharSet {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const out: Array<[number, number]> = [];
  for (const [lo, hi] of sorted) {
    const last = out[out.length - 1];
    if (last && lo <= last[1] + 1) last[1] = Math.max(last[1], hi);
    else out.push([lo, hi]);
  }
  return out;
}

function union(...sets: CharSet[]): CharSet {
  return normalize(sets.flat());
}

function complement(set: CharSet): CharSet {
  const out: Array<[number, number]> = [];
  let next = 0;
  for (const [lo, hi] of normalize([...set])) {
    if (lo > next) out.push([next, lo - 1]);
    next = hi + 1;
  }
  if (next <= MAX_CODE_POINT) out.push([next, MAX_CODE_POINT]);
  return out;
}

function overlaps(a: CharSet, b: CharSet): boolean {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const [alo, ahi] = a[i]!;
    const [blo, bhi] = b[j]!;
    if (alo <= bhi && blo <= ahi) return true;
    if (ahi < bhi) i++;
    else j++;
  }
  return false;
}

const single = (code: number): CharSet => [[code, code]];

/** Escapes that stand for a fixed set: classes and control characters. */
const SIMPLE_ESCAPES: Record<string, CharSet> = {
  d: DIGIT,
  D: complement(DIGIT),
  w: WORD,
  W: complement(WORD),
  s: SPACE,
  S: complement(SPACE),
  t: single(9),
  n: single(10),
  v: single(11),
  f: single(12),
  r: single(13),
  '0': single(0),
};

// --- a parser for the subset of the syntax that matters here ---------------

interface Span {
  start: number;
  end: number;
}
type Node =
  | ({ kind: 'chars'; set: CharSet } & Span)
  | ({ kind: 'empty' } & Span) // assertions (^ $ \b \B) and empty alternatives
  | ({ kind: 'seq'; items: Node[] } & Span)
  | ({ kind: 'alt'; options: Node[] } & Span)
  | ({ kind: 'group'; body: Node; lookaround: boolean } & Span)
  | ({ kind: 'repeat'; body: Node; min: number; max: number } & Span);

class Parser {
  private i = 0;
  constructor(private readonly src: string) {}

  parse(): Node {
    return this.alternation();
  }

  private alternation(): Node {
    const start = this.i;
    const options = [this.sequence()];
    while (this.src[this.i] === '|') {
      this.i++;
      options.push(this.sequence());
    }
    return options.length === 1 ? options[0]! : { kind: 'alt', options, start, end: this.i };
  }

  private sequence(): Node {
    const start = this.i;
    const items: Node[] = [];
    while (this.i < this.src.length && this.src[this.i] !== '|' && this.src[this.i] !== ')') {
      items.push(this.quantified(this.atom()));
    }
    return items.length === 1 ? items[0]! : { kind: 'seq', items, start, end: this.i };
  }

  private quantified(node: Node): Node {
    const c = this.src[this.i];
    let min: number;
    let max: number;
    if (c === '*') [min, max] = [0, Infinity];
    else if (c === '+') [min, max] = [1, Infinity];
    else if (c === '?') [min, max] = [0, 1];
    else if (c === '{') {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(this.src.slice(this.i));
      if (!m) return node;
      min = Number(m[1]);
      max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
      this.i += m[0].length - 1;
    } else return node;
    this.i++;
    if (this.src[this.i] === '?') this.i++; // lazy: the same search space, only another order
    return this.quantified({ kind: 'repeat', body: node, min, max, start: node.start, end: this.i });
  }

  private atom(): Node {
    const start = this.i;
    const c = this.src[this.i++]!;
    if (c === '(') {
      let lookaround = false;
      if (this.src.startsWith('?', this.i)) {
        const head = /^\?(?::|=|!|<=|<!|<[A-Za-z_$][\w$]*>)/.exec(this.src.slice(this.i));
        if (head) {
          lookaround = /^\?(=|!|<=|<!)/.test(head[0]);
          this.i += head[0].length;
        }
      }
      const body = this.alternation();
      if (this.src[this.i] === ')') this.i++;
      return { kind: 'group', body, lookaround, start, end: this.i };
    }
    if (c === '[') return { kind: 'chars', set: this.charClass(), start, end: this.i };
    if (c === '.') return { kind: 'chars', set: complement(LINE_TERMINATORS), start, end: this.i };
    if (c === '^' || c === '$') return { kind: 'empty', start, end: this.i };
    if (c === '\\') {
      const e = this.src[this.i]!;
      if (e === 'b' || e === 'B') {
        this.i++;
        return { kind: 'empty', start, end: this.i };
      }
      if (/[1-9]/.test(e) || (e === 'k' && this.src[this.i + 1] === '<')) {
        // A back-reference can repeat anything its group matched.
        this.i += e === 'k' ? this.src.indexOf('>', this.i) - this.i + 1 : /^\d+/.exec(this.src.slice(this.i))![0].length;
        return { kind: 'chars', set: ANY, start, end: this.i };
      }
      return { kind: 'chars', set: this.escape(), start, end: this.i };
    }
    const code = this.src.codePointAt(start)!;
    if (code > 0xffff) this.i++;
    return { kind: 'chars', set: single(code), start, end: this.i };
  }

  /** After a backslash: the set the escape stands for. Moves past it. */
  private escape(): CharSet {
    const e = this.src[this.i++]!;
    const known = SIMPLE_ESCAPES[e];
    if (known) return known;
    if (e === 'c') return single(this.src.charCodeAt(this.i++) % 32);
    if (e === 'x' || e === 'u') {
      const digits = e === 'x' ? 2 : 4;
      const hex = this.src.slice(this.i, this.i + digits);
      this.i += digits;
      return single(parseInt(hex, 16) || 0);
    }
    return single(e.codePointAt(0)!);
  }

  private charClass(): CharSet {
    const negate = this.src[this.i] === '^';
    if (negate) this.i++;
    const parts: CharSet[] = [];
    while (this.i < this.src.length && this.src[this.i] !== ']') {
      const lo = this.classAtom();
      if (this.src[this.i] === '-' && this.src[this.i + 1] !== ']' && this.i + 1 < this.src.length && lo.length === 1 && lo[0]![0] === lo[0]![1]) {
        this.i++;
        const hi = this.classAtom();
        if (hi.length === 1 && hi[0]![0] === hi[0]![1]) {
          parts.push([[lo[0]![0], hi[0]![0]]]);
          continue;
        }
        parts.push(lo, single(0x2d), hi);
        continue;
      }
      parts.push(lo);
    }
    this.i++; // ]
    const set = union(...parts);
    return negate ? complement(set) : set;
  }

  private classAtom(): CharSet {
    const c = this.src[this.i++]!;
    if (c !== '\\') return single(c.charCodeAt(0));
    if (this.src[this.i] === 'b') {
      this.i++;
      return single(8);
    }
    return this.escape();
  }
}

// --- the analysis -------------------------------------------------------------

/** Every character a node can consume or, with `firstOnly`, start a match with (an over-approximation). */
function charsOf(node: Node, firstOnly = false): CharSet {
  const of = (n: Node) => charsOf(n, firstOnly);
  switch (node.kind) {
    case 'chars':
      return node.set;
    case 'empty':
      return [];
    case 'seq': {
      if (!firstOnly) return union(...node.items.map(of));
      const out: CharSet[] = [];
      for (const item of node.items) {
        out.push(of(item));
        if (!canBeEmpty(item)) break;
      }
      return union(...out);
    }
    case 'alt':
      return union(...node.options.map(of));
    case 'group':
      return node.lookaround ? [] : of(node.body);
    case 'repeat':
      return node.max === 0 ? [] : of(node.body);
  }
}

function canBeEmpty(node: Node): boolean {
  switch (node.kind) {
    case 'chars':
      return false;
    case 'empty':
      return true;
    case 'seq':
      return node.items.every(canBeEmpty);
    case 'alt':
      return node.options.some(canBeEmpty);
    case 'group':
      return node.lookaround || canBeEmpty(node.body);
    case 'repeat':
      return node.min === 0 || canBeEmpty(node.body);
  }
}

/** Repeated often enough for backtracking to compound. */
function isRepeated(node: Node): node is Extract<Node, { kind: 'repeat' }> {
  return node.kind === 'repeat' && node.max >= 10;
}

/**
 * Parts of a node that every match must consume at least one character of:
 * characters, and alternations none of whose options can be empty (each
 * match takes one of the options' characters). Optional parts are left out.
 */
function mandatoryParts(node: Node): Node[] {
  switch (node.kind) {
    case 'chars':
      return [node];
    case 'empty':
      return [];
    case 'alt':
      return canBeEmpty(node) ? [] : [node];
    case 'seq':
      return node.items.flatMap(mandatoryParts);
    case 'group':
      return node.lookaround ? [] : mandatoryParts(node.body);
    case 'repeat':
      return node.min >= 1 ? mandatoryParts(node.body) : [];
  }
}

/** Variable-length repeated parts inside `node`, not crossing into lookarounds. */
function innerRepeats(node: Node): Array<Extract<Node, { kind: 'repeat' }>> {
  const out: Array<Extract<Node, { kind: 'repeat' }>> = [];
  const visit = (n: Node): void => {
    if (n.kind === 'repeat') {
      if (n.max >= 2 && n.max > n.min) out.push(n);
      visit(n.body);
    } else if (n.kind === 'seq') n.items.forEach(visit);
    else if (n.kind === 'alt') n.options.forEach(visit);
    else if (n.kind === 'group' && !n.lookaround) visit(n.body);
  };
  visit(node);
  return out;
}

function contains(outer: Node, inner: Node): boolean {
  return inner.start >= outer.start && inner.end <= outer.end;
}

/**
 * Mandatory parts that sit beside `inner` in every match of `node` that uses
 * `inner`: the siblings along the way down, in the one alternative that holds
 * it (an enclosing repeat has iterated at least once if `inner` matched).
 */
function partsBeside(node: Node, inner: Node): Node[] {
  if (node === inner) return [];
  switch (node.kind) {
    case 'seq':
      return node.items.flatMap((item) => (contains(item, inner) ? partsBeside(item, inner) : mandatoryParts(item)));
    case 'alt': {
      const holder = node.options.find((option) => contains(option, inner));
      return holder ? partsBeside(holder, inner) : [];
    }
    case 'group':
    case 'repeat':
      return partsBeside(node.body, inner);
    default:
      return [];
  }
}

function unwrapGroup(node: Node): Node {
  return node.kind === 'group' && !node.lookaround ? unwrapGroup(node.body) : node;
}

export interface BacktrackingProblem {
  /** The part of the source that repeats. */
  outer: string;
  /** The repeated part inside it, or the overlapping alternatives. */
  inner: string;
  reason: 'nested-repeat' | 'overlapping-alternatives';
}

/**
 * The first shape in `source` that can backtrack catastrophically, or
 * undefined. `source` must be a valid JavaScript regular expression.
 */
export function findBacktrackingProblem(source: string): BacktrackingProblem | undefined {
  const root = new Parser(source).parse();
  let found: BacktrackingProblem | undefined;
  const text = (n: Node) => source.slice(n.start, n.end);
  const visit = (node: Node): void => {
    if (found) return;
    if (isRepeated(node)) {
      const body = node.body;
      for (const inner of innerRepeats(body)) {
        const innerChars = charsOf(inner.body);
        const separated = partsBeside(body, inner).some((part) => !overlaps(charsOf(part), innerChars));
        if (!separated) {
          found = { outer: text(node), inner: text(inner), reason: 'nested-repeat' };
          return;
        }
      }
      const top = unwrapGroup(body);
      if (top.kind === 'alt') {
        const starts = top.options.map((option) => charsOf(option, true));
        for (let a = 0; a < starts.length; a++) {
          for (let b = a + 1; b < starts.length; b++) {
            const bothEmpty = canBeEmpty(top.options[a]!) && canBeEmpty(top.options[b]!);
            if (overlaps(starts[a]!, starts[b]!) || bothEmpty) {
              found = { outer: text(node), inner: `${text(top.options[a]!)}|${text(top.options[b]!)}`, reason: 'overlapping-alternatives' };
              return;
            }
          }
        }
      }
    }
    if (node.kind === 'seq') node.items.forEach(visit);
    else if (node.kind === 'alt') node.options.forEach(visit);
    else if (node.kind === 'group' || node.kind === 'repeat') visit(node.body);
  };
  visit(root);
  return found;
}

/** The problem as one sentence that says how to fix it. */
export function describeBacktrackingProblem(problem: BacktrackingProblem): string {
  if (problem.reason === 'nested-repeat')
    return (
      `can take exponential time on some log lines (catastrophic backtracking): ${problem.outer} repeats a group that holds ` +
      `the repeated ${problem.inner}, and nothing else in the group tells one repetition from the next. ` +
      `Repeat only once (e.g. a+ rather than (a+)+), or require a character the inner part cannot match inside the group (e.g. ([0-9]+,)+)`
    );
  return (
    `can take exponential time on some log lines (catastrophic backtracking): ${problem.outer} repeats alternatives (${problem.inner}) ` +
    `that can start with the same character. Make the alternatives start differently (e.g. a(b|c) rather than (ab|ac)), or use one character class`
  );
}
