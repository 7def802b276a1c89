import type { Server } from 'node:http';
import express, { type Express } from 'express';
import type { Logger } from 'pino';

export interface GatewayOptions {
  host: string;
  port: number;
  logger: Logger;
  /** Reports whether Temporal answers, for /healthz. */
  temporalHealthy: () => Promise<boolean>;
  /** Adds the entry points (SIEM webhooks, Slack, metrics) to the app; each validates its own input. */
  mount?: (app: Express) => void;
}

export interface Gateway {
  app: Express;
  url: string;
  close(): Promise<void>;
}

export function createGatewayApp(options: Omit<GatewayOptions, 'host' | 'port'>): Express {
  const app = express();
  app.disable('x-powered-by');
  app.get('/healthz', async (_req, res) => {
    const temporal = await options.temporalHealthy().catch(() => false);
    res.status(temporal ? 200 : 503).json({ ok: temporal, temporal: temporal ? 'serving' : 'unreachable' });
  });
  options.mount?.(app);
  return app;
}

export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const app = createGatewayApp(options);
  const server = await new Promise<Server>((resolve, reject) => {
    const listening = app.listen(options.port, options.host, (error?: Error) =>
      error ? reject(error) : resolve(listening),
    );
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  return {
    app,
    url: `http://${options.host}:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
