/**
 * The shapes of the API's JSON this CLI reads (broker/README.md, Management API; the hub's
 * /api/v1/openapi.json is the reference). Declared here: the CLI talks HTTP only.
 */
export interface District { id: string; code: string | null; nameZh: string; nameEn: string }
export interface Timetable { days: number[]; start: string; end: string; timeZone: string }
export interface School { id: string; district: string; nameZh: string; nameEn: string; timetable: Timetable | null; uplinkCapacityBps: number | null; createdAt: number }
export interface Room { school: string; id: string; name: string }
/** A secret as the hub shows it: never its value. */
export interface SecretView { set: true; env?: string }
export interface SnmpTargetView { address: string; port: number; version: '2c' | '3'; community?: SecretView; user?: { name: string; level: string; authKey?: SecretView; privKey?: SecretView }; ifIndex?: number; ifName?: string; pollIntervalMs: number }
export interface Device { id: string; school: string; district: string; room: string; kind: string; model: string; vendor: string; serial: string; linkRole: string | null; capacityBps: number | null; createdAt: number; retiredAt: number | null; snmp?: SnmpTargetView }
export interface DeviceStatus extends Device { state: 'up' | 'down' | 'off' | 'unknown'; since: number | null; gateway: string | null; lastTelemetry?: { ts: number; data: Record<string, unknown> } | null }
export interface Gateway { id: string; school: string; district: string; revoked: boolean; createdAt: number; rotatedAt: number | null }
export interface GatewayStatus extends Gateway { connection: 'online' | 'offline' | 'never'; bdSeq: number | null; health: { at: number; outboxRecords: number; replayActive: boolean; lastUplinkOkAt: number | null } | null }
export interface GatewayCredentials { gateway: Gateway; password: string; env: Record<string, string>; envBlock: string }
export interface User { id: string; displayName: string; role: string; district: string | null; school: string | null; createdAt: number; disabledAt: number | null }
export interface NewUser { user: User; token: string; tokenId: string; expiresAt: number | null }
export interface CommandRecord { id: string; device: string; district: string; school: string; gateway: string; action: string; input: string | null; ttlMs: number; actor: string; status: string; detail: string | null; issuedAt: number; updatedAt: number }
export interface ImportResult { dryRun: boolean; encoding: string; created: number; updated: number; unchanged: number; rows: number }
export interface StateCounts { up: number; down: number; off: number; unknown: number }
export interface StatusReport {
  devices: { total: number; byState: StateCounts; byKind: Record<string, number> };
  schools: Array<{ school: string; district: string; nameZh: string; nameEn: string; devices: StateCounts; gatewaysOnline: number; gateways: number }>;
}
