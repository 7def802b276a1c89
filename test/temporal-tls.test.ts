import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createSecureServer, type Http2SecureServer } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { ConfigError, loadConfig } from '../lib/config';
import { temporalConnectionOptions } from '../lib/temporal-tls';

/**
 * mTLS to the Temporal frontend, for real: certificates made by deploy/temporal/make-certs.sh (openssl), a TLS
 * stand-in for the frontend on loopback that requires a client certificate signed by the CA, and the SDK's own
 * connections (`Connection` for clients, `NativeConnection` for workers) given what `temporalConnectionOptions`
 * builds from the environment. The stand-in speaks just enough gRPC (HTTP/2) to answer `connect`'s GetSystemInfo
 * probe with an empty response: a connect that resolves went through the whole handshake, both ways.
 */

const MAKE_CERTS = join(__dirname, '..', 'deploy', 'temporal', 'make-certs.sh');
const GET_SYSTEM_INFO = '/temporal.api.workflowservice.v1.WorkflowService/GetSystemInfo';
/** Long enough for a loopback handshake, short enough for the failures' retries to give up quickly. */
const FAILING_CONNECT_TIMEOUT = 1_500;

interface StandIn {
  address: string;
  /** The CN of every client certificate a completed handshake presented. */
  clients: string[];
  /** Handshakes that failed, as the server saw them. */
  handshakeErrors: string[];
  /** gRPC paths called over a completed handshake. */
  calls: string[];
  close(): Promise<void>;
}

