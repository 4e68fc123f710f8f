// Principle 8: a deployed pipeline's history holds names and URIs, never the
// worker's credentials or a token, not even in the failures of retried calls.
import { withWorker } from '../harness/temporal';
import { injectFault, reset } from '../../src/local';
import { pipelineInput, startE2e, startPipeline, type E2eEnv } from './helpers';
import { entityHistory } from './history';
import type { StaticCredentials } from '../../src/aws/clients';
import { readableText } from '../support/inspect';

jest.setTimeout(90_000);

const SECRETS: StaticCredentials = {
  accessKeyId: 'AKIACHAMPSECRET123',
  secretAccessKey: 'champ-secret-value-xyz',
  sessionToken: 'champ-session-token-0b1c2d3e4f',
};

/** Patterns of credentials and tokens in general, whoever they belong to. */
const TOKEN_PATTERNS: RegExp[] = [
  /\b(AKIA|ASIA)[0-9A-Z]{12,}\b/,
  /aws_?secret_?access_?key/i,
  /aws_?session_?token/i,
  /x-amz-security-token/i,
  /\bauthorization\s*[:=]/i,
  /AWS4-HMAC-SHA256\s+Credential=/,
  /\bbearer\s+[A-Za-z0-9._~+/-]{16,}/i,
  /"?password"?\s*[:=]/i,
  /authorizationToken/i,
];

let env: E2eEnv;

beforeAll(async () => {
  env = await startE2e({ credentials: SECRETS });
});

afterAll(async () => {
  await env?.stop();
});


/** Each secret or token pattern found, with the text around it. */
function leaks(text: string): string[] {
  const found: string[] = [];
  const around = (i: number, n: number) => text.slice(Math.max(0, i - 80), i + n + 80);
  for (const secret of [SECRETS.accessKeyId, SECRETS.secretAccessKey, SECRETS.sessionToken ?? '']) {
    for (const form of [secret, Buffer.from(secret).toString('base64')]) {
      const i = text.indexOf(form);
      if (i >= 0) found.push(`${form}: ...${around(i, form.length)}...`);
    }
  }
  for (const pattern of TOKEN_PATTERNS) {
    const m = pattern.exec(text);
    if (m) found.push(`${pattern}: ...${around(m.index, m[0].length)}...`);
  }
  return found;
}

it('holds none of the worker credentials or any token in the history of a deployed pipeline, failed attempts included', async () => {
  // Failed attempts land in history (ActivityTaskStarted.lastFailure): make one,
  // so the AWS error path is scanned too. The SDK retries 5xx three times itself.
  await injectFault(env.sageMakerUrl, { operation: 'CreateModel', mode: 'error', count: 3, message: 'injected CreateModel failure' });
  try {
    const spec = env.makeSpec();
    await withWorker({ activities: env.activities }, async ({ client, taskQueue }) => {
      const handle = await startPipeline(client, taskQueue, pipelineInput(spec));
      const result = await handle.result();
      expect(result.outcome).toBe('deployed');

      // The pipeline's history and that of the endpoint's entity, which ran the deployment (CreateModel included).
      const text = readableText(await handle.fetchHistory()) + '\n' + readableText(await entityHistory(client, result));
      // The scan reads what it should: names, URIs and the retried failure are there.
      expect(text).toContain(spec.deployment.endpointName);
      expect(text).toContain(result.trainingJobName!);
      expect(text).toContain('injected CreateModel failure');

      expect(leaks(text)).toEqual([]);
    });
  } finally {
    await reset(env.sageMakerUrl);
  }
});
