import { z } from 'zod';
import { topicIdSchema } from '../../protocol/src/ids.ts';
import { deepFreeze, envInt, parseEnvConfig } from '../../protocol/src/envConfig.ts';
import type { GatewayConfig } from './gateway.ts';

const schema = z.object({
  GW_ID: topicIdSchema,
  GW_DISTRICT: topicIdSchema,
  GW_SCHOOL: topicIdSchema,
  GW_PASSWORD: z.string().min(8, 'must be at least 8 characters'),
  GW_HUB_URL: z.string().regex(/^mqtts?:\/\/.+/, 'must be an mqtt:// or mqtts:// URL').default('mqtt://127.0.0.1:1883'),
  GW_LAN_HOST: z.string().default('127.0.0.1'),
  GW_LAN_PORT: envInt(1884, 0, 65535),
  GW_BATCH_MAX_RECORDS: envInt(500, 1, 10_000),
  GW_BATCH_MAX_BYTES: envInt(900_000, 1024, 64 * 1_048_576),
  GW_BATCH_LINGER_MS: envInt(200, 0, 60_000),
  GW_MAX_INFLIGHT_BATCHES: envInt(4, 1, 100),
  GW_KEEPALIVE_SEC: envInt(30, 5, 3600),
  GW_RECONNECT_MS: envInt(1000, 100, 600_000),
  GW_MAX_SAMPLE_BYTES: envInt(65_536, 256, 1_048_576),
  GW_OUTBOX_MAX_RECORDS: envInt(2_000_000, 1),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export function loadGatewayConfig(env: Record<string, string | undefined> = process.env): Readonly<{ gateway: GatewayConfig; logLevel: string }> {
  const e = parseEnvConfig(schema, env);
  return deepFreeze({
    logLevel: e.LOG_LEVEL,
    gateway: {
      gateway: e.GW_ID,
      district: e.GW_DISTRICT,
      school: e.GW_SCHOOL,
      password: e.GW_PASSWORD,
      hubUrl: e.GW_HUB_URL,
      lanHost: e.GW_LAN_HOST,
      lanPort: e.GW_LAN_PORT,
      batchMaxRecords: e.GW_BATCH_MAX_RECORDS,
      batchMaxBytes: e.GW_BATCH_MAX_BYTES,
      lingerMs: e.GW_BATCH_LINGER_MS,
      maxInflightBatches: e.GW_MAX_INFLIGHT_BATCHES,
      keepaliveSec: e.GW_KEEPALIVE_SEC,
      reconnectMs: e.GW_RECONNECT_MS,
      maxSampleBytes: e.GW_MAX_SAMPLE_BYTES,
      outboxMaxRecords: e.GW_OUTBOX_MAX_RECORDS,
    },
  });
}
