import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { RUNTIME_ERR, RuntimeError } from './errors.ts';

/**
 * A free TCP port on 127.0.0.1 (the socket is closed before returning), for a child process to
 * listen on. Taken below the kernel's ephemeral range when there is room there: a port the
 * kernel picks (port 0) comes from the range every outgoing connection takes its local port
 * from, so between this check and the child's listen another process's connection could take it
 * (seen: a hub refused to start with EADDRINUSE under a loaded test run).
 */
export async function freePort(): Promise<number> {
  const low = ephemeralLow();
  if (low !== undefined && low > LISTEN_BASE + 1000) {
    for (let i = 0; i < 64; i++) {
      const port = LISTEN_BASE + Math.floor(Math.random() * (low - LISTEN_BASE));
      if (await canListen(port)) return port;
    }
  }
  return await kernelPort();
}

/** The lowest port of ours: above the registered services most machines run. */
const LISTEN_BASE = 20_000;

function ephemeralLow(): number | undefined {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) ? low : undefined;
  } catch {
    return undefined;
  }
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

function kernelPort(): Promise<number> {
  return new Promise((resolve, reject) => {
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
