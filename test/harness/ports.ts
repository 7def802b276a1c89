import { createServer } from 'node:net';

/*
 * Ports for the servers tests start are taken below the kernel's ephemeral range (32768–60999 on Linux). A port
 * the kernel handed out and took back is soon handed out again: the Temporal dev server asks the kernel for its own
 * internal ports (metrics, history, matching) while it starts, and one of them could be the very port we just
 * chose for its frontend, which then fails to bind. Below the range only our own picks compete.
 */
const LOWEST = 20_000;
const HIGHEST = 32_000;

function listenable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt += 1) {
    const port = LOWEST + Math.floor(Math.random() * (HIGHEST - LOWEST));
    if (await listenable(port)) return port;
  }
  throw new Error(`no free port between ${LOWEST} and ${HIGHEST}`);
}
