import type { Server } from 'node:net';
import { GatewayError, GatewayErrorCode } from './errors.ts';

/** Listens on host:port (0 picks a free port) and resolves to the port bound. */
export async function listen(server: Server, port: number, host: string, what: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new GatewayError(GatewayErrorCode.LISTEN, `${what} cannot listen on ${host}:${port}`, { cause: err })));
    server.listen(port, host, () => resolve());
  });
  return (server.address() as { port: number }).port;
}
