// Cross-field rules of the pipeline spec: what the field shapes alone cannot
// say. Each problem becomes one issue whose path names the field to change.
import { CronExpressionParser } from 'cron-parser';
import type { z } from 'zod';
import { checkCredentials } from './credentials';
import { durationMs } from './duration';
import { HYPERPARAMETER_LIMITS, MAX_DURATION_MS, MAX_STRATEGY_WAIT_MS, MAX_TRAINING_RUNTIME_MS, TAG_LIMITS } from './limits';
import { describeBacktrackingProblem, findBacktrackingProblem } from './regex-safety';
import type { PipelineSpec } from './schema';

export { HYPERPARAMETER_LIMITS, MAX_TRAINING_RUNTIME_MS, TAG_LIMITS } from './limits';
/** C0 and C1 control characters. */
// eslint-disable-next-line no-control-regex -- control characters are exactly what this refuses
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
/** Characters AWS accepts in tag keys and values. */
const TAG_TEXT = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;
/** Cron macros that both cron-parser and Temporal Schedules understand. */
const CRON_MACROS = ['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@hourly'];

/** Extra detail an issue carries through zod to the SpecError mapping. */
export interface RuleIssueParams {
  expected?: string;
  /** Overrides the value rendered from the input at the issue's path. */
  found?: string;
}

type Ctx = z.RefinementCtx<PipelineSpec>;
type Path = (string | number)[];

function report(ctx: Ctx, path: Path, message: string, params: RuleIssueParams = {}): void {
  ctx.addIssue({ code: 'custom', path, message, params: { ...params } });
}

/** Reports every `training.<list>[i].name` that an earlier entry already uses. */
function uniqueNames(ctx: Ctx, items: { name: string }[], list: 'inputs' | 'metrics', what: string): void {
  const firstByName = new Map<string, number>();
  items.forEach(({ name }, i) => {
    const first = firstByName.get(name);
    if (first === undefined) firstByName.set(name, i);
    else
      report(ctx, ['training', list, i, 'name'], `duplicates training.${list}[${first}].name; ${what} names must be unique`, {
        expected: `a ${what} name not used before`,
      });
  });
}

export function isJsonContentType(contentType: string): boolean {
  const mediaType = contentType.split(';')[0]!.trim().toLowerCase();
  return mediaType === 'application/json' || mediaType.endsWith('+json');
}

export function checkCrossFieldRules(spec: PipelineSpec, ctx: Ctx): void {
  checkImage(spec, ctx);
  checkTraining(spec, ctx);
  checkGate(spec, ctx);
  checkApproval(spec, ctx);
  checkStrategy(spec, ctx);
  checkSmokeTest(spec, ctx);
  checkSchedule(spec, ctx);
  checkDurations(spec, ctx);
  checkTags(spec, ctx);
  checkCredentials(spec, ctx);
}

/** ECR's and the local image store's repository names; the pipeline name is the default repository. */
const REPOSITORY_NAME = /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/;

function checkImage({ image, name }: PipelineSpec, ctx: Ctx): void {
  if (image.context !== undefined && image.repository === undefined && !(name.length >= 2 && REPOSITORY_NAME.test(name)))
    report(
      ctx,
      ['image', 'repository'],
      `required here: the build is pushed to a repository named after the pipeline by default, and "${name}" is not a valid repository name (2 to 256 lowercase letters and digits, single . _ - between them)`,
      { expected: 'a repository name such as pricing/claims-severity', found: 'nothing' },
    );
  if (image.context === undefined && image.uri === undefined) {
    report(ctx, ['image', 'context'], 'give image.context (a build context folder) or image.uri (a prebuilt image)', {
      expected: 'a folder holding a Dockerfile, or image.uri instead',
    });
  } else if (image.context !== undefined && image.uri !== undefined) {
    report(ctx, ['image', 'uri'], 'give image.context or image.uri, not both: remove image.uri to build from the context, or image.context to use the prebuilt image', {
      expected: 'nothing while image.context is given',
    });
  }
  if (image.uri !== undefined && image.repository !== undefined) {
    report(ctx, ['image', 'repository'], 'only used when building from image.context; a prebuilt image.uri is not pushed anywhere', {
      expected: 'nothing while image.uri is given',
    });
  }
}

