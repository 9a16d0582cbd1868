import { loadConfigOrExit } from '../../runtime/src/envConfig.ts';
import { createRootLogger } from '../../runtime/src/logging.ts';
import { runService } from '../../runtime/src/service.ts';
import { loadGatewayConfig } from './config.ts';
import { createGateway } from './gateway.ts';

const config = loadConfigOrExit(() => loadGatewayConfig());
const log = createRootLogger('gateway', config.logLevel);
await runService('gateway', log, createGateway(config.gateway, { log }));
