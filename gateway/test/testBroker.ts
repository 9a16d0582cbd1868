import { createServer } from 'node:net';
import { Aedes } from 'aedes';

/** An in-process MQTT broker standing in for the hub (accepts every client), closed by the cleanup it registers. */
export async function startTestBroker(cleanups: Array<() => void | Promise<void>>): Promise<{ broker: Aedes; port: number }> {
  const broker = await Aedes.createBroker();
  const server = createServer(broker.handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  cleanups.push(async () => {
    await new Promise<void>((r) => broker.close(() => r()));
    await new Promise<void>((r) => server.close(() => r()));
  });
  return { broker, port: (server.address() as { port: number }).port };
}
