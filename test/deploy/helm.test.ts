// The worker's Helm chart (deploy/helm/champ-worker): `helm lint`, `helm template`,
// and the rendered manifests checked for pinned images, non-root, resource
// limits, probes, the metrics scrape, IRSA and the Temporal TLS secret. Helm is
// installed by scripts/install-helm.sh (.ci/run calls it); without it the tests skip.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';

const ROOT = resolve(__dirname, '../..');
const CHART = resolve(ROOT, 'deploy/helm/champ-worker');

function findHelm(): string | undefined {
  const local = resolve(ROOT, '.tools/bin/helm');
  if (existsSync(local)) return local;
  return spawnSync('helm', ['version', '--short'], { encoding: 'utf8' }).status === 0 ? 'helm' : undefined;
}
const helm = findHelm();
if (!helm) console.warn('skipped: no helm in .tools/bin or on PATH (scripts/install-helm.sh installs it)');
const describeHelm = helm ? describe : describe.skip;

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- rendered manifests, read field by field
type Manifest = { kind: string; metadata: { name: string; annotations?: Record<string, string> }; spec?: any; data?: Record<string, string> };

function render(...sets: string[]): Manifest[] {
  const out = execFileSync(helm!, ['template', 'champ', CHART, ...sets.flatMap((s) => ['--set', s])], { encoding: 'utf8' });
  return parseAllDocuments(out)
    .map((d) => d.toJS() as Manifest | null)
    .filter((m): m is Manifest => m !== null);
}

function renderError(...sets: string[]): string {
  const run = spawnSync(helm!, ['template', 'champ', CHART, ...sets.flatMap((s) => ['--set', s])], { encoding: 'utf8' });
  expect(run.status).not.toBe(0);
  return run.stderr;
}

const kind = (ms: Manifest[], k: string) => ms.filter((m) => m.kind === k);

jest.setTimeout(60_000);

describeHelm('the champ-worker Helm chart', () => {
  it('passes helm lint, also strict', () => {
    const run = spawnSync(helm!, ['lint', '--strict', CHART], { encoding: 'utf8' });
    expect([run.status, run.stdout + run.stderr]).toEqual([0, expect.stringContaining('0 chart(s) failed')]);
  });

  it('renders a Deployment, ServiceAccount, ConfigMap and metrics Service; every container pinned, non-root, limited and probed', () => {
    const ms = render();
    expect(ms.map((m) => m.kind).sort()).toEqual(['ConfigMap', 'Deployment', 'Service', 'ServiceAccount']);
    for (const d of kind(ms, 'Deployment')) {
      const pod = d.spec.template.spec;
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: expect.any(Number) });
      expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
      for (const c of pod.containers) {
        // Pinned: a digest, or a tag that is not latest.
        expect(c.image).toMatch(/@sha256:[a-f0-9]{64}$|:(?!latest$)[\w][\w.-]*$/);
        expect(c.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
        expect(c.resources.limits).toEqual({ cpu: expect.anything(), memory: expect.anything() });
        expect(c.resources.requests).toEqual({ cpu: expect.anything(), memory: expect.anything() });
        expect(c.livenessProbe.httpGet).toEqual({ path: '/metrics', port: 'metrics' });
        expect(c.readinessProbe.httpGet).toEqual({ path: '/metrics', port: 'metrics' });
        expect(c.ports).toEqual([{ name: 'metrics', containerPort: 9464 }]);
      }
      expect(d.spec.template.metadata.annotations).toMatchObject({ 'prometheus.io/scrape': 'true', 'prometheus.io/port': '9464', 'prometheus.io/path': '/metrics' });
      expect(pod.serviceAccountName).toBe(kind(ms, 'ServiceAccount')[0]!.metadata.name);
    }
    // The worker listens on the pod's address for the scrape, and keeps its state on a writable volume.
    expect(kind(ms, 'ConfigMap')[0]!.data).toMatchObject({ CHAMP_METRICS_ADDRESS: '0.0.0.0:9464', CHAMP_HOME: '/var/lib/champ', LOG_FORMAT: 'json' });
    expect(kind(ms, 'Service')[0]!.spec.ports).toEqual([{ name: 'metrics', port: 9464, targetPort: 'metrics' }]);
  });

  it('annotates the ServiceAccount for IRSA and mounts the Temporal TLS secret where the worker reads it', () => {
    const ms = render('serviceAccount.roleArn=arn:aws:iam::123456789012:role/champ-worker', 'temporal.tls.enabled=true', 'temporal.tls.secretName=champ-temporal-tls', 'temporal.tls.serverName=temporal.example.com', 'temporal.apiKey.secretName=champ-temporal-key');
    expect(kind(ms, 'ServiceAccount')[0]!.metadata.annotations).toEqual({ 'eks.amazonaws.com/role-arn': 'arn:aws:iam::123456789012:role/champ-worker' });
    const pod = kind(ms, 'Deployment')[0]!.spec.template.spec;
    expect(pod.volumes).toEqual(expect.arrayContaining([{ name: 'temporal-tls', secret: { secretName: 'champ-temporal-tls', defaultMode: 0o440 } }]));
    expect(pod.containers[0].volumeMounts).toEqual(expect.arrayContaining([{ name: 'temporal-tls', mountPath: '/etc/champ/temporal-tls', readOnly: true }]));
    expect(kind(ms, 'ConfigMap')[0]!.data).toMatchObject({
      TEMPORAL_TLS: 'true',
      TEMPORAL_TLS_CLIENT_CERT_PATH: '/etc/champ/temporal-tls/tls.crt',
      TEMPORAL_TLS_CLIENT_KEY_PATH: '/etc/champ/temporal-tls/tls.key',
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: '/etc/champ/temporal-tls/ca.crt',
      TEMPORAL_TLS_SERVER_NAME: 'temporal.example.com',
    });
    expect(pod.containers[0].env).toEqual([{ name: 'TEMPORAL_API_KEY', valueFrom: { secretKeyRef: { name: 'champ-temporal-key', key: 'api-key' } } }]);
  });

  it('pins by digest when one is given, and adds a ServiceMonitor on request', () => {
    const digest = `sha256:${'a'.repeat(64)}`;
    const ms = render(`image.digest=${digest}`, 'metrics.serviceMonitor.enabled=true');
    expect(kind(ms, 'Deployment')[0]!.spec.template.spec.containers[0].image).toBe(`ghcr.io/example/champ-worker@${digest}`);
    expect(kind(ms, 'ServiceMonitor')[0]!.spec.endpoints).toEqual([{ port: 'metrics', path: '/metrics', interval: '30s' }]);
  });

  it('refuses an unpinned image and TLS without its secret, naming the value and the fix', () => {
    expect(renderError('image.tag=latest')).toContain('image.tag="latest": pin the image with a version tag or image.digest');
    expect(renderError('image.tag=')).toContain('image.tag="": pin the image');
    expect(renderError('image.digest=sha256:short')).toContain('image.digest="sha256:short": give a digest');
    expect(renderError('temporal.tls.enabled=true')).toContain('temporal.tls.secretName is empty');
  });
});
