import { execFile, spawnSync } from 'node:child_process';

export function mosquittoPubAvailable(): boolean {
  return spawnSync('sh', ['-c', 'command -v mosquitto_pub'], { encoding: 'utf8' }).stdout.trim() !== '';
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs Debian's mosquitto_pub (asynchronously: the broker under test lives in this process). */
export async function mosquittoPub(port: number, args: string[]): Promise<ExecResult> {
  if (!mosquittoPubAvailable()) {
    throw new Error('mosquitto_pub not found: install Debian\'s "mosquitto-clients" (npm test does this when run as root)');
  }
  return await new Promise((resolve) => {
    execFile('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(port), '-V', 'mqttv311', ...args], { timeout: 15_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}
