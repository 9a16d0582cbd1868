/** Starting a part's main as its own process is product code (runtime/src/mainProcess.ts). */
export { PROJECT_ROOT, startMainProcess, type MainProcess } from '../../runtime/src/mainProcess.ts';
