import { loadConfigOrExit } from '../../protocol/src/envConfig.ts';
import { createRootLogger } from '../../protocol/src/logging.ts';
import { loadGatewayConfig } from './config.ts';
import { createGateway } from './gateway.ts';

const config = loadConfigOrExit(() => loadGatewayConfig());
const log = createRootLogger('gateway', config.logLevel);
const gateway = createGateway(config.gateway, { log });

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'stopping');
  await gateway.stop();
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));

try {
  await gateway.start();
} catch (err) {
  log.fatal({ err }, 'gateway failed to start');
  process.exit(1);
}
