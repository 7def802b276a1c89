import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { INCIDENT_SEARCH_ATTRIBUTES } from '../client';
import { configSchema } from '../lib/config';
import { PROVIDERS } from '../providers';

const ROOT = join(__dirname, '..');

interface Service {
  image: string;
  build?: string;
  command?: string[];
  depends_on?: Record<string, { condition: string }>;
  environment?: Record<string, string>;
  healthcheck?: { test: string[] };
  ports?: string[];
  volumes?: string[];
  deploy?: { replicas: number };
}

const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, Service>;
};
const services = compose.services;

test('every image is pinned to a version', () => {
  for (const [name, service] of Object.entries(services)) {
    expect([name, service.image]).toEqual([name, expect.stringMatching(/^[\w./-]+:\d+(\.\d+)+[\w.-]*$/)]);
  }
});

test('Temporal runs on PostgreSQL persistence with the dynamic config update-with-start needs', () => {
  const temporal = services.temporal;
  expect(temporal.environment).toMatchObject({ DB: 'postgres12', POSTGRES_SEEDS: 'postgresql' });
  expect(temporal.depends_on?.postgresql.condition).toBe('service_healthy');
  const mount = temporal.volumes!.find((volume) => volume.includes('dynamicconfig'))!;
  const [hostPath, containerPath] = mount.split(':');
  expect(containerPath).toBe(`/etc/temporal/${temporal.environment!.DYNAMIC_CONFIG_FILE_PATH}`);
  const dynamicConfig = parse(readFileSync(join(ROOT, hostPath), 'utf8')) as Record<
    string,
    { value: unknown }[]
  >;
  expect(dynamicConfig['frontend.enableExecuteMultiOperation'][0].value).toBe(true);
  for (const service of ['postgresql', 'temporal', 'tourniquet-gateway'])
    expect(services[service].healthcheck?.test.length).toBeGreaterThan(0);
});

test('the search attributes registered match the ones the workflow writes', () => {
  const script = (services['temporal-search-attributes'] as unknown as { command: string[] }).command.join(
    ' ',
  );
  const registered = [...script.matchAll(/(Tourniquet\w+):(\w+)/g)]
    .map((match) => `${match[1]}=${match[2].toUpperCase()}`)
    .sort();
  expect(registered).toEqual(INCIDENT_SEARCH_ATTRIBUTES.map((key) => `${key.name}=${key.type}`).sort());
});

test('workers and the gateway reach Temporal by its service name and read only known settings', () => {
  const temporalPort = '7233';
  for (const name of [
    'tourniquet-worker',
    'tourniquet-gateway',
    'temporal-ui',
    'temporal-search-attributes',
  ]) {
    expect([name, services[name].environment?.TEMPORAL_ADDRESS]).toEqual([name, `temporal:${temporalPort}`]);
  }
  const known = new Set([
    ...Object.keys(configSchema.shape),
    // What configures each system comes from the provider list.
    ...PROVIDERS.flatMap((provider) => provider.settings),
    'TOURNIQUET_EVIDENCE_KEY',
    'SLACK_SIGNING_SECRET',
    'SLACK_BOT_TOKEN',
    'SIEM_SECRET_GENERIC',
    'SIEM_SECRET_GITGUARDIAN',
    'SIEM_SECRET_SPLUNK',
    'SIEM_SECRET_AZURE_MONITOR',
    'SIEM_SECRET_ELASTIC',
    'SIEM_SECRET_DATADOG',
    'SLACK_INCIDENT_CHANNEL',
    'TOURNIQUET_DEFAULT_RUNBOOK',
    'SIEM_SECRET_GITHUB',
  ]);
  for (const name of ['tourniquet-worker', 'tourniquet-gateway']) {
    for (const variable of Object.keys(services[name].environment ?? {}))
      expect([name, variable, known.has(variable)]).toEqual([name, variable, true]);
    expect(services[name].depends_on?.['temporal-search-attributes'].condition).toBe(
      'service_completed_successfully',
    );
  }
  expect(services['tourniquet-worker'].command).toEqual(['worker']);
  expect(services['tourniquet-worker'].deploy?.replicas).toBeGreaterThanOrEqual(2);
  const gateway = services['tourniquet-gateway'];
  expect(gateway.command).toEqual(['gateway']);
  expect(gateway.ports).toContain(
    `${gateway.environment!.TOURNIQUET_PORT}:${gateway.environment!.TOURNIQUET_PORT}`,
  );
  expect(gateway.healthcheck!.test.join(' ')).toContain(
    `127.0.0.1:${gateway.environment!.TOURNIQUET_PORT}/healthz`,
  );
});
