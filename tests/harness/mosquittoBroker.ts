import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { track } from './children.ts';
import { freePort, waitFor } from './ports.ts';

/** Debian's broker (package `mosquitto`). */
export const MOSQUITTO_BINARY = '/usr/sbin/mosquitto';

/** One account of the password file and its ACL entries (mosquitto.conf(5): `topic read|write|readwrite`). */
export interface MosquittoUser {
  username: string;
  password: string;
  read?: string[];
  write?: string[];
  readwrite?: string[];
}

export interface MosquittoOptions {
  /** Accounts: a password file (hashed by `mosquitto_passwd -U`) and an ACL file are written from them. */
  users?: MosquittoUser[];
  /** Without users this defaults to true (an open broker); with users, false. */
  allowAnonymous?: boolean;
  /** More mosquitto.conf lines (after the harness's own). */
  extraConfig?: string[];
}

export interface MosquittoBroker {
  port: number;
  url: string;
  pid: number;
  /** The config, password and ACL files and the log (`mosquitto.log`). */
  dir: string;
  stop(): Promise<void>;
}

export function mosquittoAvailable(): boolean {
  return spawnSync('sh', ['-c', `test -x ${MOSQUITTO_BINARY} && command -v mosquitto_passwd`], { encoding: 'utf8' }).status === 0;
}

/** The ACL file: one `user` block per account, its topics in the order read, write, readwrite. */
export function aclFile(users: MosquittoUser[]): string {
  return users
    .map((u) => [`user ${u.username}`, ...(u.read ?? []).map((t) => `topic read ${t}`), ...(u.write ?? []).map((t) => `topic write ${t}`), ...(u.readwrite ?? []).map((t) => `topic readwrite ${t}`)].join('\n'))
    .join('\n\n')
    .concat('\n');
}

/**
 * Debian's mosquitto on a free loopback port with a generated configuration: one listener on
 * 127.0.0.1, no persistence, and, with `users`, a password file and an ACL file. It runs in the
 * foreground (`-c <conf>`), tracked so it dies with this process; ready once the port accepts a
 * connection. `stop()` sends SIGTERM, waits for the exit and removes the directory.
 */
export async function startMosquitto(opts: MosquittoOptions = {}): Promise<MosquittoBroker> {
  const users = opts.users ?? [];
  for (const u of users) {
    if (!/^[A-Za-z0-9._-]+$/.test(u.username) || /[\n:]/.test(u.password)) throw new Error(`mosquitto account ${JSON.stringify(u.username)}: only [A-Za-z0-9._-] names, no ':' or newline in passwords`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'campus-mosquitto-'));
  const port = await freePort();
  const conf = [
    `listener ${port} 127.0.0.1`,
    `allow_anonymous ${opts.allowAnonymous ?? users.length === 0}`,
    'persistence false',
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    // Run as root, mosquitto would switch to the `mosquitto` user, which cannot read this directory.
    `user ${userInfo().username}`,
  ];
  if (users.length > 0) {
    const passwd = join(dir, 'passwd');
    writeFileSync(passwd, users.map((u) => `${u.username}:${u.password}`).join('\n') + '\n', { mode: 0o600 });
    const r = spawnSync('mosquitto_passwd', ['-U', passwd], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`mosquitto_passwd -U failed: ${r.stderr || r.error?.message}`);
    writeFileSync(join(dir, 'acl'), aclFile(users), { mode: 0o600 });
    conf.push(`password_file ${passwd}`, `acl_file ${join(dir, 'acl')}`);
  }
  conf.push(...(opts.extraConfig ?? []));
  const confPath = join(dir, 'mosquitto.conf');
  writeFileSync(confPath, conf.join('\n') + '\n');
  const logPath = join(dir, 'mosquitto.log');
  const out = createWriteStream(logPath, { flags: 'a' });
  const child = track(spawn(MOSQUITTO_BINARY, ['-c', confPath], { stdio: ['ignore', 'pipe', 'pipe'] }));
  child.stdout!.pipe(out, { end: false });
  child.stderr!.pipe(out, { end: false });
  let exited: string | undefined;
  const gone = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exited = signal ?? `code ${code}`;
      resolve();
    }),
  );
  const accepts = (): Promise<boolean> =>
    new Promise((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
  try {
    await waitFor('mosquitto', async () => {
      if (exited) throw new Error(`mosquitto exited during start (${exited}): ${readFileSync(logPath, 'utf8').slice(-2000)}`);
      return await accepts();
    });
  } catch (e) {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    pid: child.pid!,
    dir,
    async stop() {
      if (!exited) {
        child.kill('SIGTERM');
        await gone;
      }
      out.end();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
