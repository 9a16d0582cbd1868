import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMainProcess, PROJECT_ROOT } from './mainProcess.ts';
import { freePort } from './ports.ts';

export interface NodeRed {
  url: string;
  stop(): Promise<void>;
}

export const NODE_RED_SECRETS = {
  NODE_RED_ADMIN_PASSWORD: 'admin-pass-for-tests',
  NODE_RED_CREDENTIAL_SECRET: 'credential-secret-for-tests',
  NODERED_ALERT_WEBHOOK_USER: 'grafana',
  NODERED_ALERT_WEBHOOK_PASSWORD: 'hook-pass-for-tests',
};

/**
 * Node-RED in its own process, on a free loopback port, running the project's flows and
 * settings. `userDir` (Node-RED's own state) defaults to a temporary folder, removed on stop.
 */
export async function startNodeRed(env: Record<string, string> = {}, opts: { userDir?: string } = {}): Promise<NodeRed> {
  const port = await freePort();
  const userDir = opts.userDir ?? mkdtempSync(join(tmpdir(), 'campus-node-red-'));
  mkdirSync(userDir, { recursive: true });
  const url = `http://127.0.0.1:${port}`;
  const proc = await startMainProcess(
    'node-red',
    'node_modules/node-red/red.js',
    { ...NODE_RED_SECRETS, NODE_RED_HOST: '127.0.0.1', NODE_RED_PORT: String(port), ...env },
    join(userDir, 'node-red.log'),
    async () => (await fetch(`${url}/admin/`)).ok,
    ['--settings', join(PROJECT_ROOT, 'flows/node-red/settings.cjs'), '--userDir', userDir, join(PROJECT_ROOT, 'flows/node-red/flows.json')],
  );
  return {
    url,
    async stop() {
      await proc.stop();
      if (!opts.userDir) rmSync(userDir, { recursive: true, force: true });
    },
  };
}
