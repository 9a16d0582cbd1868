import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../runtime/src/envConfig.ts';
import { loadHubConfig } from '../src/config.ts';

/** The ConfigError that loading env throws. */
function configError(env: Record<string, string>): ConfigError {
  try {
    loadHubConfig(env);
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('did not throw');
}

describe('loadHubConfig', () => {
  it('gives the defaults for an empty environment', () => {
    expect(loadHubConfig({})).toEqual({
      logLevel: 'info',
      hub: {
        mqttHost: '127.0.0.1',
        mqttPort: 1883,
        httpHost: '127.0.0.1',
        httpPort: 8080,
        registryPath: '.data/registry.sqlite',
        allowAnonymous: false,
        influx: {
          url: 'http://127.0.0.1:8086',
          database: 'campus',
          username: undefined,
          password: undefined,
          maxLines: 5000,
          lingerMs: 20,
          concurrency: 2,
          attempts: 3,
          requestTimeoutMs: 10_000,
        },
        // maxAgeMs: 400 days × 86 400 000 ms = 34 560 000 000 ms
        minuteReports: true,
        // 8 MiB: the protocol's largest valid batch fits (payloadLimits.test.ts).
        limits: { maxPayloadBytes: 8_388_608, maxFutureMs: 300_000, maxAgeMs: 34_560_000_000 },
        // 8 MiB of payload + 64 KiB of topic and headers = 8 454 144 bytes
        mqttLimits: { maxPacketBytes: 8_454_144, connectTimeoutMs: 10_000, maxPendingConnections: 256, publishRate: 50, publishBurst: 200, maxRetainedPerClient: 16, maxRetainedBytesPerClient: 1_048_576, maxRetainedAnonymous: 64, maxRetainedBytesAnonymous: 4_194_304, maxStateBytes: 16_384, maxHealthBytes: 16_384, maxCmdresBytes: 16_384, maxQueuedBeforeConnack: 16, maxInflightQos2: 100, refusedSubscriptions: [] },
        takeoverDamping: { maxTakeovers: 3, windowMs: 60_000, holdMs: 300_000 },
        loginBackoff: { freeFailuresPerId: 5, freeFailuresPerAddress: 30, baseMs: 1000, maxMs: 60_000 },
        // 24 h = 86 400 s
        loginTicketTtlSec: 86_400,
        // 8 h and 1 h
        consoleSessions: { ttlMs: 28_800_000, idleMs: 3_600_000 },
      },
    });
  });

  it('returns a deeply frozen object', () => {
    const c = loadHubConfig({});
    expect([Object.isFrozen(c), Object.isFrozen(c.hub), Object.isFrozen(c.hub.influx), Object.isFrozen(c.hub.limits)]).toEqual([
      true,
      true,
      true,
      true,
    ]);
  });

  it('treats blank variables as unset (defaults apply)', () => {
    const c = loadHubConfig({ HUB_MQTT_PORT: '', HUB_HTTP_PORT: '  ', HUB_ALLOW_ANONYMOUS: '', HUB_MAX_AGE_MS: ' ' });
    expect([c.hub.mqttPort, c.hub.httpPort, c.hub.allowAnonymous, c.hub.limits.maxAgeMs]).toEqual([1883, 8080, false, 34_560_000_000]);
    // A blank host must not mean "every interface", nor a blank database a refusal.
    const d = loadHubConfig({ HUB_MQTT_HOST: '', HUB_HTTP_HOST: ' ', INFLUX_DB: '' });
    expect([d.hub.mqttHost, d.hub.httpHost, d.hub.influx.database]).toEqual(['127.0.0.1', '127.0.0.1', 'campus']);
  });

  it.each([
    ['true', true],
    ['1', true],
    ['yes', true],
    ['false', false],
    ['0', false],
    ['no', false],
  ])('reads HUB_ALLOW_ANONYMOUS=%s as %s', (v, expected) => {
    expect(loadHubConfig({ HUB_ALLOW_ANONYMOUS: v }).hub.allowAnonymous).toBe(expected);
  });

  it('reads numbers, strings and credentials', () => {
    const c = loadHubConfig({
      HUB_MQTT_PORT: '1884',
      HUB_HTTP_PORT: '-1',
      INFLUX_URL: 'http://influx:8086/',
      INFLUX_USERNAME: 'hub',
      INFLUX_PASSWORD: 'secret',
      HUB_MAX_AGE_MS: '60000',
      LOG_LEVEL: 'debug',
    });
    expect(c.hub.mqttPort).toBe(1884);
    expect(c.hub.httpPort).toBe(-1);
    expect(c.hub.influx.url).toBe('http://influx:8086'); // trailing slash removed
    expect([c.hub.influx.username, c.hub.influx.password]).toEqual(['hub', 'secret']);
    expect(c.hub.limits.maxAgeMs).toBe(60_000);
    expect(c.logLevel).toBe('debug');
  });

  it.each([
    ['HUB_MQTT_PORT', 'abc'],
    ['HUB_MQTT_PORT', '65536'],
    // -1 turns plain TCP off (a WAN-facing hub serves TLS only); below it is invalid.
    ['HUB_MQTT_PORT', '-2'],
    ['HUB_TLS_CLIENT_CERT', 'yes'],
    ['HUB_MQTT_PORT', '1883.5'],
    ['INFLUX_URL', 'nope'],
    ['HUB_ALLOW_ANONYMOUS', 'TRUE'],
    ['HUB_ALLOW_ANONYMOUS', 'maybe'],
    ['HUB_MAX_AGE_MS', '59999'],
    ['HUB_MAX_PAYLOAD_BYTES', '1023'],
    ['HUB_REFUSED_SUBSCRIPTIONS', 'ok/#,bad/#/x'],
    // One takeover is a restart: damping needs at least two.
    ['HUB_TAKEOVER_MAX', '1'],
    // HTTPS without the hub's certificate.
    ['HUB_HTTPS_PORT', '8443'],
    ['LOG_LEVEL', 'verbose'],
    // Clustering: a Redis URL, and a node id that fits in a Redis key and a metric label.
    ['HUB_REDIS_URL', 'http://127.0.0.1:6379'],
    ['HUB_REDIS_URL', 'localhost:6379'],
    ['HUB_NODE_ID', 'node 1'],
  ])('refuses %s=%s with a ConfigError naming the variable', (name, value) => {
    const e = configError({ [name]: value });
    expect(e.name).toBe('ConfigError');
    expect(e.problems.split('\n')).toHaveLength(1);
    expect(e.problems.startsWith(`${name}: `)).toBe(true);
    expect(e.message).toBe(`invalid configuration:\n${e.problems}`);
  });

  it.each([
    ['INFLUX_URL', 'localhost:8086'],
    ['INFLUX_URL', 'influx:8086'],
    ['INFLUX_URL', 'mqtt://influx:8086'],
    ['HUB_PUBLIC_MQTT_URL', 'hub.example.cn:1883'],
    ['HUB_PUBLIC_MQTT_URL', 'http://hub.example.cn'],
  ])('refuses %s=%s at start: a URL needs its scheme and a host', (name, value) => {
    const e = configError({ [name]: value });
    expect(e.problems).toMatch(new RegExp(`^${name}: must be a URL with a scheme and a host: `));
    expect(e.problems.split('\n')).toHaveLength(1);
  });

  it('serves HTTPS with the hub\'s certificate when HUB_HTTPS_PORT is set', () => {
    const c = loadHubConfig({ HUB_HTTPS_PORT: '8443', HUB_TLS_CERT_FILE: '/etc/campus/hub.crt', HUB_TLS_KEY_FILE: '/etc/campus/hub.key' });
    expect(c.hub.https).toEqual({ port: 8443, tls: { certFile: '/etc/campus/hub.crt', keyFile: '/etc/campus/hub.key' }, reloadCheckMs: 1000 });
    expect(loadHubConfig({ HUB_TLS_CERT_FILE: '/etc/campus/hub.crt', HUB_TLS_KEY_FILE: '/etc/campus/hub.key' }).hub.https).toBeUndefined();
  });

  it('reads the refused subscription filters and the takeover damping', () => {
    const c = loadHubConfig({ HUB_REFUSED_SUBSCRIPTIONS: 'test/nosubscribe, private/#', HUB_TAKEOVER_MAX: '5', HUB_TAKEOVER_WINDOW_MS: '30000', HUB_TAKEOVER_HOLD_MS: '600000', HUB_MAX_RETAINED_ANONYMOUS: '8' });
    expect(c.hub.mqttLimits?.refusedSubscriptions).toEqual(['test/nosubscribe', 'private/#']);
    expect(c.hub.mqttLimits?.maxRetainedAnonymous).toBe(8);
    expect(c.hub.takeoverDamping).toEqual({ maxTakeovers: 5, windowMs: 30_000, holdMs: 600_000 });
  });

  it('takes http and https InfluxDB URLs, and mqtt and mqtts public URLs', () => {
    expect(loadHubConfig({ INFLUX_URL: 'https://influx.example.cn:8086' }).hub.influx.url).toBe('https://influx.example.cn:8086');
    expect(loadHubConfig({ HUB_PUBLIC_MQTT_URL: 'mqtts://hub.example.cn:8883' }).hub.publicMqttUrl).toBe('mqtts://hub.example.cn:8883');
  });

  it('reports every problem at once, one line per variable', () => {
    const e = configError({ HUB_MQTT_PORT: 'abc', INFLUX_URL: 'nope' });
    expect(e.problems.split('\n').map((l) => l.slice(0, l.indexOf(':')))).toEqual(['HUB_MQTT_PORT', 'INFLUX_URL']);
  });

  it('turns clustering on with HUB_REDIS_URL, the node named by HUB_NODE_ID or hostname-pid', () => {
    expect(loadHubConfig({}).hub.cluster).toBeUndefined();
    expect(loadHubConfig({ HUB_REDIS_URL: 'redis://127.0.0.1:6379', HUB_NODE_ID: 'hub-a' }).hub.cluster).toEqual({ redisUrl: 'redis://127.0.0.1:6379', nodeId: 'hub-a' });
    const nodeId = loadHubConfig({ HUB_REDIS_URL: 'redis://127.0.0.1:6379' }).hub.cluster?.nodeId;
    expect(nodeId).toMatch(new RegExp(`-${process.pid}$`));
    expect(nodeId).toMatch(/^[A-Za-z0-9._-]+$/);
  });
});