/** A frontend with the `temporal` certificate of `certs`, accepting client certificates of `clientCas`' CAs. */
async function startFrontendStandIn(certs: string, clientCas: string[] = [certs]): Promise<StandIn> {
  const clients: string[] = [];
  const handshakeErrors: string[] = [];
  const calls: string[] = [];
  const server: Http2SecureServer = createSecureServer({
    key: readFileSync(join(certs, 'temporal', 'key.pem')),
    cert: readFileSync(join(certs, 'temporal', 'cert.pem')),
    ca: clientCas.map((dir) => readFileSync(join(dir, 'ca', 'ca.pem'))),
    requestCert: true,
    rejectUnauthorized: true,
  });
  server.on('secureConnection', (socket: TLSSocket) => {
    clients.push(String(socket.getPeerCertificate().subject?.CN));
  });
  server.on('tlsClientError', (error: NodeJS.ErrnoException) => {
    handshakeErrors.push(error.code ?? error.message);
  });
  server.on('stream', (stream, headers) => {
    const path = String(headers[':path']);
    calls.push(path);
    if (path !== GET_SYSTEM_INFO) {
      stream.respond(
        { ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '12' },
        { endStream: true },
      );
      return;
    }
    // One length-prefixed message, uncompressed and empty (a GetSystemInfoResponse with no field set), then OK.
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
    stream.end(Buffer.alloc(5));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    clients,
    handshakeErrors,
    calls,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function makeCerts(dir: string, ...args: string[]): string {
  return execFileSync('bash', [MAKE_CERTS, ...args, dir], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

let root: string;
let certs: string;
/** Another CA's certificates: its server is one the first CA never signed. */
let otherCerts: string;
let frontend: StandIn;
let impostor: StandIn;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'tourniquet-tls-'));
  certs = join(root, 'certs');
  otherCerts = join(root, 'other-certs');
  makeCerts(certs);
  makeCerts(otherCerts);
  frontend = await startFrontendStandIn(certs);
  // It would accept our client certificates: only the client's check of the server's certificate stands in the way.
  impostor = await startFrontendStandIn(otherCerts, [otherCerts, certs]);
});

afterAll(async () => {
  await frontend?.close();
  await impostor?.close();
  rmSync(root, { recursive: true, force: true });
});

/** The environment docker-compose.yml gives a Tourniquet service, pointed at `address`. */
function tlsEnv(address: string, identity = 'worker', dir = certs): NodeJS.ProcessEnv {
  return {
    TEMPORAL_ADDRESS: address,
    TEMPORAL_TLS_CA: join(dir, identity, 'ca.pem'),
    TEMPORAL_TLS_CERT: join(dir, identity, 'cert.pem'),
    TEMPORAL_TLS_KEY: join(dir, identity, 'key.pem'),
    TEMPORAL_TLS_SERVER_NAME: 'temporal',
  };
}

describe('make-certs.sh', () => {
  test('a CA, the server certificate for `temporal` and a client certificate per service, keys 0600', () => {
    const ca = new X509Certificate(readFileSync(join(certs, 'ca', 'ca.pem')));
    expect(ca.ca).toBe(true);
    const server = new X509Certificate(readFileSync(join(certs, 'temporal', 'cert.pem')));
    expect(server.checkIssued(ca) && server.verify(ca.publicKey)).toBe(true);
    expect(server.checkHost('temporal')).toBe('temporal');
    expect(server.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(server.ca).toBe(false);
    const clients: Record<string, string> = {
      worker: 'tourniquet-worker',
      gateway: 'tourniquet-gateway',
      ui: 'temporal-ui',
      admin: 'temporal-admin-tools',
    };
    for (const [identity, cn] of Object.entries(clients)) {
      const dir = join(certs, identity);
      const cert = new X509Certificate(readFileSync(join(dir, 'cert.pem')));
      expect([identity, cert.subject, cert.verify(ca.publicKey)]).toEqual([identity, `CN=${cn}`, true]);
      expect(readFileSync(join(dir, 'ca.pem'))).toEqual(readFileSync(join(certs, 'ca', 'ca.pem')));
    }
    for (const identity of [
      'ca/ca.key',
      ...['temporal', ...Object.keys(clients)].map((id) => `${id}/key.pem`),
    ]) {
      expect([identity, statSync(join(certs, identity)).mode & 0o777]).toEqual([identity, 0o600]);
    }
  });

  test('idempotent: a second run keeps everything; --renew reissues the certificates and keys, same CA', () => {
    const dir = join(root, 'idempotent');
    makeCerts(dir);
    const files = ['ca/ca.pem', 'ca/ca.key', 'temporal/cert.pem', 'worker/cert.pem', 'worker/key.pem'];
    const read = () => files.map((file) => readFileSync(join(dir, file), 'utf8'));
    const first = read();
    expect(makeCerts(dir)).not.toMatch(/issued|created/);
    expect(read()).toEqual(first);

    expect(makeCerts(dir, '--renew')).toMatch(/issued {2}worker/);
    const renewed = read();
    expect(renewed.slice(0, 2)).toEqual(first.slice(0, 2));
    for (let i = 2; i < files.length; i++) expect([files[i], renewed[i]]).not.toEqual([files[i], first[i]]);

    // A certificate that no longer matches its key is reissued.
    writeFileSync(join(dir, 'worker', 'cert.pem'), readFileSync(join(dir, 'gateway', 'cert.pem')));
    expect(makeCerts(dir)).toMatch(/issued {2}worker/);
  });
});

describe('TEMPORAL_TLS_* settings', () => {
  test('none set: the plain address, no tls key at all (behaviour as before TLS existed)', () => {
    expect(temporalConnectionOptions(loadConfig({}))).toStrictEqual({ address: '127.0.0.1:7233' });
    // docker-compose's `${VAR:-}` passes empty strings: the same as unset.
    const empty = {
      TEMPORAL_TLS_CA: '',
      TEMPORAL_TLS_CERT: '',
      TEMPORAL_TLS_KEY: '',
      TEMPORAL_TLS_SERVER_NAME: '',
    };
    expect(
      temporalConnectionOptions(loadConfig({ TEMPORAL_ADDRESS: 'temporal:7233', ...empty })),
    ).toStrictEqual({
      address: 'temporal:7233',
    });
  });

  test('a certificate without its key, or a key without its certificate, names the missing variable', () => {
    const env = tlsEnv('temporal:7233');
    expect(() => loadConfig({ ...env, TEMPORAL_TLS_KEY: undefined })).toThrow(ConfigError);
    expect(() => loadConfig({ ...env, TEMPORAL_TLS_KEY: undefined })).toThrow(
      /^environment variable TEMPORAL_TLS_KEY: required when TEMPORAL_TLS_CERT is set/,
    );
    expect(() => loadConfig({ ...env, TEMPORAL_TLS_CERT: '' })).toThrow(
      /^environment variable TEMPORAL_TLS_CERT: required when TEMPORAL_TLS_KEY is set/,
    );
  });

  test('files are read as Buffers; one missing or not PEM is a ConfigError naming its variable and path', () => {
    const options = temporalConnectionOptions(loadConfig(tlsEnv('temporal:7233')));
    expect(options.address).toBe('temporal:7233');
    expect(options.tls?.serverNameOverride).toBe('temporal');
    expect(options.tls?.serverRootCACertificate).toEqual(readFileSync(join(certs, 'worker', 'ca.pem')));
    expect(options.tls?.clientCertPair?.crt).toEqual(readFileSync(join(certs, 'worker', 'cert.pem')));
    expect(Buffer.isBuffer(options.tls?.clientCertPair?.key)).toBe(true);

    // The CA alone: server-authenticated TLS, no client certificate.
    const caOnly = temporalConnectionOptions(loadConfig({ TEMPORAL_TLS_CA: join(certs, 'ca', 'ca.pem') }));
    expect(Object.keys(caOnly.tls ?? {})).toEqual(['serverRootCACertificate']);

    const missing = join(root, 'nowhere.pem');
    const load = (env: NodeJS.ProcessEnv) => () => temporalConnectionOptions(loadConfig(env));
    expect(load({ ...tlsEnv('temporal:7233'), TEMPORAL_TLS_CA: missing })).toThrow(
      new ConfigError(`environment variable TEMPORAL_TLS_CA: cannot read ${missing} (ENOENT)`),
    );
    const notPem = join(root, 'not.pem');
    writeFileSync(notPem, 'hello');
    expect(load({ ...tlsEnv('temporal:7233'), TEMPORAL_TLS_KEY: notPem })).toThrow(
      new ConfigError(`environment variable TEMPORAL_TLS_KEY: ${notPem} is not a PEM file`),
    );
  });
});

describe('Connection.connect with temporalConnectionOptions, against a frontend that requires client certificates', () => {
  test('the right files: the handshake completes both ways; the server sees the client certificate', async () => {
    const before = frontend.clients.length;
    const connection = await Connection.connect({
      ...temporalConnectionOptions(loadConfig(tlsEnv(frontend.address))),
      connectTimeout: 10_000,
    });
    await connection.close();
    expect(frontend.clients.slice(before)).toContain('tourniquet-worker');
    expect(frontend.calls).toContain(GET_SYSTEM_INFO);
  });

  test('the worker side (NativeConnection) presents its certificate too', async () => {
    const before = frontend.clients.length;
    const connection = await NativeConnection.connect(
      temporalConnectionOptions(loadConfig(tlsEnv(frontend.address, 'gateway'))),
    );
    await connection.close();
    expect(frontend.clients.slice(before)).toContain('tourniquet-gateway');
  });

  test('without a client certificate: refused by the server', async () => {
    const [clients, errors] = [frontend.clients.length, frontend.handshakeErrors.length];
    const env = { ...tlsEnv(frontend.address), TEMPORAL_TLS_CERT: undefined, TEMPORAL_TLS_KEY: undefined };
    const options = temporalConnectionOptions(loadConfig(env));
    expect(options.tls?.clientCertPair).toBeUndefined();
    await expect(
      Connection.connect({ ...options, connectTimeout: FAILING_CONNECT_TIMEOUT }),
    ).rejects.toThrow();
    expect(frontend.clients.length).toBe(clients);
    expect(frontend.handshakeErrors.slice(errors)).toContain('ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE');
  });

  test('against a server certificate from another CA: refused by the client, nothing is sent to it', async () => {
    const options = temporalConnectionOptions(loadConfig(tlsEnv(impostor.address)));
    await expect(
      Connection.connect({ ...options, connectTimeout: FAILING_CONNECT_TIMEOUT }),
    ).rejects.toThrow();
    await expect(NativeConnection.connect(options)).rejects.toThrow();
    expect(impostor.calls).toEqual([]);
  });

  test('with a server name the certificate does not carry: refused by the client', async () => {
    const clients = frontend.clients.length;
    const env = { ...tlsEnv(frontend.address), TEMPORAL_TLS_SERVER_NAME: 'not-temporal.example' };
    const options = temporalConnectionOptions(loadConfig(env));
    await expect(
      Connection.connect({ ...options, connectTimeout: FAILING_CONNECT_TIMEOUT }),
    ).rejects.toThrow();
    expect(frontend.clients.length).toBe(clients);
  });
});
