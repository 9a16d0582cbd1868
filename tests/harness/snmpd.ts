import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, closeSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { track } from './children.ts';
import { freeUdpPort } from '../../runtime/src/ports.ts';
import { waitFor } from './ports.ts';

export const SNMPD = '/usr/sbin/snmpd';

/** The agent's credentials: a v2c community and a v3 authPriv user (SHA, AES). */
export interface SnmpdCredentials {
  community: string;
  user: string;
  authKey: string;
  privKey: string;
}

export interface Snmpd {
  readonly port: number;
  readonly credentials: SnmpdCredentials;
  /** The agent's log (`-Lo`), for a test that wants to read it. */
  readonly logFile: string;
  /** Stops the agent and starts it again on the same port: its sysUpTime starts from 0. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Debian's snmpd on a free loopback UDP port with a generated configuration: `-C` (no system
 * config), the community read-only from 127.0.0.1, and the v3 user made by `createUser` in its
 * own persistent directory (written fresh before each start, so the agent never keeps a key
 * localised to an engine id of a previous run). No MIB files are loaded (`MIBS=`): the agent
 * needs none to answer by OID.
 */
export async function startSnmpd(credentials: SnmpdCredentials): Promise<Snmpd> {
  const dir = mkdtempSync(join(tmpdir(), 'snmpd-'));
  const persist = join(dir, 'persist');
  mkdirSync(persist);
  const conf = join(dir, 'snmpd.conf');
  writeFileSync(conf, `rocommunity ${credentials.community} 127.0.0.1\nrouser ${credentials.user} priv\n`);
  const port = await freeUdpPort();
  const logFile = join(dir, 'snmpd.log');
  let child: ChildProcess | undefined;

  async function run(): Promise<void> {
    const users = join(persist, 'snmpd.conf');
    writeFileSync(users, `createUser ${credentials.user} SHA ${credentials.authKey} AES ${credentials.privKey}\n`);
    const log = openSync(logFile, 'a');
    child = track(
      spawn(SNMPD, ['-f', '-Lo', '-C', '-c', `${conf},${users}`, '-p', join(dir, 'snmpd.pid'), `udp:127.0.0.1:${port}`], {
        env: { ...process.env, SNMP_PERSISTENT_DIR: persist, MIBS: '' },
        stdio: ['ignore', log, log],
      }),
    );
    closeSync(log);
    const c = child;
    await waitFor('snmpd answers', async () => {
      if (c.exitCode !== null) throw new Error(`snmpd exited with ${c.exitCode} (log: ${logFile})`);
      return (await snmpget(port, ['-v2c', '-c', credentials.community, '-t', '0.3', '-r', '0'], '1.3.6.1.2.1.1.3.0').catch(() => undefined)) !== undefined;
    });
  }

  async function kill(): Promise<void> {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.kill('SIGTERM');
    });
  }

  await run();
  return {
    port,
    credentials,
    logFile,
    async restart() {
      await kill();
      await run();
    },
    async stop() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Reads one OID with Debian's snmpget (`-Oqv`: the value alone), independently of net-snmp. */
export function snmpget(port: number, auth: string[], oid: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('snmpget', [...auth, '-Oqv', '-On', `udp:127.0.0.1:${port}`, oid], { timeout: 10_000, env: { ...process.env, MIBS: '' } }, (err, stdout, stderr) => {
      if (err) reject(new Error(`snmpget ${oid}: ${String(stderr).trim() || err.message}`));
      else resolve(String(stdout).trim());
    });
  });
}

/** snmpget's arguments for the v2c community and for the v3 user. */
export const v2cArgs = (c: SnmpdCredentials): string[] => ['-v2c', '-c', c.community];
export const v3Args = (c: SnmpdCredentials): string[] => ['-v3', '-l', 'authPriv', '-u', c.user, '-a', 'SHA', '-A', c.authKey, '-x', 'AES', '-X', c.privKey];
