import { existsSync } from 'node:fs';
import { request } from 'node:http';

/**
 * Whether a Docker engine answers, decided in milliseconds: no socket file means no engine
 * (no network round trip at all); a socket that exists gets one `/_ping` with a short timeout.
 */
export async function dockerEngineAvailable(timeoutMs = 300): Promise<boolean> {
  const host = process.env['DOCKER_HOST'];
  let target: { socketPath: string } | { host: string; port: number };
  if (host?.startsWith('tcp://')) {
    const u = new URL(host.replace(/^tcp:/, 'http:'));
    target = { host: u.hostname, port: Number(u.port || 2375) };
  } else {
    const socketPath = host?.startsWith('unix://') ? host.slice('unix://'.length) : '/var/run/docker.sock';
    if (!existsSync(socketPath)) return false;
    target = { socketPath };
  }
  return await new Promise<boolean>((resolve) => {
    const req = request({ ...target, path: '/_ping', method: 'GET', timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
    req.on('error', () => resolve(false));
    req.end();
  });
}
