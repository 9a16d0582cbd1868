import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { loadConfigOrExit } from '../../protocol/src/envConfig.ts';
import { createRootLogger } from '../../protocol/src/logging.ts';
import { loadHubConfig } from './config.ts';
import { createHub } from './hub.ts';

const config = loadConfigOrExit(() => loadHubConfig());
const log = createRootLogger('hub', config.logLevel);
if (config.hub.registryPath !== ':memory:') mkdirSync(dirname(config.hub.registryPath), { recursive: true });
const hub = createHub(config.hub, { log });

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'stopping');
  await hub.stop();
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));

try {
  await hub.start();
} catch (err) {
  log.fatal({ err }, 'hub failed to start');
  process.exit(1);
}
