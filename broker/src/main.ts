import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { loadConfigOrExit } from '../../runtime/src/envConfig.ts';
import { createRootLogger } from '../../runtime/src/logging.ts';
import { runService } from '../../runtime/src/service.ts';
import { loadHubConfig } from './config.ts';
import { createHub } from './hub.ts';

const config = loadConfigOrExit(() => loadHubConfig());
const log = createRootLogger('hub', config.logLevel);
if (config.hub.registryPath !== ':memory:') mkdirSync(dirname(config.hub.registryPath), { recursive: true });
await runService('hub', log, createHub(config.hub, { log }));
