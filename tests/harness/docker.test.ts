import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { dockerEngineAvailable } from './docker.ts';

describe('dockerEngineAvailable', () => {
  const saved = process.env['DOCKER_HOST'];
  const servers: Server[] = [];
  afterEach(() => {
    if (saved === undefined) delete process.env['DOCKER_HOST'];
    else process.env['DOCKER_HOST'] = saved;
    for (const s of servers.splice(0)) s.close();
  });

  it('says no when there is no socket file, without any network round trip', async () => {
    process.env['DOCKER_HOST'] = 'unix:///nonexistent/docker.sock';
    expect(await dockerEngineAvailable()).toBe(false);
  });

  it('says yes when an engine answers /_ping on the socket, no when it answers something else', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'docker-ping-'));
    const sock = join(dir, 'docker.sock');
    let status = 200;
    const seen: string[] = [];
    const srv = createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      res.writeHead(status).end('OK');
    });
    servers.push(srv);
    await new Promise<void>((r) => srv.listen(sock, () => r()));
    process.env['DOCKER_HOST'] = `unix://${sock}`;
    expect(await dockerEngineAvailable()).toBe(true);
    status = 500;
    expect(await dockerEngineAvailable()).toBe(false);
    expect(seen).toEqual(['GET /_ping', 'GET /_ping']);
    srv.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('says no when the socket never answers, after its timeout', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'docker-ping-'));
    const sock = join(dir, 'docker.sock');
    const srv = createServer(() => {
      /* never answers */
    });
    servers.push(srv);
    await new Promise<void>((r) => srv.listen(sock, () => r()));
    process.env['DOCKER_HOST'] = `unix://${sock}`;
    expect(await dockerEngineAvailable(100)).toBe(false);
    srv.closeAllConnections();
    rmSync(dir, { recursive: true, force: true });
  });
});
