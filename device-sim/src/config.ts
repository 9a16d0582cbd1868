import { z } from 'zod';
import { deepFreeze, envInt, parseEnvConfig } from '../../runtime/src/envConfig.ts';

const schema = z.object({
  SIM_HUB_URL: z.string().regex(/^mqtts?:\/\/.+/, 'must be an mqtt:// or mqtts:// URL').default('mqtt://127.0.0.1:1883'),
  SIM_SEED: envInt(2026),
  SIM_SCHOOLS_PER_DISTRICT: envInt(2, 1, 500),
  SIM_ROOMS_PER_SCHOOL: envInt(4, 1, 500),
  SIM_VR_KITS_PER_SCHOOL: envInt(2, 0, 200),
  SIM_ACCESS_SWITCHES_PER_SCHOOL: envInt(1, 0, 100),
  /** More districts besides the six the seeds name: `id:nameEn:code,…`. */
  SIM_EXTRA_DISTRICTS: z.string().default(''),
  SIM_CADENCE_SCALE: z.coerce.number().positive().max(100).default(1),
  /** Each simulated gateway's password is derived from this secret and its id. */
  SIM_GATEWAY_SECRET: z.string().min(16, 'must be at least 16 characters'),
  /** The gateways' durable outboxes, one folder per gateway under this one; `memory` keeps them in memory. */
  SIM_OUTBOX_DIR: z.string().min(1).default('memory'),
  /** When set, the simulated fleet and its gateways' credentials are written to this registry. */
  SIM_REGISTRY_PATH: z.string().optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type SimMainConfig = z.infer<typeof schema>;

export function loadSimConfig(env: Record<string, string | undefined> = process.env): Readonly<SimMainConfig> {
  return deepFreeze(parseEnvConfig(schema, env));
}
