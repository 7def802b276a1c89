import { readFileSync } from 'node:fs';
import { ConfigError, temporalAddress, type Config } from './config';

/** The TLS options `Connection.connect` (@temporalio/client) and `NativeConnection.connect` (worker) take. */
export interface TemporalTlsOptions {
  /** The CA that signed the server's certificate; unset: the system's roots. */
  serverRootCACertificate?: Buffer;
  /** The certificate and key this process presents (mTLS). */
  clientCertPair?: { crt: Buffer; key: Buffer };
  /** The name the server's certificate must carry, when it is not the address's host. */
  serverNameOverride?: string;
}

export interface TemporalConnectionOptions {
  address: string;
  /** Absent when no TEMPORAL_TLS_* setting is: a plaintext connection, as before TLS existed. */
  tls?: TemporalTlsOptions;
}

/**
 * Where and how every Temporal connection (client and worker) goes: the configured address and, when any
 * TEMPORAL_TLS_* setting is present, TLS with the PEM files they name, read now. An unreadable or non-PEM file is a
 * ConfigError naming its variable, raised here rather than as a handshake failure later.
 */
export function temporalConnectionOptions(config: Config): TemporalConnectionOptions {
  const address = temporalAddress(config);
  const {
    TEMPORAL_TLS_CA: ca,
    TEMPORAL_TLS_CERT: cert,
    TEMPORAL_TLS_KEY: key,
    TEMPORAL_TLS_SERVER_NAME: serverName,
  } = config;
  if (!ca && !cert && !key && !serverName) return { address };
  // loadConfig checks the pair too; this guards configs built some other way.
  if (cert && !key)
    throw new ConfigError('environment variable TEMPORAL_TLS_KEY: required when TEMPORAL_TLS_CERT is set');
  if (key && !cert)
    throw new ConfigError('environment variable TEMPORAL_TLS_CERT: required when TEMPORAL_TLS_KEY is set');
  const tls: TemporalTlsOptions = {};
  if (ca) tls.serverRootCACertificate = readPem('TEMPORAL_TLS_CA', ca);
  if (cert && key)
    tls.clientCertPair = { crt: readPem('TEMPORAL_TLS_CERT', cert), key: readPem('TEMPORAL_TLS_KEY', key) };
  if (serverName) tls.serverNameOverride = serverName;
  return { address, tls };
}

function readPem(variable: string, path: string): Buffer {
  let contents: Buffer;
  try {
    contents = readFileSync(path);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new ConfigError(`environment variable ${variable}: cannot read ${path} (${reason})`);
  }
  if (!contents.includes('-----BEGIN ')) {
    throw new ConfigError(`environment variable ${variable}: ${path} is not a PEM file`);
  }
  return contents;
}
