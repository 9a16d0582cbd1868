import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Generates flows/node-red/flows.json, the flows Node-RED runs, from this folder: the function
 * nodes' code lives in functions/*.js, where it can be read and reviewed.
 *
 *   node flows/src/build.ts          writes flows.json
 *   node flows/src/build.ts --check  exits 1 when the committed flows.json differs
 */

const HERE = dirname(fileURLToPath(import.meta.url));
export const FLOWS_FILE = join(HERE, '..', 'node-red', 'flows.json');
/** The path Grafana's webhook contact point posts to (NODERED_ALERT_WEBHOOK_URL). */
export const ALERT_HOOK_PATH = '/hooks/grafana-alerts';

const fn = (name: string) => readFileSync(join(HERE, 'functions', `${name}.js`), 'utf8');

export function renderFlows(): string {
  const tab = 'campus-alerts';
  const nodes = [
    { id: tab, type: 'tab', label: 'Grafana alerts', disabled: false, info: 'Notifications from Grafana\'s campus-nodered contact point: kept, logged and listed.' },
    { id: 'alerts-in', type: 'http in', z: tab, name: 'Grafana webhook', url: ALERT_HOOK_PATH, method: 'post', upload: false, swaggerDoc: '', x: 150, y: 80, wires: [['alerts-accept']] },
    { id: 'alerts-accept', type: 'function', z: tab, name: 'Grafana alert', func: fn('grafanaAlert'), outputs: 1, timeout: 0, noerr: 0, initialize: '', finalize: '', libs: [], x: 380, y: 80, wires: [['alerts-reply']] },
    { id: 'alerts-reply', type: 'http response', z: tab, name: 'reply', statusCode: '', headers: {}, x: 590, y: 80, wires: [] },
    { id: 'recent-in', type: 'http in', z: tab, name: 'recent alerts', url: ALERT_HOOK_PATH, method: 'get', upload: false, swaggerDoc: '', x: 150, y: 160, wires: [['recent-list']] },
    { id: 'recent-list', type: 'function', z: tab, name: 'recent alerts', func: fn('recentAlerts'), outputs: 1, timeout: 0, noerr: 0, initialize: '', finalize: '', libs: [], x: 380, y: 160, wires: [['recent-reply']] },
    { id: 'recent-reply', type: 'http response', z: tab, name: 'reply', statusCode: '200', headers: {}, x: 590, y: 160, wires: [] },
  ];
  return JSON.stringify(nodes, null, 2) + '\n';
}

function main(): void {
  const content = renderFlows();
  if (process.argv.includes('--check')) {
    let onDisk = '';
    try {
      onDisk = readFileSync(FLOWS_FILE, 'utf8');
    } catch {
      onDisk = '';
    }
    if (onDisk !== content) {
      console.error('flows/node-red/flows.json differs from flows/src (run npm run flows)');
      process.exit(1);
    }
    console.log('flows.json matches flows/src');
    return;
  }
  writeFileSync(FLOWS_FILE, content);
  console.log('wrote flows/node-red/flows.json');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
