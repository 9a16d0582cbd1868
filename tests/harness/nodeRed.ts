import { startNodeRed as startProjectNodeRed, type NodeRed } from '../../flows/src/nodeRedProcess.ts';

export type { NodeRed };

export const NODE_RED_SECRETS = {
  NODE_RED_ADMIN_PASSWORD: 'admin-pass-for-tests',
  NODE_RED_CREDENTIAL_SECRET: 'credential-secret-for-tests',
  NODERED_ALERT_WEBHOOK_USER: 'grafana',
  NODERED_ALERT_WEBHOOK_PASSWORD: 'hook-pass-for-tests',
};

/** The project's Node-RED (flows/src/nodeRedProcess.ts) with the tests' secrets unless `env` sets them. */
export async function startNodeRed(env: Record<string, string> = {}, opts: { userDir?: string } = {}): Promise<NodeRed> {
  return await startProjectNodeRed({ ...NODE_RED_SECRETS, ...env }, opts);
}
