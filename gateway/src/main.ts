import { loadConfigOrExit } from '../../protocol/src/envConfig.ts';
import { createRootLogger } from '../../protocol/src/logging.ts';
import { runService } from '../../protocol/src/service.ts';
import { loadGatewayConfig } from './config.ts';
import { createGateway } from './gateway.ts';

const config = loadConfigOrExit(() => loadGatewayConfig());
const log = createRootLogger('gateway', config.logLevel);
await runService('gateway', log, createGateway(config.gateway, { log }));
