import { describe, expect, it } from 'vitest';
import { loadGatewayConfig } from '../src/config.ts';
import { ConfigError } from '../../runtime/src/envConfig.ts';

const MINIMAL = {
  GW_ID: 'gw-yz-s01',
  GW_DISTRICT: '渝中区',
  GW_SCHOOL: 'yz-s01',
  GW_PASSWORD: 'secret12', // exactly 8 characters
} as const;

/** Runs the loader and returns the ConfigError it must throw. */
function configError(env: Record<string, string | undefined>): ConfigError {
  try {
    loadGatewayConfig(env);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error('loadGatewayConfig accepted an invalid environment');
}

/** The variables a ConfigError's problems name, one `VARIABLE: message` per line. */
function named(err: ConfigError): string[] {
  return err.problems.split('\n').map((line) => line.slice(0, line.indexOf(':')));
}

describe('loadGatewayConfig', () => {
  it('maps a minimal valid environment and fills in the documented defaults', () => {
    const cfg = loadGatewayConfig({ ...MINIMAL });
    expect(cfg.logLevel).toBe('info');
    expect(cfg.gateway).toEqual({
      gateway: 'gw-yz-s01',
      district: '渝中区',
      school: 'yz-s01',
      password: 'secret12',
      hubUrl: 'mqtt://127.0.0.1:1883',
      lanHost: '127.0.0.1',
      lanPort: 1884,
      batchMaxRecords: 500,
      batchMaxBytes: 900_000,
      lingerMs: 200,
      maxInflightBatches: 4,
      keepaliveSec: 30,
      reconnectMs: 1000,
      reconnectMaxMs: 60_000,
      maxSampleBytes: 65_536,
      outboxMaxRecords: 2_000_000,
      // 2 GiB, 7 days, 8 MiB segments: sized for a weekend outage of a 300-device school.
      outbox: {
        dir: '.data/outbox/gw-yz-s01',
        maxBytes: 2_147_483_648,
        maxAgeMs: 604_800_000,
        segmentBytes: 8_388_608,
        fsync: 'always',
        fsyncIntervalMs: 200,
      },
      replayRatePerSec: 2000,
      replayJitterMs: 10_000,
      replayInflightBatches: 2,
      healthHost: '127.0.0.1',
      healthPort: 8081,
      healthIntervalMs: 30_000,
      availabilitySampling: true,
      maxTrackedDevices: 5000,
      clockWindow: { maxFutureMs: 300_000, maxAgeMs: 34_560_000_000 },
      lanErrorIntervalMs: 10_000,
      snmp: { timeoutMs: 3000, retries: 1, secrets: {} },
      heartbeatTimeouts: { classroom_av: 75_000, interactive_board: 75_000, vr_kit: 150_000, network_node: 75_000, science_kiosk: 150_000 },
    });
  });

  it('gathers every GW_SNMP_SECRET_* variable (a blank one left out) as the secrets env:NAME may name, and nothing else', () => {
    const c = loadGatewayConfig({ ...MINIMAL, GW_SNMP_SECRET_CORE: 'c0re', GW_SNMP_SECRET_BLANK: '', GW_SNMP_TIMEOUT_MS: '800', GW_SNMP_RETRIES: '0' });
    expect(c.gateway.snmp).toEqual({ timeoutMs: 800, retries: 0, secrets: { GW_SNMP_SECRET_CORE: 'c0re' } });
    expect(named(configError({ ...MINIMAL, GW_SNMP_TIMEOUT_MS: '50' }))).toEqual(['GW_SNMP_TIMEOUT_MS']);
  });

  it('keeps the outbox in memory when GW_OUTBOX_DIR=memory, and caps segments at a quarter of the bound', () => {
    expect(loadGatewayConfig({ ...MINIMAL, GW_OUTBOX_DIR: 'memory' }).gateway.outbox).toBeUndefined();
    const c = loadGatewayConfig({ ...MINIMAL, GW_OUTBOX_DIR: '/var/lib/gw', GW_OUTBOX_MAX_BYTES: '4194304', GW_OUTBOX_FSYNC: 'interval' });
    expect(c.gateway.outbox).toMatchObject({ dir: '/var/lib/gw/gw-yz-s01', maxBytes: 4_194_304, segmentBytes: 1_048_576, fsync: 'interval' });
  });

  it('takes explicit values over the defaults, coercing numbers', () => {
    const cfg = loadGatewayConfig({
      ...MINIMAL,
      GW_HUB_URL: 'mqtts://hub.example.cn:8883',
      GW_LAN_PORT: '0',
      GW_BATCH_MAX_RECORDS: '10000',
      GW_OUTBOX_MAX_RECORDS: '25',
      LOG_LEVEL: 'debug',
    });
    expect(cfg.gateway.hubUrl).toBe('mqtts://hub.example.cn:8883');
    expect(cfg.gateway.lanPort).toBe(0);
    expect(cfg.gateway.batchMaxRecords).toBe(10_000);
    expect(cfg.gateway.outboxMaxRecords).toBe(25);
    expect(cfg.logLevel).toBe('debug');
  });

  it('ignores unrelated environment variables', () => {
    const cfg = loadGatewayConfig({ ...MINIMAL, PATH: '/usr/bin', HOME: '/root' });
    expect(cfg.gateway.gateway).toBe('gw-yz-s01');
    expect(Object.keys(cfg).sort()).toEqual(['gateway', 'logLevel']);
  });

  it('refuses a missing GW_ID, naming only GW_ID', () => {
    const { GW_ID: _, ...env } = MINIMAL;
    const err = configError(env);
    expect(named(err)).toEqual(['GW_ID']);
    expect(err.message).toContain('GW_ID');
  });

  it('refuses a 7-character password and names GW_PASSWORD with the rule', () => {
    const err = configError({ ...MINIMAL, GW_PASSWORD: 'secret1' });
    expect(named(err)).toEqual(['GW_PASSWORD']);
    expect(err.problems).toBe('GW_PASSWORD: must be at least 8 characters');
  });

  it('refuses an http:// hub URL, naming GW_HUB_URL', () => {
    const err = configError({ ...MINIMAL, GW_HUB_URL: 'http://x' });
    expect(named(err)).toEqual(['GW_HUB_URL']);
    expect(err.problems).toContain('mqtt://');
  });

  it.each(['127.0.0.1:1883', 'hub.example.cn:8883', 'mqtt://', 'tcp://hub:1883'])('refuses GW_HUB_URL=%s at start: a URL needs its scheme and a host', (url) => {
    const err = configError({ ...MINIMAL, GW_HUB_URL: url });
    expect(err.problems).toMatch(/^GW_HUB_URL: /);
    expect(named(err)).toEqual(['GW_HUB_URL']);
  });

  it('GW_RECONNECT_MAX_MS sets the back-off cap; a GW_RECONNECT_MS above it raises the cap to the base', () => {
    expect(loadGatewayConfig({ ...MINIMAL, GW_RECONNECT_MAX_MS: '5000' }).gateway.reconnectMaxMs).toBe(5000);
    expect(loadGatewayConfig({ ...MINIMAL, GW_RECONNECT_MS: '120000' }).gateway.reconnectMaxMs).toBe(120_000);
  });

  it.each(['yz/s01', 'yz+s01', 'yz#s01', 'yz s01', ''])('refuses GW_SCHOOL %j, naming GW_SCHOOL', (school) => {
    const err = configError({ ...MINIMAL, GW_SCHOOL: school });
    expect(named(err)).toEqual(['GW_SCHOOL']);
  });

  it('reports every bad variable at once', () => {
    const err = configError({ GW_DISTRICT: '渝中区', GW_SCHOOL: 'a/b', GW_PASSWORD: 'short', GW_LAN_PORT: '70000' });
    expect(new Set(named(err))).toEqual(new Set(['GW_ID', 'GW_SCHOOL', 'GW_PASSWORD', 'GW_LAN_PORT']));
  });

  it('refuses out-of-range and non-numeric integers', () => {
    expect(named(configError({ ...MINIMAL, GW_MAX_INFLIGHT_BATCHES: '0' }))).toEqual(['GW_MAX_INFLIGHT_BATCHES']);
    expect(named(configError({ ...MINIMAL, GW_KEEPALIVE_SEC: 'abc' }))).toEqual(['GW_KEEPALIVE_SEC']);
    expect(named(configError({ ...MINIMAL, GW_BATCH_LINGER_MS: '1.5' }))).toEqual(['GW_BATCH_LINGER_MS']);
    expect(named(configError({ ...MINIMAL, LOG_LEVEL: 'verbose' }))).toEqual(['LOG_LEVEL']);
  });

  it('an empty GW_LAN_PORT is refused or means the default, never port 0 (a random port)', () => {
    // `GW_LAN_PORT=` in an env file must not silently move the LAN listener to a free port that
    // no device knows; 0 has to be asked for explicitly.
    let port: number;
    try {
      port = loadGatewayConfig({ ...MINIMAL, GW_LAN_PORT: '' }).gateway.lanPort;
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      expect(named(e as ConfigError)).toEqual(['GW_LAN_PORT']);
      return;
    }
    expect(port).toBe(1884);
  });

  it('returns a frozen object', () => {
    const cfg = loadGatewayConfig({ ...MINIMAL });
    expect(Object.isFrozen(cfg)).toBe(true);
    expect(() => {
      (cfg as { logLevel: string }).logLevel = 'trace';
    }).toThrow(TypeError);
    expect(cfg.logLevel).toBe('info');
  });
  it('takes wss:// hub URLs and the uplink TLS files', () => {
    const cfg = loadGatewayConfig({ ...MINIMAL, GW_HUB_URL: 'wss://hub.example:8884/mqtt', GW_CA_FILE: '/tls/ca.crt', GW_CERT_FILE: '/tls/gw.crt', GW_KEY_FILE: '/tls/gw.key' });
    expect(cfg.gateway.hubUrl).toBe('wss://hub.example:8884/mqtt');
    expect(cfg.gateway.tls).toEqual({ caFile: '/tls/ca.crt', certFile: '/tls/gw.crt', keyFile: '/tls/gw.key' });
    expect(named(configError({ ...MINIMAL, GW_HUB_URL: 'ws://hub.example:8884/mqtt' }))).toEqual(['GW_HUB_URL']);
  });
});
