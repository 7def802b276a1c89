import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { Writable } from 'node:stream';
import { Client } from '@temporalio/client';
import pino from 'pino';
import { findRunbook } from '../runbooks';
import { startGateway, type Gateway } from '../gateway/server';
import { urlTokensFromEnv } from '../gateway/siem';
import { createSiemWebhooks, type SiemWebhooks } from '../gateway/webhooks';

const token = randomBytes(32).toString('base64url');
const older = randomBytes(32).toString('base64url');
const azureToken = randomBytes(32).toString('base64url');
const bearer = randomBytes(24).toString('hex');
const logs: string[] = [];
let gateway: Gateway;
let webhooks: SiemWebhooks;

function send(path: string, body = '{not json', headers: Record<string, string> = {}) {
  return new Promise<{ status: number; body: string; connection?: string }>((resolve, reject) => {
    const { port } = new URL(gateway.url);
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
      },
      (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () =>
          resolve({ status: res.statusCode!, body: text, connection: res.headers.connection }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

beforeAll(async () => {
  const found = findRunbook('leaked-workflow-secret');
  if (!found.ok) throw new Error('runbook');
  const logger = pino(
    { level: 'trace' },
    new Writable({
      write(chunk, _e, cb) {
        logs.push(String(chunk));
        cb();
      },
    }),
  );
  webhooks = createSiemWebhooks({
    client: new Client(),
    taskQueue: 'x',
    runbook: found.runbook,
    fingerprintKey: randomBytes(32),
    gatewayKey: generateKeyPairSync('ed25519').privateKey,
    secrets: { splunk: bearer },
    urlTokens: urlTokensFromEnv({
      SIEM_URL_TOKEN_SPLUNK: `${token},${older}`,
      SIEM_URL_TOKEN_AZURE_MONITOR: azureToken,
      SIEM_URL_TOKEN_AZURE_MONITOR_ALLOW: '10.0.0.0/8',
    }),
    logger,
  });
  gateway = await startGateway({
    host: '127.0.0.1',
    port: 0,
    logger,
    temporalHealthy: () => Promise.resolve(false),
    mount: webhooks.mount,
  });
});
afterAll(async () => {
  await gateway?.close();
  await webhooks?.close();
});

/**
 * Issue #16: senders that cannot set a header (Splunk's webhook alert action, Azure action groups) post to
 * `/webhooks/siem/<source>/t/<token>`. The body here is never valid: what is checked is who gets past the route
 * (400 = authenticated, then judged), and that no token reaches a log, a metric or stderr.
 */
test('the URL-token route takes only a configured token, from an allowed address, and never logs it', async () => {
  expect(webhooks.enabled).toEqual(['splunk', 'azure-monitor']);
  // Valid token: authenticated without a header, then the body is judged.
  expect((await send(`/webhooks/siem/splunk/t/${token}`)).status).toBe(400);
  expect((await send(`/webhooks/siem/splunk/t/${older}`)).status).toBe(400);
  expect((await send(`/webhooks/siem/SPLUNK/t/${token}`)).status).toBe(404);
  expect((await send(`/webhooks/siem/splunk/T/${token}`)).status).toBe(400);
  const wrong = await send(`/webhooks/siem/splunk/t/${token}x`);
  expect(wrong).toMatchObject({ status: 401, body: '{"error":"unauthorized"}', connection: 'close' });
  expect((await send(`/webhooks/siem/github/t/${token}`)).status).toBe(404);
  expect((await send(`/webhooks/siem/nope/t/${token}`)).status).toBe(404);
  // Allow-list: 127.0.0.1 is not in 10.0.0.0/8.
  expect(await send(`/webhooks/siem/azure-monitor/t/${azureToken}`)).toMatchObject({
    status: 403,
    body: '{"error":"forbidden"}',
  });
  // Header route unchanged; the URL token is not a header secret.
  expect((await send('/webhooks/siem/splunk', '{x', { authorization: `Bearer ${bearer}` })).status).toBe(400);
  expect((await send('/webhooks/siem/splunk', '{x', { authorization: `Bearer ${token}` })).status).toBe(401);
  expect(
    (await send('/webhooks/siem/azure-monitor', '{x', { authorization: `Bearer ${azureToken}` })).status,
  ).toBe(404);
  // A URL-token request with a header: the header is ignored.
  expect(
    (await send(`/webhooks/siem/splunk/t/${token}x`, '{x', { authorization: `Bearer ${bearer}` })).status,
  ).toBe(401);
  // Malformed escape: 400 JSON, nothing printed.
  const printed = jest.spyOn(console, 'error');
  const bad = await send(`/webhooks/siem/splunk/t/${token}%E0`);
  await new Promise((r) => setTimeout(r, 50));
  expect(bad).toMatchObject({ status: 400, body: '{"error":"bad request"}' });
  expect(printed).not.toHaveBeenCalled();
  printed.mockRestore();
  const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
  expect(metrics).toContain('tourniquet_siem_url_token_accepted_total{source="splunk",rotation="newest"} 2');
  expect(metrics).toContain('tourniquet_siem_url_token_accepted_total{source="splunk",rotation="older"} 1');
  expect(metrics).toContain(
    'tourniquet_siem_alerts_rejected_total{source="azure-monitor",reason="forbidden"} 1',
  );
  const all = logs.join('') + metrics;
  for (const value of [token, older, azureToken]) expect(all).not.toContain(value);
});
