// The Docker engine and the registry that scripts/engine/ensure.sh starts (or a
// developer's own Docker) really work from a test run: a container of the base
// image the example's Dockerfile names runs, a port published on 127.0.0.1 is
// reached, and an image pushed to the registry on 127.0.0.1 comes back by digest.
// Without an engine (or a registry) the tests report themselves skipped, with why.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const REGISTRY = `127.0.0.1:${process.env.CHAMP_REGISTRY_PORT ?? '5000'}`;
// Everything this file creates carries this label or this repository name, so
// cleanup removes exactly its own containers and tags.
const RUN = `engine-test-${process.pid}-${randomBytes(3).toString('hex')}`;
const LABEL = `org.champ.test=${RUN}`;

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function docker(args: string[], opts: { input?: string; timeoutMs?: number } = {}): Run {
  const r = spawnSync('docker', args, { encoding: 'utf8', input: opts.input, timeout: opts.timeoutMs ?? 120_000 });
  const stderr = r.error ? `${r.error.message}\n${r.stderr ?? ''}` : (r.stderr ?? '');
  return { status: r.status, stdout: r.stdout ?? '', stderr };
}

/** Like docker(), but a non-zero exit throws with docker's own words. */
function dockerOk(args: string[], opts: { input?: string; timeoutMs?: number } = {}): string {
  const r = docker(args, opts);
  if (r.status !== 0) throw new Error(`docker ${args.join(' ')} exited ${String(r.status)}: ${r.stderr.trim()}`);
  return r.stdout.trim();
}

function firstLine(text: string): string {
  return text.trim().split('\n')[0] ?? '';
}

/** Why the engine tests cannot run, or undefined when an engine answers. */
function engineMissing(): string | undefined {
  const r = docker(['info', '--format', '{{.ServerVersion}}'], { timeoutMs: 15_000 });
  if (r.status === 0) return undefined;
  return `no Docker engine answers (docker info: ${firstLine(r.stderr) || `exit ${String(r.status)}`}); scripts/engine/ensure.sh starts one as root on Debian`;
}

/** Why the registry test cannot run, or undefined when the registry answers /v2/. */
function registryMissing(): string | undefined {
  const probe = `fetch('http://${REGISTRY}/v2/', { signal: AbortSignal.timeout(3000) })
    .then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(2))`;
  const r = spawnSync(process.execPath, ['-e', probe], { timeout: 10_000 });
  return r.status === 0 ? undefined : `no registry answers on http://${REGISTRY}/v2/ (set CHAMP_REGISTRY_PORT, or run scripts/engine/ensure.sh)`;
}

/** The base image the example's Dockerfile builds on, exactly as its FROM line names it. */
function exampleBaseImage(): string {
  const dockerfile = readFileSync(join(ROOT, 'examples', 'claims-severity', 'Dockerfile'), 'utf8');
  const from = /^FROM\s+(?:--\S+\s+)*(\S+)/im.exec(dockerfile);
  if (!from?.[1]) throw new Error('examples/claims-severity/Dockerfile has no FROM line');
  return from[1];
}

const noEngine = engineMissing();
const noRegistry = noEngine ?? registryMissing();
if (noEngine) console.warn(`engine tests skipped: ${noEngine}`);
else if (noRegistry) console.warn(`registry test skipped: ${noRegistry}`);
const BASE = exampleBaseImage();

afterAll(() => {
  if (noEngine) return;
  const left = docker(['ps', '-aq', '--filter', `label=${LABEL}`]).stdout.split('\n').filter(Boolean);
  if (left.length > 0) docker(['rm', '-f', ...left]);
});

(noEngine ? describe.skip : describe)(`the Docker engine${noEngine ? ` (skipped: ${noEngine})` : ''}`, () => {
  it(`runs the example's base image (${BASE}) under --init`, () => {
    const out = dockerOk(['run', '--init', '--rm', '--label', LABEL, BASE, 'python3', '-c', 'import sys; print(sys.version_info[0] * 14)']);
    expect(out).toBe('42');
  });

  it('publishes a container port on 127.0.0.1 only, and it answers there', async () => {
    const name = `${RUN}-http`;
    try {
      dockerOk(['run', '-d', '--init', '--rm', '--name', name, '--label', LABEL, '-p', '127.0.0.1::8080', BASE, 'python3', '-m', 'http.server', '8080', '--bind', '0.0.0.0', '--directory', '/etc']);
      const bindings = dockerOk(['port', name, '8080/tcp']).split('\n');
      expect(bindings.every((b) => b.startsWith('127.0.0.1:'))).toBe(true);
      const url = `http://${bindings[0]}/os-release`;
      const deadline = Date.now() + 20_000;
      let body = '';
      for (;;) {
        try {
          const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
          body = await res.text();
          if (res.ok) break;
        } catch (err) {
          if (Date.now() > deadline) throw new Error(`${url} did not answer within 20 s: ${String(err)}`);
        }
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(body).toMatch(/^ID=/m);
    } finally {
      docker(['rm', '-f', name]);
    }
  });
});

(noRegistry ? describe.skip : describe)(`the registry on ${REGISTRY}${noRegistry ? ` (skipped: ${noRegistry})` : ''}`, () => {
  it('gives back by digest an image pushed to it', async () => {
    const repo = `${REGISTRY}/champ-engine-test/${RUN}`;
    const tag = `${repo}:pushed`;
    const nonce = randomBytes(8).toString('hex');
    let digest = '';
    try {
      // A layer of its own on the base, so the digest is this run's and not the base's.
      dockerOk(['build', '-q', '--label', LABEL, '-t', tag, '-'], {
        input: `FROM ${BASE}\nRUN echo ${nonce} > /nonce\n`,
        timeoutMs: 180_000,
      });
      const pushed = dockerOk(['push', tag], { timeoutMs: 180_000 });
      digest = /digest: (sha256:[0-9a-f]{64})/.exec(pushed)?.[1] ?? '';
      expect(digest).toMatch(/^sha256:/);
      dockerOk(['rmi', tag]);
      expect(docker(['image', 'inspect', tag]).status).not.toBe(0);

      dockerOk(['pull', `${repo}@${digest}`], { timeoutMs: 180_000 });
      const out = dockerOk(['run', '--init', '--rm', '--label', LABEL, `${repo}@${digest}`, 'cat', '/nonce']);
      expect(out).toBe(nonce);
    } finally {
      docker(['rmi', '-f', tag]);
      if (digest) {
        docker(['rmi', '-f', `${repo}@${digest}`]);
        // The registry keeps the blobs until its garbage collection; the manifest, and
        // with it the image's name, goes now.
        await fetch(`http://${REGISTRY}/v2/champ-engine-test/${RUN}/manifests/${digest}`, { method: 'DELETE' }).catch(() => undefined);
      }
    }
  }, 300_000);
});
