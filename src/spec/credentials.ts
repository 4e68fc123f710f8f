// Credentials written into a spec. A spec travels into the workflow's history,
// the Web UI, the control plane's state and the containers' environment, so a
// literal credential in it leaks everywhere at once. It may name a secret (an
// ARN of Secrets Manager or SSM Parameter Store, or an environment variable),
// never hold one.
import type { z } from 'zod';
import type { PipelineSpec } from './schema';

type Ctx = z.RefinementCtx<PipelineSpec>;
type Path = (string | number)[];

/** Shapes that are a credential whatever the field is called. */
const CREDENTIAL_SHAPES: Array<{ pattern: RegExp; what: string }> = [
  { pattern: /\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\b/, what: 'an AWS access key id' },
  { pattern: /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY( BLOCK)?-----/, what: 'a private key' },
  { pattern: /\bbearer\s+[A-Za-z0-9._~+/=-]{16,}/i, what: 'a bearer token' },
  { pattern: /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/, what: 'a JSON web token' },
  { pattern: /\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36}\b|\bgithub_pat_[A-Za-z0-9_]{40,}/, what: 'a GitHub token' },
  { pattern: /\bglpat-[A-Za-z0-9_-]{20,}/, what: 'a GitLab token' },
  { pattern: /\bxox[abprs]-[A-Za-z0-9-]{10,}/, what: 'a Slack token' },
  { pattern: /\bsk_live_[A-Za-z0-9]{16,}|\bsk-(?:proj-)?[A-Za-z0-9_-]{32,}/, what: 'an API secret key' },
  { pattern: /:\/\/[^/\s:@]+:[^/\s@]+@/, what: 'a URL with a password' },
];

const GLOBAL_SHAPES = CREDENTIAL_SHAPES.map(({ pattern }) => new RegExp(pattern.source, `${pattern.flags}g`));
/** `AWS_SECRET_ACCESS_KEY=...`, `"password": "..."`: an assignment whose name says secret. */
const SECRET_ASSIGNMENT = /((?:secret|token|passw(?:or)?d|passphrase|credential|authorization|(?:api|access|auth|signing|encryption|master|private)[_-]?key)[A-Za-z0-9_-]*["']?\s*[:=]\s*["']?)([^\s"',;&\0]{6,})/gi;

/** `text` with every credential-shaped part, and every value assigned to a secret-named variable, replaced by [redacted]. */
export function scrubCredentials(text: string): string {
  let out = text;
  for (const pattern of GLOBAL_SHAPES) out = out.replace(pattern, '[redacted]');
  return out.replace(SECRET_ASSIGNMENT, (_all, name: string) => `${name}[redacted]`);
}

/** Names that say their value is secret: SECRET_KEY, DB_PASSWORD, API_TOKEN, aws_secret_access_key ... */
const SECRET_NAME = /secret|token|passw(?:or)?d|passphrase|credential|private|(?:^|[^a-z])(?:api|access|auth|signing|encryption|master)[_-]?key|(?:^|_)key$/i;

/**
 * A value that reads as random: long, no spaces, and switching often between
 * lowercase, uppercase and digits (a 40-character AWS secret key does; a name
 * such as claims-features-v2 does not).
 */
function looksRandom(value: string): boolean {
  if (value.length < 20 || !/^[A-Za-z0-9+/=_.~-]+$/.test(value)) return false;
  const kinds = [...value.replace(/[^A-Za-z0-9]/g, '')].map((c) => (/[a-z]/.test(c) ? 'l' : /[A-Z]/.test(c) ? 'u' : 'd'));
  const switches = kinds.filter((k, i) => i > 0 && k !== kinds[i - 1]).length;
  return new Set(kinds).size >= 2 && switches >= Math.max(4, kinds.length / 8);
}

/** A reference to where the secret lives, which is what a spec should hold. */
export function isSecretReference(value: string): boolean {
  const v = value.trim();
  if (/^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+$/.test(v)) return true;
  if (/^arn:aws[a-z-]*:ssm:[a-z0-9-]+:\d{12}:parameter\/[A-Za-z0-9/_.-]+$/.test(v)) return true;
  // An environment variable's name, bare or as ${NAME}.
  return /^(?:\$\{[A-Za-z_][A-Za-z0-9_]*\}|[A-Z_][A-Z0-9_]*)$/.test(v);
}

/** What `value` under `name` looks like, when it looks like a credential. */
export function credentialKind(value: string, name?: string): string | undefined {
  // Shapes first: an access key id is also a valid environment variable name.
  for (const { pattern, what } of CREDENTIAL_SHAPES) if (pattern.test(value)) return what;
  if (isSecretReference(value)) return undefined;
  if (name !== undefined && SECRET_NAME.test(name) && looksRandom(value)) return 'a secret (its name says so and the value reads as random)';
  return undefined;
}

function refuse(ctx: Ctx, path: Path, value: string, what: string): void {
  ctx.addIssue({
    code: 'custom',
    path,
    message: `looks like ${what}; a spec is stored in the workflow history, the Web UI and the control plane, so it must never hold a credential: give a reference instead (a Secrets Manager or SSM parameter ARN, or the name of an environment variable)`,
    params: {
      found: `a value of ${value.length} characters (not shown)`,
      expected: 'a reference such as arn:aws:secretsmanager:<region>:<account>:secret:<name>, or an environment variable name',
    },
  });
}

/** Named maps, where the entry's name helps tell a secret from a long identifier. */
function namedMaps(spec: PipelineSpec): Array<[Path, Record<string, unknown>]> {
  return [
    [['deployment', 'environment'], spec.deployment.environment],
    [['training', 'environment'], spec.training.environment],
    [['training', 'hyperparameters'], spec.training.hyperparameters],
    [['tags'], spec.tags],
  ];
}

export function checkCredentials(spec: PipelineSpec, ctx: Ctx): void {
  const checked = new Set<unknown>();
  for (const [path, map] of namedMaps(spec)) {
    checked.add(map);
    for (const [name, value] of Object.entries(map)) {
      if (typeof value !== 'string') continue;
      const what = credentialKind(value, name);
      if (what) refuse(ctx, [...path, name], value, what);
    }
  }
  // Elsewhere only the unmistakable shapes count: a field's name says nothing there.
  const walk = (node: unknown, path: Path): void => {
    if (checked.has(node)) return;
    if (typeof node === 'string') {
      const what = credentialKind(node);
      if (what) refuse(ctx, path, node, what);
    } else if (Array.isArray(node)) {
      node.forEach((item, i) => walk(item, [...path, i]));
    } else if (typeof node === 'object' && node !== null) {
      for (const [key, value] of Object.entries(node)) walk(value, [...path, key]);
    }
  };
  walk(spec, []);
}
