import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROJECT_ROOT, startMainProcess } from '../../runtime/src/mainProcess.ts';
import { freePort } from '../../runtime/src/ports.ts';

export interface NodeRed {
  url: string;
  stop(): Promise<void>;
}

/** The project's Node-RED settings and generated flows, relative to the project root. */
export const NODE_RED_SETTINGS = 'flows/node-red/settings.cjs';
export const NODE_RED_FLOWS = 'flows/node-red/flows.json';

/**
 * Node-RED in its own process, on a free loopback port, running the project's flows and
 * settings. `env` must hold the secrets the settings require (README, Security). `userDir`
 * (Node-RED's own state) defaults to a temporary folder, removed on stop.
 */
export async function startNodeRed(env: Record<string, string>, opts: { userDir?: string | undefined } = {}): Promise<NodeRed> {
  const port = await freePort();
  const userDir = opts.userDir ?? mkdtempSync(join(tmpdir(), 'campus-node-red-'));
  mkdirSync(userDir, { recursive: true });
  const url = `http://127.0.0.1:${port}`;
  const proc = await startMainProcess(
    'node-red',
    'node_modules/node-red/red.js',
    { NODE_RED_HOST: '127.0.0.1', NODE_RED_PORT: String(port), ...env },
    join(userDir, 'node-red.log'),
    async () => (await fetch(`${url}/admin/`)).ok,
    ['--settings', join(PROJECT_ROOT, NODE_RED_SETTINGS), '--userDir', userDir, join(PROJECT_ROOT, NODE_RED_FLOWS)],
  );
  return {
    url,
    async stop() {
      await proc.stop();
      if (!opts.userDir) rmSync(userDir, { recursive: true, force: true });
    },
  };
}
