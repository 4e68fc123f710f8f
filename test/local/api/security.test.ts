import * as http from 'node:http';
import { CreateModelCommand, DescribeModelCommand } from '@aws-sdk/client-sagemaker';
import { useHarness } from './fake-runtime';

const h = useHarness();

function post(path: string, headers: Record<string, string>, body = '{}'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const r = http.request({ host: '127.0.0.1', port: h.server.port, method: 'POST', path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    r.on('error', reject);
    r.end(body);
  });
}

test('a web page cannot drive the control plane: any request with an Origin header is refused, and nothing is reset', async () => {
  await h.sm.send(new CreateModelCommand({ ModelName: 'kept', PrimaryContainer: { Image: 'local/m:1' } }));
  // A "simple" cross-site POST needs no CORS preflight: the browser sends it and only hides the answer.
  const reset = await post('/_champ/reset', { 'content-type': 'text/plain', origin: 'https://evil.example' });
  expect(reset.status).toBe(403);
  expect(JSON.parse(reset.body)).toMatchObject({ __type: 'AccessDeniedException' });
  const invoke = await post('/endpoints/x/invocations', { 'content-type': 'text/plain', origin: 'null' });
  expect(invoke.status).toBe(403);
  expect((await h.sm.send(new DescribeModelCommand({ ModelName: 'kept' }))).ModelName).toBe('kept');
});

test('a Host other than 127.0.0.1 or localhost (DNS rebinding) is refused; localhost is answered', async () => {
  const target = { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'SageMaker.ListModels' };
  const rebound = await post('/', { ...target, host: `rebind.evil.example:${h.server.port}` });
  expect(rebound.status).toBe(403);
  expect(JSON.parse(rebound.body).message).toMatch(/^Host rebind\.evil\.example:\d+ is refused/);
  expect((await post('/', { ...target, host: `localhost:${h.server.port}` })).status).toBe(200);
  expect((await post('/', target)).status).toBe(200);
});
