import { loadGatewayConfig } from '../../gateway/src/config.ts';
import type { GatewayConfig } from '../../gateway/src/gateway.ts';
import type { SimSchool } from './fleet.ts';

/**
 * A simulated school's gateway: the gateway's own defaults (gateway/src/config.ts) with the
 * school's identity, a free LAN port on loopback, no health endpoint and the outbox in memory;
 * `env` sets any other `GW_*` variable (e.g. `GW_OUTBOX_DIR` for a durable outbox).
 */
export function schoolGatewayConfig(
  school: Pick<SimSchool, 'id' | 'district' | 'gateway'>,
  hubUrl: string,
  password: string,
  env: Record<string, string> = {},
): GatewayConfig {
  return loadGatewayConfig({
    GW_ID: school.gateway,
    GW_DISTRICT: school.district,
    GW_SCHOOL: school.id,
    GW_PASSWORD: password,
    GW_HUB_URL: hubUrl,
    GW_LAN_PORT: '0',
    GW_OUTBOX_DIR: 'memory',
    GW_HEALTH_PORT: '-1',
    ...env,
  }).gateway;
}
