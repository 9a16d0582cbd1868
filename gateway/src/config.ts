import { join } from 'node:path';
import { z } from 'zod';
import { topicIdSchema } from '../../protocol/src/ids.ts';
import { DEVICE_KINDS, type DeviceKind } from '../../protocol/src/kinds.ts';
import { HEARTBEAT_TIMEOUT_MS } from './liveness.ts';
import { ConfigError, deepFreeze, envBool, envInt, parseEnvConfig, urlWithScheme } from '../../runtime/src/envConfig.ts';
import { GatewayConfigError } from './errors.ts';
import type { GatewayConfig } from './gateway.ts';
import { SECRET_PREFIX } from './snmpPoller.ts';

/** `GW_TIMEOUT_<KIND>_MS` per device kind: a new kind gets its variable from the kinds list. */
const timeoutVar = <K extends DeviceKind>(k: K) => `GW_TIMEOUT_${k.toUpperCase() as Uppercase<K>}_MS` as const;
type TimeoutVar = ReturnType<typeof timeoutVar<DeviceKind>>;
const timeoutEnv = Object.fromEntries(DEVICE_KINDS.map((k) => [timeoutVar(k), envInt(HEARTBEAT_TIMEOUT_MS[k], 1000)])) as Record<TimeoutVar, ReturnType<typeof envInt>>;

const schema = z.object({
  GW_ID: topicIdSchema,
  GW_DISTRICT: topicIdSchema,
  GW_SCHOOL: topicIdSchema,
  GW_PASSWORD: z.string().min(8, 'must be at least 8 characters'),
  GW_HUB_URL: urlWithScheme('mqtt', 'mqtts', 'wss').default('mqtt://127.0.0.1:1883'),
  /** The CA the hub's certificate must chain to (mqtts://, wss://); the system's CAs when unset. */
  GW_CA_FILE: z.string().min(1).optional(),
  /** This gateway's client certificate and key (mTLS), when the hub asks for one. */
  GW_CERT_FILE: z.string().min(1).optional(),
  GW_KEY_FILE: z.string().min(1).optional(),
  GW_LAN_HOST: z.string().default('127.0.0.1'),
  GW_LAN_PORT: envInt(1884, 0, 65535),
  GW_BATCH_MAX_RECORDS: envInt(500, 1, 10_000),
  GW_BATCH_MAX_BYTES: envInt(900_000, 1024, 64 * 1_048_576),
  GW_BATCH_LINGER_MS: envInt(200, 0, 60_000),
  GW_MAX_INFLIGHT_BATCHES: envInt(4, 1, 100),
  GW_KEEPALIVE_SEC: envInt(30, 5, 3600),
  GW_RECONNECT_MS: envInt(1000, 100, 600_000),
  /** The back-off's ceiling: a refused or unreachable gateway retries at least this often (never below GW_RECONNECT_MS). */
  GW_RECONNECT_MAX_MS: envInt(60_000, 100, 3_600_000),
  GW_MAX_SAMPLE_BYTES: envInt(65_536, 256, 1_048_576),
  /** Where the durable outbox lives (a folder per gateway below it); `memory` keeps it in RAM. */
  GW_OUTBOX_DIR: z.string().default('.data/outbox'),
  /**
   * Sized for a weekend-long outage of a 300-device school: 300 devices × (2 telemetry + 1
   * availability samples a minute) × 64 h ≈ 3.5 M records × ~350 bytes ≈ 1.2 GB.
   */
  GW_OUTBOX_MAX_BYTES: envInt(2 * 1024 ** 3, 64 * 1024),
  GW_OUTBOX_MAX_AGE_H: envInt(7 * 24, 1, 24 * 366),
  GW_OUTBOX_SEGMENT_BYTES: envInt(8 << 20, 4096, 1 << 30),
  GW_OUTBOX_FSYNC: z.enum(['always', 'interval']).default('always'),
  GW_OUTBOX_FSYNC_INTERVAL_MS: envInt(200, 10, 60_000),
  /** For GW_OUTBOX_DIR=memory: the bound in records. */
  GW_OUTBOX_MAX_RECORDS: envInt(2_000_000, 1),
  GW_REPLAY_RATE: envInt(2000, 1, 1_000_000),
  GW_REPLAY_JITTER_MS: envInt(10_000, 0, 3_600_000),
  GW_REPLAY_INFLIGHT: envInt(2, 1, 100),
  GW_HEALTH_HOST: z.string().default('127.0.0.1'),
  GW_HEALTH_PORT: envInt(8081, -1, 65535),
  GW_HEALTH_INTERVAL_MS: envInt(30_000, 1000, 3_600_000),
  /** Record each device's availability every minute. */
  GW_AVAILABILITY: envBool(true),
  /** When in each minute to sample (ms after its start, ≤ 50 000); -1: spread by the gateway's id (availabilitySampler.ts). */
  GW_AVAILABILITY_PHASE_MS: envInt(-1, -1, 50_000),
  /**
   * Devices tracked for liveness and availability at most, and LAN sessions tracked at most. A
   * school has a few hundred; the cap keeps a LAN client inventing ids from filling the outbox
   * with availability records or the session table.
   */
  GW_MAX_TRACKED_DEVICES: envInt(5000, 1, 1_000_000),
  /** Device timestamps accepted around the gateway's clock: the hub's HUB_MAX_FUTURE_MS and HUB_MAX_AGE_MS, same defaults. */
  GW_MAX_FUTURE_MS: envInt(300_000, 0),
  GW_MAX_AGE_MS: envInt(400 * 86_400_000, 60_000),
  /** At most one refusal told to a device on lan/v1/err per this interval. */
  GW_LAN_ERROR_INTERVAL_MS: envInt(10_000, 0, 3_600_000),
  /** Heartbeat timeouts per kind (ms); defaults are 2.5 reporting cadences. */
  ...timeoutEnv,
  /** SNMP polls: one request's wait for an answer, and how often it is sent again before the poll fails. */
  GW_SNMP_TIMEOUT_MS: envInt(3000, 100, 60_000),
  GW_SNMP_RETRIES: envInt(1, 0, 10),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

/** Every `GW_SNMP_SECRET_*` variable (blank ones left out): what an SNMP target's `env:NAME` may name. */
function snmpSecrets(env: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[0].startsWith(SECRET_PREFIX) && e[1] !== undefined && e[1] !== ''));
}

