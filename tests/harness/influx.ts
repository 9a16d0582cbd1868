import { influxAt, startLocalInflux, type InfluxLimits, type InfluxServer } from '../../runtime/src/localInflux.ts';
import { dockerEngineAvailable } from './docker.ts';

// Starting influxd and querying it are product code (the demo uses them too); the choice of a
// container where a Docker engine answers is the tests' own.
export { influxdBinary, influxQL, type InfluxSeries, type Scalar } from '../../runtime/src/localInflux.ts';

export interface InfluxInstance extends Omit<InfluxServer, 'source'> {
  /** How it was obtained. */
  source: InfluxServer['source'] | 'testcontainers';
}

export interface StartInfluxOptions {
  /** Keep data here instead of a temporary directory. */
  dataDir?: string;
  /** Skip INFLUX_URL and Docker; always start a local influxd. */
  forceLocal?: boolean;
  /** InfluxDB's cardinality limits (off unless given; given, a local influxd is started). */
  limits?: InfluxLimits;
}

/**
 * A real InfluxDB for tests: INFLUX_URL if set; else testcontainers where a Docker engine
 * answers; else Debian's influxd on a free loopback port with its own data directory.
 */
export async function startInflux(opts: StartInfluxOptions = {}): Promise<InfluxInstance> {
  const envUrl = process.env['INFLUX_URL'];
  if (opts.limits) return await startLocalInflux({ dataDir: opts.dataDir, limits: opts.limits });
  if (envUrl && !opts.forceLocal) return await influxAt(envUrl);
  if (!opts.forceLocal && !opts.dataDir && (await dockerEngineAvailable())) {
    return await startInfluxContainer();
  }
  return await startLocalInflux({ dataDir: opts.dataDir });
}

async function startInfluxContainer(): Promise<InfluxInstance> {
  const { GenericContainer, Wait } = await import('testcontainers');
  const container = await new GenericContainer('influxdb:1.8')
    .withExposedPorts(8086)
    .withEnvironment({ INFLUXDB_REPORTING_DISABLED: 'true', INFLUXDB_DATA_MAX_VALUES_PER_TAG: '0', INFLUXDB_DATA_MAX_SERIES_PER_DATABASE: '0' })
    .withWaitStrategy(Wait.forHttp('/ping', 8086).forStatusCode(204))
    .start();
  const url = `http://${container.getHost()}:${container.getMappedPort(8086)}`;
  return { url, source: 'testcontainers', stop: async () => void (await container.stop()) };
}
