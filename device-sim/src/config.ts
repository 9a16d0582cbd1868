import { z } from 'zod';
import { deepFreeze, envInt, parseEnvConfig, urlWithScheme } from '../../runtime/src/envConfig.ts';
import { generateFleet, parseDistrictList, SEED_DISTRICTS, type Fleet } from './fleet.ts';

const validDistricts = (v: string): boolean => {
  try {
    parseDistrictList(v);
    return true;
  } catch {
    return false;
  }
};

const mqttUrl = urlWithScheme('mqtt', 'mqtts');

/** The fleet, its cadence and the log level: the same for the simulator and the campuses. */
const fleetEnv = {
  SIM_SEED: envInt(2026),
  SIM_SCHOOLS_PER_DISTRICT: envInt(2, 1, 500),
  SIM_ROOMS_PER_SCHOOL: envInt(4, 1, 500),
  SIM_VR_KITS_PER_SCHOOL: envInt(2, 0, 200),
  SIM_ACCESS_SWITCHES_PER_SCHOOL: envInt(1, 0, 100),
  /** Percentage of schools with a science kiosk (90 of the city's ~1,400 kiosks stand in schools). */
  SIM_KIOSK_SCHOOLS_PCT: envInt(25, 0, 100),
  /** More districts besides the six the seeds name: `id:nameEn:code,…`. */
  SIM_EXTRA_DISTRICTS: z
    .string()
    .default('')
    .refine((v) => validDistricts(v), 'must be id:nameEn:code,… (the id a valid topic level, the code lower-case ASCII)'),
  SIM_CADENCE_SCALE: z.coerce.number().positive().max(100).default(1),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
};

/** `npm run sim` (src/main.ts): the simulated devices alone, against gateways that run elsewhere. */
const simSchema = z.object({
  ...fleetEnv,
  /** Each school's gateway LAN listener; `{school}` and `{gateway}` are replaced per school. */
  SIM_LAN_URL: mqttUrl.default('mqtt://127.0.0.1:1884'),
  /** An inventory CSV file (the hub's format): simulate exactly its devices instead of a generated fleet. */
  SIM_INVENTORY: z.string().min(1).optional(),
  /** Only these schools' devices (comma-separated school ids); empty = every school. */
  SIM_SCHOOLS: z
    .string()
    .default('')
    .transform((v) => v.split(',').map((x) => x.trim()).filter(Boolean)),
});

/** src/campusesMain.ts: one real gateway per school towards the hub, and the devices behind them. */
const campusesSchema = z.object({
  ...fleetEnv,
  SIM_HUB_URL: mqttUrl.default('mqtt://127.0.0.1:1883'),
  /** The hub's management API, through which the fleet is registered and gateways get their passwords. */
  SIM_API_URL: urlWithScheme('http', 'https').default('http://127.0.0.1:8080'),
  /** An API token allowed to register the whole fleet (a city admin's); else SIM_API_TOKEN_FILE. */
  SIM_API_TOKEN: z.string().min(1).optional(),
  /** A file holding that token (the hub's bootstrap file, `admin-token` beside its registry). */
  SIM_API_TOKEN_FILE: z.string().min(1).default('.data/admin-token'),
  /** The gateways' durable outboxes, one folder per gateway under this one; `memory` keeps them in memory. */
  SIM_OUTBOX_DIR: z.string().min(1).default('memory'),
});

export type SimMainConfig = z.infer<typeof simSchema>;
export type CampusesConfig = z.infer<typeof campusesSchema>;

export function loadSimConfig(env: Record<string, string | undefined> = process.env): Readonly<SimMainConfig> {
  return deepFreeze(parseEnvConfig(simSchema, env));
}

export function loadCampusesConfig(env: Record<string, string | undefined> = process.env): Readonly<CampusesConfig> {
  return deepFreeze(parseEnvConfig(campusesSchema, env));
}

/** The fleet both entry points generate from their configuration. */
export function fleetOf(cfg: Readonly<z.infer<z.ZodObject<typeof fleetEnv>>>): Fleet {
  return generateFleet({
    seed: cfg.SIM_SEED,
    districts: [...SEED_DISTRICTS, ...parseDistrictList(cfg.SIM_EXTRA_DISTRICTS)],
    schoolsPerDistrict: cfg.SIM_SCHOOLS_PER_DISTRICT,
    roomsPerSchool: cfg.SIM_ROOMS_PER_SCHOOL,
    vrKitsPerSchool: cfg.SIM_VR_KITS_PER_SCHOOL,
    accessSwitchesPerSchool: cfg.SIM_ACCESS_SWITCHES_PER_SCHOOL,
    kioskSchoolShare: cfg.SIM_KIOSK_SCHOOLS_PCT / 100,
  });
}

/** A school's LAN URL from the SIM_LAN_URL template. */
export function lanUrlOf(template: string, school: Pick<Fleet['schools'][number], 'id' | 'gateway'>): string {
  return template.replaceAll('{school}', school.id).replaceAll('{gateway}', school.gateway);
}
