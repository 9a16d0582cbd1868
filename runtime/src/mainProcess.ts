import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { track } from './children.ts';
import { RUNTIME_ERR, RuntimeError } from './errors.ts';
import { waitFor } from './ports.ts';

/** The repository's root: scripts are named relative to it. */
export const PROJECT_ROOT = join(import.meta.dirname, '..', '..');

export interface MainProcess {
  child: ChildProcess;
  /** Sends a signal (SIGTERM by default) and waits for the process to exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Runs one part's own `main` (a script relative to the project root) as a separate process, as
 * production does: output to `logFile`, started once `ready()` answers, killed if it does not
 * (or when this process exits).
 */
export async function startMainProcess(
  name: string,
  script: string,
  env: Record<string, string>,
  logFile: string,
  ready: () => Promise<boolean>,
  args: string[] = [],
): Promise<MainProcess> {
  mkdirSync(dirname(logFile), { recursive: true });
  const out = createWriteStream(logFile, { flags: 'a' });
  const child = track(spawn(process.execPath, [join(PROJECT_ROOT, script), ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }));
  // Both into one file, which is ended once both are done ('close'), not by whichever ends first.
  child.stdout!.pipe(out, { end: false });
  child.stderr!.pipe(out, { end: false });
  const closed = new Promise<void>((resolve) => child.once('close', () => out.end(resolve)));
  let exited = false;
  const failed = new Promise<never>((_, reject) =>
    child.once('exit', (code, signal) => {
      exited = true;
      // The log's last lines go with the error (a caller, a test, may remove the file): read
      // once the output is in it, or after a moment if a grandchild holds the pipes open.
      void Promise.race([closed, new Promise((r) => setTimeout(r, 500).unref())]).then(() => {
        let tail = '';
        try {
          tail = readFileSync(logFile, 'utf8').slice(-2000).trim();
        } catch {
          // no log to quote
        }
        reject(new RuntimeError(RUNTIME_ERR.CHILD_EXITED, `${name} exited during start (${signal ?? `code ${code}`}); see ${logFile}${tail ? `; it ends:\n${tail}` : ''}`));
      });
    }),
  );
  failed.catch(() => {}); // observed below, or after a successful start by stop()
  // Ready, or gone: a process that exits during start fails at once, not at the timeout.
  await Promise.race([waitFor(`the ${name} process`, async () => await ready().catch(() => false), { timeoutMs: 30_000, intervalMs: 100 }), failed]).catch((e: unknown) => {
    child.kill('SIGKILL');
    throw e;
  });
  return {
    child,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (exited) return;
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill(signal);
      });
    },
  };
}
