import type { Logger } from 'pino';

/**
 * The tail of every `main`: start the service, stop it once on SIGINT or SIGTERM, exit 1 if it
 * cannot start. Each part's main only parses its config and builds its logger before this.
 */
export async function runService(name: string, log: Logger, service: { start(): Promise<void>; stop(): Promise<void> }): Promise<void> {
  let stopping = false;
  const shutdown = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    await service.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  try {
    await service.start();
  } catch (err) {
    log.fatal({ err }, `${name} failed to start`);
    process.exit(1);
  }
}