function checkTraining({ training }: PipelineSpec, ctx: Ctx): void {
  uniqueNames(ctx, training.inputs, 'inputs', 'channel');
  uniqueNames(ctx, training.metrics, 'metrics', 'metric');
  training.metrics.forEach((metric, i) => {
    let pattern: RegExp;
    try {
      pattern = new RegExp(metric.regex);
    } catch (err) {
      report(ctx, ['training', 'metrics', i, 'regex'], `is not a valid regular expression: ${(err as Error).message}`, {
        expected: 'a regular expression with one capture group, e.g. rmse=([0-9.]+)',
      });
      return;
    }
    // An alternation with the empty string always matches, which reveals the group count.
    const groups = new RegExp(`${pattern.source}|`).exec('')!.length - 1;
    if (groups < 1)
      report(ctx, ['training', 'metrics', i, 'regex'], 'has no capture group; SageMaker reads the value from the first group', {
        expected: 'a regular expression with one capture group, e.g. rmse=([0-9.]+)',
      });
    const backtracking = findBacktrackingProblem(metric.regex);
    if (backtracking)
      report(ctx, ['training', 'metrics', i, 'regex'], describeBacktrackingProblem(backtracking), {
        expected: 'a regular expression without nested repetition, e.g. rmse=([0-9.]+)',
      });
  });

  const entries = Object.entries(training.hyperparameters);
  const limits = HYPERPARAMETER_LIMITS;
  if (entries.length > limits.entries)
    report(ctx, ['training', 'hyperparameters'], `has ${entries.length} entries; SageMaker accepts at most ${limits.entries}`, {
      found: `${entries.length} entries`,
      expected: `at most ${limits.entries} entries`,
    });
  for (const [key, value] of entries) {
    if (key.length > limits.keyLength || key.length === 0)
      report(ctx, ['training', 'hyperparameters'], `key "${abbreviate(key)}" is ${key.length} characters; SageMaker accepts 1 to ${limits.keyLength}`, {
        found: `a key of ${key.length} characters`,
        expected: `keys of 1 to ${limits.keyLength} characters`,
      });
    else if (CONTROL.test(key))
      report(ctx, ['training', 'hyperparameters', key], 'has a key with line breaks or other control characters, which SageMaker refuses; rename it', {
        found: JSON.stringify(abbreviate(key)),
        expected: 'a key on one line',
      });
    const text = String(value);
    if (text.length > limits.valueLength)
      report(ctx, ['training', 'hyperparameters', key], `is ${text.length} characters once turned into a string; SageMaker accepts at most ${limits.valueLength}`, {
        found: `a value of ${text.length} characters`,
        expected: `at most ${limits.valueLength} characters`,
      });
    else if (CONTROL.test(text))
      report(ctx, ['training', 'hyperparameters', key], 'has line breaks or other control characters, which SageMaker refuses in hyperparameters; put the value on one line', {
        expected: 'one line of text',
      });
  }
}

function checkGate({ gate, training }: PipelineSpec, ctx: Ctx): void {
  const defined = training.metrics.map((m) => m.name);
  const known = new Set(defined);
  const expected =
    defined.length === 0
      ? 'a metric defined in training.metrics (none is defined yet)'
      : `one of the names in training.metrics: ${defined.join(', ')}`;
  const hint =
    defined.length === 0
      ? 'define it in training.metrics with a regex that captures its value from the training log'
      : `training.metrics defines ${defined.join(', ')}`;
  gate.thresholds.forEach((threshold, i) => {
    if (!known.has(threshold.metric))
      report(ctx, ['gate', 'thresholds', i, 'metric'], `is not a metric of this pipeline; ${hint}`, { expected });
  });
  if (gate.champion && !known.has(gate.champion.metric))
    report(ctx, ['gate', 'champion', 'metric'], `is not a metric of this pipeline; ${hint}`, { expected });
}

// onTimeout only decides what an unanswered approval means; with no approval
// requested nothing can time out, so "approve" there is a misunderstanding
// (perhaps of required) rather than a harmless no-op.
function checkApproval({ approval }: PipelineSpec, ctx: Ctx): void {
  if (!approval.required && approval.onTimeout === 'approve')
    report(
      ctx,
      ['approval', 'onTimeout'],
      'has no effect while approval.required is false (no approval is awaited, so none can time out): set approval.required: true to wait for a reviewer and approve when none answers in approval.timeout, or remove onTimeout',
      { expected: '"reject" (or nothing) while approval.required is false' },
    );
}

