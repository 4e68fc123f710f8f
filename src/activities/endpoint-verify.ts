// Verification: the endpoint serves the config we asked for with no
// FailureReason (judged by judgeEndpoint, as the workflow judges it), then
// answers a smoke test the way the spec expects.
import { InvokeEndpointCommand } from '@aws-sdk/client-sagemaker-runtime';
import { categorize, classifyAwsError, errorFacts, hasErrorCode } from '../aws/errors';
import { endpointProblems } from '../aws/status';
import type { SmokeTestSpec } from '../spec/schema';
import { activityEnv } from './context';
import type { ActivityDeps } from './deps';
import { endpointState, findEndpoint } from './endpoint-calls';
import type { VerifyEndpointInput, VerifyResult } from './types';

const EXCERPT_CHARS = 500;

/** Whether a dotted path (`predictions.0.score`) exists in a parsed JSON value. */
export function jsonPathExists(value: unknown, dotted: string): boolean {
  let cur: unknown = value;
  for (const part of dotted.split('.')) {
    if (Array.isArray(cur)) {
      if (!/^\d+$/.test(part)) return false;
      const i = Number(part);
      if (i >= cur.length) return false;
      cur = cur[i];
    } else if (cur !== null && typeof cur === 'object') {
      if (!Object.prototype.hasOwnProperty.call(cur, part)) return false;
      cur = (cur as Record<string, unknown>)[part];
    } else {
      return false;
    }
  }
  return true;
}

/** Judges one smoke-test response against the spec's expectations. */
export function judgeSmokeTest(test: SmokeTestSpec, status: number, body: string): VerifyResult {
  const response = { status, excerpt: body.slice(0, EXCERPT_CHARS) };
  if (status !== test.expectStatus) {
    return { ok: false, reason: `the smoke test got HTTP ${status}, expected ${test.expectStatus}`, response };
  }
  if (test.expectJsonPaths.length) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      return { ok: false, reason: `the smoke test response is not JSON, so its paths ${test.expectJsonPaths.join(', ')} cannot be checked`, response };
    }
    const missing = test.expectJsonPaths.filter((p) => !jsonPathExists(parsed, p));
    if (missing.length) return { ok: false, reason: `the smoke test response lacks ${missing.join(', ')}`, response };
  }
  return { ok: true, response };
}

export function createVerifyActivities(deps: ActivityDeps) {
  const sm = deps.clients.sagemaker;
  const runtime = deps.clients.runtime;

  async function invokeSmokeTest(endpointName: string, test: SmokeTestSpec): Promise<VerifyResult> {
    const body = typeof test.body === 'string' ? test.body : JSON.stringify(test.body);
    try {
      const out = await runtime.send(
        new InvokeEndpointCommand({ EndpointName: endpointName, Body: Buffer.from(body, 'utf8'), ContentType: test.contentType, Accept: test.accept }),
      );
      const text = out.Body ? Buffer.from(out.Body).toString('utf8') : '';
      return judgeSmokeTest(test, 200, text);
    } catch (err) {
      if (hasErrorCode(err, 'ModelError')) {
        // The container answered with an error status; SageMaker relays it as ModelError.
        const e = err as { OriginalStatusCode?: number; OriginalMessage?: string; message?: string };
        return judgeSmokeTest(test, e.OriginalStatusCode ?? 500, e.OriginalMessage ?? e.message ?? '');
      }
      const facts = errorFacts(err);
      if (categorize(facts) === 'retryable') throw classifyAwsError(err, { operation: 'InvokeEndpoint', resource: `endpoint ${endpointName}` });
      return { ok: false, reason: `the smoke test request failed: ${facts.code}: ${facts.message}` };
    }
  }

  async function verifyEndpoint(input: VerifyEndpointInput): Promise<VerifyResult> {
    const env = activityEnv(deps.log);
    const d = await findEndpoint(sm, input.endpointName);
    // Every problem, not only the first the workflow reports: a failed update also says which config still serves.
    const problems = d ? endpointProblems(endpointState(d, input.endpointName), input.expectedConfigName) : [`endpoint ${input.endpointName} does not exist`];
    let result: VerifyResult;
    if (problems.length) result = { ok: false, reason: problems.join('; ') };
    else if (!input.smokeTest) result = { ok: true };
    else result = await invokeSmokeTest(input.endpointName, input.smokeTest);
    env.log.info(result.ok ? 'endpoint verified' : 'endpoint verification failed', { endpointName: input.endpointName, reason: result.reason });
    return result;
  }

  return { verifyEndpoint };
}
