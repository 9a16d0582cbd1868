import { createSocket } from 'node:dgram';
import { createServer, type Server } from 'node:net';
import { RUNTIME_ERR, RuntimeError } from './errors.ts';

/** A free TCP port on 127.0.0.1 (the kernel picks it; the socket is closed before returning). */
export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') return reject(new Error('no port'));
      srv.close(() => resolve(addr.port));
    });
  });
}

/** A free UDP port on 127.0.0.1 (the kernel picks it; the socket is closed before returning). */
export async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((resolve, reject) => s.once('error', reject).bind(0, '127.0.0.1', () => resolve()));
  const { port } = s.address();
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** Polls `probe` until it answers a truthy value; an error of the probe counts as "not yet". */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | null | false>,
  { timeoutMs = 30_000, intervalMs = 100 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v) return v;
    } catch (e) {
      lastErr = e;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new RuntimeError(RUNTIME_ERR.TIMEOUT, `timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? `: ${String(lastErr)}` : ''}`, { cause: lastErr });
}

/**
 * Listens on host:port (0 picks a free port) and resolves to the port bound; a failure (a port
 * taken) rejects with the caller's own coded error, whose cause is the system's.
 */
export async function listen(server: Server, port: number, host: string, toError: (cause: unknown) => Error): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(toError(err)));
    server.listen(port, host, () => resolve());
  });
  return (server.address() as { port: number }).port;
}

/** Closes a server and every connection it holds (HTTP keep-alive ones included). */
export async function closeServer(server: Server & { closeAllConnections?: () => void }): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections?.();
  await closed;
}