function checkStrategy({ deployment }: PipelineSpec, ctx: Ctx): void {
  const s = deployment.strategy;
  const at = (field: string): Path => ['deployment', 'strategy', field];
  if (s.type === 'canary') {
    if (s.canaryPercent === undefined)
      report(ctx, at('canaryPercent'), 'required when strategy.type is "canary"', { expected: 'a number in (0, 100)' });
    else if (s.canaryPercent >= 100)
      report(ctx, at('canaryPercent'), 'must be below 100: a canary of all the traffic is an all-at-once update (use type: all-at-once)', {
        expected: 'a number in (0, 100)',
      });
  } else if (s.canaryPercent !== undefined) {
    report(ctx, at('canaryPercent'), `only applies when strategy.type is "canary" (it is "${s.type}"); remove it or set type: canary`, {
      expected: 'nothing',
    });
  }
  if (s.type === 'linear') {
    if (s.linearStepPercent === undefined)
      report(ctx, at('linearStepPercent'), 'required when strategy.type is "linear"', { expected: 'a number in (0, 100]' });
  } else if (s.linearStepPercent !== undefined) {
    report(ctx, at('linearStepPercent'), `only applies when strategy.type is "linear" (it is "${s.type}"); remove it or set type: linear`, {
      expected: 'nothing',
    });
  }
}

function checkSmokeTest({ deployment }: PipelineSpec, ctx: Ctx): void {
  const smoke = deployment.smokeTest;
  if (!smoke) return;
  if (typeof smoke.body !== 'string' && !isJsonContentType(smoke.contentType))
    report(
      ctx,
      ['deployment', 'smokeTest', 'body'],
      `must be a string when contentType is "${smoke.contentType}"; only a JSON contentType (application/json or */*+json) sends an object or list as JSON`,
      { expected: 'a string, or contentType: application/json' },
    );
  if (smoke.expectJsonPaths.length > 0 && !isJsonContentType(smoke.accept))
    report(
      ctx,
      ['deployment', 'smokeTest', 'expectJsonPaths'],
      `needs a JSON response, but accept is "${smoke.accept}"; set accept: application/json or remove expectJsonPaths`,
      { expected: 'nothing while accept is not JSON' },
    );
}

// schedule.skipWhenDataUnchanged lives inside `schedule`, whose cron is
// required, so the field cannot appear without a schedule: no rule needed.
function checkSchedule({ schedule }: PipelineSpec, ctx: Ctx): void {
  if (!schedule) return;
  let timezoneOk = true;
  if (schedule.timezone !== undefined) {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: schedule.timezone });
    } catch {
      timezoneOk = false;
      report(ctx, ['schedule', 'timezone'], 'is not a known IANA time zone', {
        expected: 'an IANA time zone such as UTC, Europe/London or America/New_York',
      });
    }
  }
  const cron = schedule.cron.trim();
  const expected = 'five fields "minute hour day-of-month month day-of-week" such as "0 3 * * *", or one of ' + CRON_MACROS.join(', ');
  if (/^CRON_TZ=|^TZ=/i.test(cron)) {
    report(ctx, ['schedule', 'cron'], 'must not carry a time zone prefix; put the zone in schedule.timezone', { expected });
    return;
  }
  if (cron.startsWith('@')) {
    if (!CRON_MACROS.includes(cron.toLowerCase()))
      report(ctx, ['schedule', 'cron'], `is not a macro Temporal Schedules understand`, { expected });
    return;
  }
  const fields = cron.split(/\s+/).length;
  // Six-field crons mean "seconds first" to cron-parser but "year last" to
  // Temporal, so only the unambiguous five-field form is accepted.
  if (fields !== 5) {
    report(ctx, ['schedule', 'cron'], `has ${fields} field${fields === 1 ? '' : 's'}; a cron expression here has exactly 5`, { expected });
    return;
  }
  try {
    const parsed = CronExpressionParser.parse(cron, timezoneOk && schedule.timezone ? { tz: schedule.timezone } : {});
    parsed.next();
  } catch (err) {
    report(ctx, ['schedule', 'cron'], `does not parse: ${(err as Error).message}`, { expected });
  }
}