export function loadGatewayConfig(env: Record<string, string | undefined> = process.env): Readonly<{ gateway: GatewayConfig; logLevel: string }> {
  let e: Readonly<z.infer<typeof schema>>;
  try {
    e = parseEnvConfig(schema, env);
  } catch (err) {
    throw err instanceof ConfigError ? new GatewayConfigError(err.problems) : err;
  }
  return deepFreeze({
    logLevel: e.LOG_LEVEL,
    gateway: {
      gateway: e.GW_ID,
      district: e.GW_DISTRICT,
      school: e.GW_SCHOOL,
      password: e.GW_PASSWORD,
      hubUrl: e.GW_HUB_URL,
      ...(e.GW_CA_FILE ?? e.GW_CERT_FILE ?? e.GW_KEY_FILE ? { tls: { caFile: e.GW_CA_FILE, certFile: e.GW_CERT_FILE, keyFile: e.GW_KEY_FILE } } : {}),
      lanHost: e.GW_LAN_HOST,
      lanPort: e.GW_LAN_PORT,
      batchMaxRecords: e.GW_BATCH_MAX_RECORDS,
      batchMaxBytes: e.GW_BATCH_MAX_BYTES,
      lingerMs: e.GW_BATCH_LINGER_MS,
      maxInflightBatches: e.GW_MAX_INFLIGHT_BATCHES,
      keepaliveSec: e.GW_KEEPALIVE_SEC,
      reconnectMs: e.GW_RECONNECT_MS,
      // A base above the cap (a test that wants no quick retry) raises the cap: the base wins.
      reconnectMaxMs: Math.max(e.GW_RECONNECT_MAX_MS, e.GW_RECONNECT_MS),
      maxSampleBytes: e.GW_MAX_SAMPLE_BYTES,
      outboxMaxRecords: e.GW_OUTBOX_MAX_RECORDS,
      outbox:
        e.GW_OUTBOX_DIR === 'memory'
          ? undefined
          : {
              dir: join(e.GW_OUTBOX_DIR, e.GW_ID),
              maxBytes: e.GW_OUTBOX_MAX_BYTES,
              maxAgeMs: e.GW_OUTBOX_MAX_AGE_H * 3_600_000,
              segmentBytes: Math.min(e.GW_OUTBOX_SEGMENT_BYTES, Math.floor(e.GW_OUTBOX_MAX_BYTES / 4)),
              fsync: e.GW_OUTBOX_FSYNC,
              fsyncIntervalMs: e.GW_OUTBOX_FSYNC_INTERVAL_MS,
            },
      replayRatePerSec: e.GW_REPLAY_RATE,
      replayJitterMs: e.GW_REPLAY_JITTER_MS,
      replayInflightBatches: e.GW_REPLAY_INFLIGHT,
      healthHost: e.GW_HEALTH_HOST,
      healthPort: e.GW_HEALTH_PORT,
      healthIntervalMs: e.GW_HEALTH_INTERVAL_MS,
      availabilitySampling: e.GW_AVAILABILITY,
      availabilityPhaseMs: e.GW_AVAILABILITY_PHASE_MS >= 0 ? e.GW_AVAILABILITY_PHASE_MS : undefined,
      maxTrackedDevices: e.GW_MAX_TRACKED_DEVICES,
      clockWindow: { maxFutureMs: e.GW_MAX_FUTURE_MS, maxAgeMs: e.GW_MAX_AGE_MS },
      lanErrorIntervalMs: e.GW_LAN_ERROR_INTERVAL_MS,
      snmp: { timeoutMs: e.GW_SNMP_TIMEOUT_MS, retries: e.GW_SNMP_RETRIES, secrets: snmpSecrets(env) },
      heartbeatTimeouts: Object.fromEntries(DEVICE_KINDS.map((k) => [k, e[timeoutVar(k)]])) as Record<DeviceKind, number>,
    },
  });
}
