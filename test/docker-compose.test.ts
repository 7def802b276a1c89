import { readFileSync } from 'node:fs';
import { URL_TOKEN_SOURCES, urlTokenAllowEnvName, urlTokenEnvName } from '../gateway/siem/url-token';
import { join } from 'node:path';
import { parse } from 'yaml';
import { INCIDENT_SEARCH_ATTRIBUTES } from '../client';
import { configSchema } from '../lib/config';
import { INVENTORY_SETTING } from '../lib/inventory';
import { PROVIDERS } from '../providers';

const ROOT = join(__dirname, '..');

/** A volume in compose's long syntax (the certificate mounts use it: read-only, never auto-created). */
interface BindMount {
  type: string;
  source: string;
  target: string;
  read_only?: boolean;
  bind?: { create_host_path?: boolean };
}

interface Service {
  image: string;
  build?: string;
  command?: string[];
  depends_on?: Record<string, { condition: string }>;
  environment?: Record<string, string>;
  healthcheck?: { test: string[] };
  ports?: string[];
  volumes?: (string | BindMount)[];
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
  const mount = temporal.volumes!.find(
    (volume): volume is string => typeof volume === 'string' && volume.includes('dynamicconfig'),
  )!;
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
    'TOURNIQUET_REVOKE_AT_INGEST',
    ...URL_TOKEN_SOURCES.flatMap((source) => [urlTokenEnvName(source), urlTokenAllowEnvName(source)]),
    INVENTORY_SETTING,
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

/** Every port a service publishes, as host IP (undefined: all interfaces), host port and container port. */
function publishedPorts(service: Service): { hostIp?: string; host: string; container: string }[] {
  return (service.ports ?? []).map((spec) => {
    const [container, host, hostIp] = String(spec)
      .replace(/\/(tcp|udp)$/, '')
      .split(':')
      .reverse();
    return { hostIp, host: host ?? container, container };
  });
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

test('the Web UI listens on the host loopback only, read-only, with OIDC off unless configured', () => {
  const ui = services['temporal-ui'];
  expect(publishedPorts(ui)).toEqual([{ hostIp: '127.0.0.1', host: '8080', container: '8080' }]);
  // ui-server's config template (config/docker.yaml in temporalio/ui-server): disableWriteActions.
  expect(ui.environment!.TEMPORAL_DISABLE_WRITE_ACTIONS).toBe('true');
  // OIDC settings come from the environment, with no value written here, and auth is off by default.
  const auth = Object.entries(ui.environment!).filter(([name]) => name.startsWith('TEMPORAL_AUTH_'));
  expect(auth.map(([name]) => name).sort()).toEqual(
    [
      'TEMPORAL_AUTH_ENABLED',
      'TEMPORAL_AUTH_PROVIDER_URL',
      'TEMPORAL_AUTH_CLIENT_ID',
      'TEMPORAL_AUTH_CLIENT_SECRET',
      'TEMPORAL_AUTH_CALLBACK_URL',
      'TEMPORAL_AUTH_SCOPES',
    ].sort(),
  );
  for (const [name, value] of auth)
    expect([name, value]).toEqual([name, expect.stringMatching(`^\\$\\{${name}:-`)]);
  expect(ui.environment!.TEMPORAL_AUTH_ENABLED).toBe('${TEMPORAL_AUTH_ENABLED:-false}');
  expect(ui.environment!.TEMPORAL_AUTH_CLIENT_SECRET).toBe('${TEMPORAL_AUTH_CLIENT_SECRET:-}');
});

test("no service publishes Temporal's frontend (7233) beyond the host loopback", () => {
  const exposesFrontend = (service: Service) =>
    publishedPorts(service).some(
      ({ hostIp, host, container }) =>
        (container === '7233' || host === '7233') && !LOOPBACK.has(hostIp ?? ''),
    );
  // The check itself catches the ways a compose file publishes it.
  for (const ports of [['7233:7233'], ['0.0.0.0:7233:7233'], ['17233:7233'], ['7233']])
    expect([ports, exposesFrontend({ image: 'x:1', ports })]).toEqual([ports, true]);
  expect(exposesFrontend({ image: 'x:1', ports: ['127.0.0.1:7233:7233'] })).toBe(false);

  for (const [name, service] of Object.entries(services))
    expect([name, exposesFrontend(service)]).toEqual([name, false]);
});

test('every connection to Temporal is mutual TLS, each service with its own certificate from make-certs.sh', () => {
  const certsDir = './deploy/temporal/certs';
  expect(readFileSync(join(ROOT, '.gitignore'), 'utf8').split('\n')).toContain('/deploy/temporal/certs/');
  const script = readFileSync(join(ROOT, 'deploy/temporal/make-certs.sh'), 'utf8');
  const identities = [...script.matchAll(/^issue (\w+) /gm)].map((match) => match[1]);
  expect(identities).toEqual(['temporal', 'worker', 'gateway', 'ui', 'admin']);

  /** The directory of certs/ mounted where `file` is, checked read-only and never created by Docker. */
  const mountedIdentity = (service: Service, file: string): string => {
    const mount = service.volumes?.find(
      (volume): volume is BindMount => typeof volume !== 'string' && file.startsWith(`${volume.target}/`),
    );
    expect([file, mount?.type, mount?.read_only, mount?.bind?.create_host_path]).toEqual([
      file,
      'bind',
      true,
      false,
    ]);
    expect(mount!.source.startsWith(`${certsDir}/`)).toBe(true);
    return mount!.source.slice(certsDir.length + 1);
  };

  const temporal = services.temporal;
  const serverEnv = temporal.environment!;
  // The auto-setup image's config template (docker/config_template.yaml in temporalio/temporal).
  expect(serverEnv.TEMPORAL_TLS_REQUIRE_CLIENT_AUTH).toBe('true');
  for (const variable of [
    'TEMPORAL_TLS_SERVER_CA_CERT',
    'TEMPORAL_TLS_SERVER_CERT',
    'TEMPORAL_TLS_SERVER_KEY',
    'TEMPORAL_TLS_FRONTEND_CERT',
    'TEMPORAL_TLS_FRONTEND_KEY',
    'TEMPORAL_TLS_CLIENT1_CA_CERT',
    'TEMPORAL_TLS_CLIENT2_CA_CERT',
  ])
    expect([variable, mountedIdentity(temporal, serverEnv[variable])]).toEqual([variable, 'temporal']);
  expect(serverEnv.TEMPORAL_TLS_FRONTEND_SERVER_NAME).toBe('temporal');
  expect(serverEnv.TEMPORAL_TLS_INTERNODE_SERVER_NAME).toBe('temporal');
  // The health check is the temporal CLI, which reads TEMPORAL_TLS_CA/CERT/KEY/SERVER_NAME.
  expect(temporal.healthcheck!.test.slice(0, 2)).toEqual(['CMD', 'temporal']);

  const clients: Record<string, string> = {
    'tourniquet-worker': 'worker',
    'tourniquet-gateway': 'gateway',
    'temporal-ui': 'ui',
    'temporal-search-attributes': 'admin',
    temporal: 'temporal',
  };
  for (const [name, identity] of Object.entries(clients)) {
    const env = services[name].environment!;
    expect([name, env.TEMPORAL_TLS_SERVER_NAME]).toEqual([name, 'temporal']);
    for (const variable of ['TEMPORAL_TLS_CA', 'TEMPORAL_TLS_CERT', 'TEMPORAL_TLS_KEY'])
      expect([name, variable, mountedIdentity(services[name], env[variable])]).toEqual([
        name,
        variable,
        identity,
      ]);
  }
  expect(services['temporal-ui'].environment!.TEMPORAL_TLS_ENABLE_HOST_VERIFICATION).toBe('true');

  // No service sees the CA's key or another service's key.
  for (const [name, service] of Object.entries(services)) {
    const sources = (service.volumes ?? []).map((volume) =>
      typeof volume === 'string' ? volume.split(':')[0] : volume.source,
    );
    for (const source of sources.filter((path) => path.startsWith(certsDir)))
      expect([name, source]).toEqual([name, `${certsDir}/${clients[name]}`]);
  }
});
