// trainingPipeline when its endpoint does not do what it was told: a rollback
// whose update is lost is driven again, and a run whose endpoint another run
// updated after it neither undoes that update nor records its candidate as
// champion. Fake activities play the endpoint; the e2e tests
// (test/e2e/rollback-crash.test.ts, test/e2e/concurrency.test.ts) produce the
// same cases with the local control plane.
import { withWorker } from '../harness/temporal';
import { fakeActivities, testSpec } from './fake-activities';
import { startPipeline } from './helpers';

const OLD_CONFIG = 'demo-0123456789ab-config';
const OTHER_RUNS_CONFIG = 'demo-fedcba987654-config';
const smokeTestFails = { ok: false, reason: 'smoke test answered 500' };

describe('trainingPipeline and other runs on its endpoint', () => {
  it('rolls back again when the endpoint comes back on the rejected config after the rollback, and ends rolled-back on the previous config', async () => {
    let lostUpdates = 1;
    const fake = fakeActivities(
      {
        async verifyEndpoint() {
          return smokeTestFails;
        },
        async rollbackEndpoint({ configName }) {
          // A control-plane crash mid-update: the endpoint recovers on the config it ran.
          if (lostUpdates-- > 0) return { action: 'started', configName };
          fake.endpoint.configName = configName;
          return { action: 'started', configName };
        },
      },
      { servingConfig: OLD_CONFIG },
    );
    await withWorker({ activities: fake.activities }, async ({ client, taskQueue }) => {
      const result = await (await startPipeline(client, taskQueue, { spec: testSpec() })).result();
      expect(result).toMatchObject({ outcome: 'rolled-back', reason: 'smoke test answered 500' });
      expect(fake.inputs('rollbackEndpoint')).toHaveLength(2);
      expect(fake.endpoint.configName).toBe(OLD_CONFIG);
      expect(fake.inputs('markChampion')).toEqual([]);
    });
  });

  it('gives up within a bounded number of attempts when the rollback never takes, failing the run and keeping the config the endpoint runs', async () => {
    const fake = fakeActivities(
      {
        async verifyEndpoint() {
          return smokeTestFails;
        },
        async rollbackEndpoint({ configName }) {
          return { action: 'started', configName };
        },
      },
      { servingConfig: OLD_CONFIG },
    );
    await withWorker({ activities: fake.activities }, async ({ client, taskQueue }) => {
      const handle = await startPipeline(client, taskQueue, { spec: testSpec() });
      await expect(handle.result()).rejects.toThrow();
      expect(fake.inputs('rollbackEndpoint')).toHaveLength(5);
      expect(fake.inputs('deleteEndpointConfig')).toEqual([]);
      expect(fake.inputs('markChampion')).toEqual([]);
    });
  });

  it('ends superseded, rolling nothing back, when the endpoint settles on another run’s config', async () => {
    const fake = fakeActivities(
      {
        async awaitEndpoint({ endpointName }) {
          return { endpointName, status: 'InService', configName: OTHER_RUNS_CONFIG };
        },
      },
      { servingConfig: OLD_CONFIG },
    );
    await withWorker({ activities: fake.activities }, async ({ client, taskQueue }) => {
      const result = await (await startPipeline(client, taskQueue, { spec: testSpec() })).result();
      expect(result.outcome).toBe('superseded');
      expect(result.reason).toContain(`superseded by ${OTHER_RUNS_CONFIG}`);
      for (const name of ['rollbackEndpoint', 'deleteEndpoint', 'deleteEndpointConfig', 'deleteModel', 'markChampion', 'verifyEndpoint'] as const) {
        expect([name, fake.inputs(name)]).toEqual([name, []]);
      }
    });
  });

  it('does not delete an endpoint it created once another run updated it, when its own verification fails', async () => {
    const fake = fakeActivities({
      async verifyEndpoint() {
        // The other run's update landed between the settle and the smoke test.
        fake.endpoint.configName = OTHER_RUNS_CONFIG;
        return { ok: false, reason: `endpoint demo-endpoint runs config ${OTHER_RUNS_CONFIG}` };
      },
    });
    await withWorker({ activities: fake.activities }, async ({ client, taskQueue }) => {
      const result = await (await startPipeline(client, taskQueue, { spec: testSpec() })).result();
      expect(result.outcome).toBe('superseded');
      expect(fake.inputs('deleteEndpoint')).toEqual([]);
      expect(fake.inputs('deleteEndpointConfig')).toEqual([]);
      expect(fake.endpoint.configName).toBe(OTHER_RUNS_CONFIG);
    });
  });

  it('does not roll back another run’s later update when its own verification fails', async () => {
    const fake = fakeActivities(
      {
        async verifyEndpoint() {
          fake.endpoint.configName = OTHER_RUNS_CONFIG;
          return smokeTestFails;
        },
        async rollbackEndpoint({ fromConfigName }) {
          // What the real activity answers when the endpoint runs neither config.
          expect(fromConfigName).toBeDefined();
          return { action: 'superseded', configName: fake.endpoint.configName };
        },
      },
      { servingConfig: OLD_CONFIG },
    );
    await withWorker({ activities: fake.activities }, async ({ client, taskQueue }) => {
      const result = await (await startPipeline(client, taskQueue, { spec: testSpec() })).result();
      expect(result.outcome).toBe('superseded');
      expect(result.reason).toContain('smoke test answered 500');
      expect(fake.endpoint.configName).toBe(OTHER_RUNS_CONFIG);
      expect(fake.inputs('deleteEndpointConfig')).toEqual([]);
      expect(fake.inputs('markChampion')).toEqual([]);
    });
  });

  it('does not record its candidate as champion when another run replaced it on the endpoint after verification', async () => {
    let settles = 0;
    const fake = fakeActivities(
      {
        async awaitEndpoint({ endpointName }) {
          settles += 1;
          return { endpointName, status: 'InService', configName: settles === 1 ? fake.endpoint.configName : OTHER_RUNS_CONFIG };
        },
      },
      { servingConfig: OLD_CONFIG },
    );
    await withWorker({ activities: fake.activities }, async ({ client, taskQueue }) => {
      const result = await (await startPipeline(client, taskQueue, { spec: testSpec() })).result();
      expect(result.outcome).toBe('superseded');
      expect(fake.inputs('verifyEndpoint')).toHaveLength(1);
      expect(fake.inputs('markChampion')).toEqual([]);
      expect(fake.inputs('cleanupOldVersions')).toEqual([]);
    });
  });
});
