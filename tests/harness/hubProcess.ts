export { PROJECT_ROOT } from './mainProcess.ts';
export { startHubProcess, type HubProcess } from '../../broker/src/hubProcess.ts';