function checkDurations(spec: PipelineSpec, ctx: Ctx): void {
  const positive: Array<[Path, string]> = [
    [['timeouts', 'build'], spec.timeouts.build],
    [['timeouts', 'training'], spec.timeouts.training],
    [['timeouts', 'deploy'], spec.timeouts.deploy],
    [['training', 'maxRuntime'], spec.training.maxRuntime],
    [['approval', 'timeout'], spec.approval.timeout],
    [['deployment', 'strategy', 'waitInterval'], spec.deployment.strategy.waitInterval],
  ];
  for (const [path, text] of positive) {
    if (durationMs(text) <= 0) report(ctx, path, 'must be longer than zero', { expected: 'a positive duration such as 90s, 30m, 24h or 7d' });
  }
  const ceilings: Array<[Path, string, number, string]> = [
    [['approval', 'timeout'], spec.approval.timeout, MAX_DURATION_MS.approval, 'an approval left open longer judges a candidate trained on stale data; run the pipeline again instead'],
    [['timeouts', 'build'], spec.timeouts.build, MAX_DURATION_MS.build, 'a build that needs longer has gone wrong'],
    [['timeouts', 'training'], spec.timeouts.training, MAX_DURATION_MS.training, "SageMaker's 28-day limit for a training job plus a week waiting for capacity"],
    [['timeouts', 'deploy'], spec.timeouts.deploy, MAX_DURATION_MS.deploy, 'a deployment that needs longer has gone wrong'],
  ];
  for (const [path, text, ceiling, why] of ceilings) {
    if (durationMs(text) > ceiling)
      report(ctx, path, `is longer than champ allows (at most ${ceiling / 86_400_000}d: ${why})`, { expected: `at most ${ceiling / 86_400_000}d` });
  }
  const maxRuntime = durationMs(spec.training.maxRuntime);
  if (maxRuntime > MAX_TRAINING_RUNTIME_MS)
    report(ctx, ['training', 'maxRuntime'], "exceeds SageMaker's limit for a training job (28 days)", { expected: 'at most 28d' });
  if (maxRuntime % 1000 !== 0)
    report(ctx, ['training', 'maxRuntime'], 'must be whole seconds (SageMaker takes MaxRuntimeInSeconds)', { expected: 'a duration in s, m, h or d' });
  const trainingDeadline = durationMs(spec.timeouts.training);
  if (trainingDeadline > 0 && trainingDeadline < maxRuntime && maxRuntime <= MAX_TRAINING_RUNTIME_MS)
    report(
      ctx,
      ['timeouts', 'training'],
      `is shorter than training.maxRuntime (${spec.training.maxRuntime}): the pipeline would give up on a job SageMaker still runs; raise timeouts.training to at least ${spec.training.maxRuntime}`,
      { found: JSON.stringify(spec.timeouts.training), expected: `at least ${spec.training.maxRuntime}` },
    );
  const s = spec.deployment.strategy;
  for (const field of ['waitInterval', 'terminationWait'] as const) {
    if (durationMs(s[field]) > MAX_STRATEGY_WAIT_MS)
      report(ctx, ['deployment', 'strategy', field], "exceeds SageMaker's limit for a blue/green update (1 hour)", { expected: 'at most 1h' });
  }
}

function checkTags({ tags }: PipelineSpec, ctx: Ctx): void {
  const entries = Object.entries(tags);
  const limits = TAG_LIMITS;
  if (entries.length > limits.entries)
    report(ctx, ['tags'], `has ${entries.length} tags; AWS accepts at most ${limits.entries} per resource`, {
      found: `${entries.length} tags`,
      expected: `at most ${limits.entries} tags`,
    });
  for (const [key, value] of entries) {
    if (key.length === 0 || key.length > limits.keyLength)
      report(ctx, ['tags'], `key "${abbreviate(key)}" is ${key.length} characters; AWS accepts 1 to ${limits.keyLength}`, {
        found: `a key of ${key.length} characters`,
        expected: `keys of 1 to ${limits.keyLength} characters`,
      });
    else if (!TAG_TEXT.test(key))
      report(ctx, ['tags', key], 'has a key with characters AWS does not accept in tags', {
        found: JSON.stringify(key),
        expected: 'letters, digits, spaces and _ . : / = + - @',
      });
    else if (key.toLowerCase().startsWith('aws:'))
      report(ctx, ['tags', key], 'uses the "aws:" prefix, which AWS reserves for its own tags', { expected: 'a key not starting with aws:' });
    if (value.length > limits.valueLength)
      report(ctx, ['tags', key], `is ${value.length} characters; AWS accepts at most ${limits.valueLength}`, {
        found: `a value of ${value.length} characters`,
        expected: `at most ${limits.valueLength} characters`,
      });
    else if (!TAG_TEXT.test(value))
      report(ctx, ['tags', key], 'has characters AWS does not accept in tag values', {
        expected: 'letters, digits, spaces and _ . : / = + - @',
      });
  }
}

function abbreviate(text: string): string {
  return text.length > 24 ? `${text.slice(0, 20)}…` : text;
}
