// docker-compose.yml: valid for Compose (when a compose client is installed:
// Debian's docker-compose package or the docker compose plugin), and what the
// team setup promises: Temporal's server and admin-tools images with a schema
// step (no auto-setup), pinned images, ports on 127.0.0.1 only, the worker built
// here and scraped by the monitoring profile's Prometheus.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse } from 'yaml';

const ROOT = resolve(__dirname, '../..');
const FILE = resolve(ROOT, 'docker-compose.yml');
type Service = { image?: string; build?: { context: string }; ports?: string[]; profiles?: string[]; depends_on?: Record<string, { condition: string }>; environment?: Record<string, string>; volumes?: string[]; entrypoint?: string[]; group_add?: string[] };
const compose = parse(readFileSync(FILE, 'utf8'), { merge: true }) as { services: Record<string, Service> };
const services = compose.services;

function composeClient(): string[] | undefined {
  if (spawnSync('docker', ['compose', 'version'], { encoding: 'utf8' }).status === 0) return ['docker', 'compose'];
  if (spawnSync('docker-compose', ['version'], { encoding: 'utf8' }).status === 0) return ['docker-compose'];
  return undefined;
}
const client = composeClient();
if (!client) console.warn('skipped: the Compose validation (no docker compose plugin nor docker-compose; apt-get install docker-compose)');

(client ? it : it.skip)('is valid for Compose, with and without the monitoring profile', () => {
  for (const profile of [[], ['--profile', 'monitoring']]) {
    const r = spawnSync(client![0]!, [...client!.slice(1), '-f', FILE, ...profile, 'config', '-q'], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, DOCKER_GID: '999' } });
    expect([profile, r.status, r.stderr]).toEqual([profile, 0, '']);
  }
});

it('runs Temporal from the server image after a schema step by the admin tools (no auto-setup), all at one version', () => {
  const images = Object.values(services).map((s) => s.image ?? '');
  expect(images.filter((i) => i.includes('auto-setup'))).toEqual([]);
  const server = services.temporal!.image!;
  expect(server).toMatch(/^temporalio\/server:\d+\.\d+\.\d+$/);
  const version = server.split(':')[1];
  expect(services['temporal-schema']!.image).toBe(`temporalio/admin-tools:${version}`);
  expect(services['temporal-init']!.image).toBe(`temporalio/admin-tools:${version}`);
  expect(services.temporal!.depends_on).toEqual({ 'temporal-schema': { condition: 'service_completed_successfully' } });
  expect(services.worker!.depends_on).toEqual({ 'temporal-init': { condition: 'service_completed_successfully' } });
  for (const step of ['temporal-schema', 'temporal-init']) {
    const script = services[step]!.entrypoint!.at(-1)!.replace('/champ/', 'deploy/compose/');
    expect(existsSync(resolve(ROOT, script))).toBe(true);
    expect(spawnSync('sh', ['-n', resolve(ROOT, script)]).status).toBe(0);
  }
  expect(readFileSync(resolve(ROOT, 'deploy/compose/temporal-init.sh'), 'utf8')).toEqual(expect.stringContaining('ChampPipeline ChampStage ChampOutcome'));
});

it('pins every image and publishes ports on 127.0.0.1 only', () => {
  for (const [name, s] of Object.entries(services)) {
    if (s.image) expect([name, s.image]).toEqual([name, expect.stringMatching(/^[\w./-]+:(?!latest$)[\w.-]+$/)]);
    for (const port of s.ports ?? []) expect([name, port]).toEqual([name, expect.stringMatching(/^127\.0\.0\.1:\d+:\d+$/)]);
  }
});

it('builds the worker here, gives it a writable home and the socket group, and has Prometheus scrape its metrics address', () => {
  const worker = services.worker!;
  expect(worker.build).toMatchObject({ context: '.' });
  expect(worker.environment).toMatchObject({ CHAMP_METRICS_ADDRESS: '0.0.0.0:9464', CHAMP_HOME: '/var/lib/champ', TEMPORAL_ADDRESS: 'temporal:7233' });
  expect(worker.volumes).toEqual(expect.arrayContaining(['champ-home:/var/lib/champ', '/var/run/docker.sock:/var/run/docker.sock']));
  expect(worker.group_add).toEqual(['${DOCKER_GID:-999}']);
  expect(services.prometheus!.profiles).toEqual(['monitoring']);
  expect(services.grafana!.profiles).toEqual(['monitoring']);
  const prometheus = parse(readFileSync(resolve(ROOT, 'deploy/prometheus/prometheus.yml'), 'utf8')) as { scrape_configs: Array<{ job_name: string; static_configs: Array<{ targets: string[] }> }> };
  expect(prometheus.scrape_configs.find((j) => j.job_name === 'champ-worker')!.static_configs[0]!.targets).toEqual(['worker:9464']);
  for (const v of [...services.prometheus!.volumes!, ...services.grafana!.volumes!].filter((v) => v.startsWith('./'))) {
    expect([v, existsSync(resolve(ROOT, v.split(':')[0]!))]).toEqual([v, true]);
  }
});

it('keeps the build context small: the root .dockerignore lets in only what the Dockerfile copies', () => {
  const ignore = readFileSync(resolve(ROOT, '.dockerignore'), 'utf8').split('\n').filter((l) => l && !l.startsWith('#'));
  expect(ignore[0]).toBe('*');
  expect(ignore.filter((l) => l.startsWith('!'))).toEqual(['!package.json', '!package-lock.json', '!tsconfig.json', '!tsconfig.build.json', '!src/', '!scripts/bundle-workflows.ts', '!.prebuilt/']);
  const dockerfile = readFileSync(resolve(ROOT, 'Dockerfile'), 'utf8');
  expect(dockerfile).not.toMatch(/docker\.io|docker-ce\b/);
  expect(dockerfile).toMatch(/^USER 1000:1000$/m);
});
