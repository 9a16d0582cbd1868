import { z } from 'zod';
import { COMMAND_ACTIONS, COMMAND_INPUTS } from '../../../protocol/src/commands.ts';
import { deviceIdSchema, topicIdSchema } from '../../../protocol/src/ids.ts';
import { deviceKindSchema, linkRoleSchema } from '../../../protocol/src/kinds.ts';
import { snmpTargetViewSchema } from '../../../protocol/src/snmp.ts';
import { COMMAND_STATUSES } from '../registryValues.ts';
import { capacityBpsSchema, districtIdSchema, roomIdSchema, schoolIdSchema } from './schemas.ts';

/**
 * The fleet's entities as the OpenAPI document names them: devices and their live state,
 * gateways with their connection and last health report, commands, presence and status.
 */
const ms = z.number().int().meta({ description: 'Unix time, ms' });

export const deviceIdParam = deviceIdSchema.meta({ id: 'DeviceId', description: 'A device id (city-wide)' });
export const gatewayIdSchema = topicIdSchema.meta({ id: 'GatewayId' });
export const LIVE_STATES = ['up', 'down', 'off', 'unknown'] as const;
export const liveStateSchema = z.enum(LIVE_STATES).meta({ id: 'LiveState', description: 'unknown: its gateway is offline or never reported it' });

export const deviceSchema = z
  .object({
    id: deviceIdParam,
    school: schoolIdSchema,
    district: districtIdSchema,
    room: roomIdSchema,
    kind: deviceKindSchema,
    model: z.string(),
    vendor: z.string(),
    serial: z.string(),
    linkRole: linkRoleSchema.nullable(),
    capacityBps: capacityBpsSchema.nullable(),
    createdAt: ms,
    retiredAt: ms.nullable(),
    snmp: snmpTargetViewSchema.optional().meta({ id: 'SnmpTargetView', description: 'A polled network node\'s SNMP target; every secret shown only as { set: true } (and the variable an env:NAME names)' }),
  })
  .meta({ id: 'Device' });

export const deviceStatusSchema = deviceSchema
  .extend({
    state: liveStateSchema,
    since: ms.nullable().meta({ description: 'Since when its last observed state holds; null: never reported' }),
    gateway: gatewayIdSchema.nullable().meta({ description: 'The gateway that reported it' }),
  })
  .meta({ id: 'DeviceStatus' });

export const deviceDetailSchema = deviceStatusSchema
  .extend({ lastTelemetry: z.object({ ts: ms, data: z.record(z.string(), z.unknown()) }).nullable().meta({ description: 'Its newest telemetry point (storage field names)' }) })
  .meta({ id: 'DeviceDetail' });

export const commandRecordSchema = z
  .object({
    id: z.string(),
    device: deviceIdParam,
    district: districtIdSchema,
    school: schoolIdSchema,
    gateway: gatewayIdSchema,
    action: z.enum(COMMAND_ACTIONS),
    input: z.enum(COMMAND_INPUTS).nullable().meta({ description: 'The source switch_input selects; null for every other action' }),
    ttlMs: z.number().int(),
    actor: z.string(),
    idempotencyKey: z.string().nullable(),
    requestHash: z.string().nullable(),
    status: z.enum(COMMAND_STATUSES),
    detail: z.string().nullable(),
    issuedAt: ms,
    updatedAt: ms,
  })
  .meta({ id: 'CommandRecord' });

export const healthSchema = z
  .object({
    at: ms,
    outboxRecords: z.number().int(),
    outboxBytes: z.number().int(),
    outboxOldestAgeMs: z.number().int(),
    outboxDropped: z.number().int(),
    replayActive: z.boolean(),
    replayRemaining: z.number().int(),
    lastUplinkOkAt: ms,
  })
  .meta({ id: 'GatewayHealth' });

export const gatewayStatusSchema = z
  .object({
    id: gatewayIdSchema,
    school: schoolIdSchema,
    district: districtIdSchema,
    revoked: z.boolean(),
    createdAt: ms,
    rotatedAt: ms.nullable(),
    connection: z.enum(['online', 'offline', 'never']),
    bdSeq: z.number().int().nullable(),
    health: healthSchema.nullable().meta({ description: 'Its last health report since the hub started' }),
  })
  .meta({ id: 'GatewayStatus' });

export const gatewayEnvSchema = z
  .object({ GW_ID: z.string(), GW_DISTRICT: z.string(), GW_SCHOOL: z.string(), GW_PASSWORD: z.string(), GW_HUB_URL: z.string() })
  .meta({ id: 'GatewayEnv' });

export const gatewayCredentialsSchema = z
  .object({
    gateway: gatewayStatusSchema,
    password: z.string().meta({ description: 'Shown once; only its scrypt hash is kept' }),
    env: gatewayEnvSchema,
    envBlock: z.string().meta({ description: 'The env as KEY=value lines, for the gateway\'s .env file' }),
  })
  .meta({ id: 'GatewayCredentials' });

export const stateCountsSchema = z.object({ up: z.number().int(), down: z.number().int(), off: z.number().int(), unknown: z.number().int() }).meta({ id: 'StateCounts' });

export const fleetStatusSchema = z
  .object({
    devices: z.object({ total: z.number().int(), byState: stateCountsSchema, byKind: z.record(z.string(), z.number().int()) }),
    schools: z.array(
      z.object({ school: schoolIdSchema, district: districtIdSchema, nameZh: z.string(), nameEn: z.string(), devices: stateCountsSchema, gatewaysOnline: z.number().int(), gateways: z.number().int() }),
    ),
  })
  .meta({ id: 'FleetStatus' });
