/** The API bodies the console reads (broker/src/api/fleetSchemas.ts, schemas.ts). */

export type LiveState = 'up' | 'down' | 'off' | 'unknown';
export const LIVE_STATES: readonly LiveState[] = ['up', 'down', 'off', 'unknown'];
export const DEVICE_KINDS = ['interactive_board', 'classroom_av', 'vr_kit', 'network_node', 'science_kiosk'] as const;
/** protocol/src/commands.ts's lists, copied (the console is bundled alone); console/test/web.test.ts checks the copies agree. */
export const COMMAND_ACTIONS = ['reboot', 'power_on', 'power_off', 'standby', 'switch_input'] as const;
export const COMMAND_INPUTS = ['hdmi1', 'hdmi2', 'ops', 'usb-c', 'vga'] as const;
/** The kinds switch_input is for (protocol's actionAppliesTo). */
export const INPUT_KINDS: readonly string[] = ['interactive_board', 'classroom_av'];
export type StateCounts = Record<LiveState, number>;

export interface School {
  id: string;
  district: string;
  nameZh: string;
  nameEn: string;
  uplinkCapacityBps: number | null;
}
export interface Room {
  school: string;
  id: string;
  name: string;
}
export interface FleetStatus {
  devices: { total: number; byState: StateCounts; byKind: Record<string, number> };
  schools: Array<{ school: string; district: string; nameZh: string; nameEn: string; devices: StateCounts; gatewaysOnline: number; gateways: number }>;
}
export interface AvailabilityFigures {
  availability: number | null;
  coverage: number;
  upMinutes: number;
  expectedMinutes: number;
  observedMinutes: number;
}
export interface AvailabilityAnswer {
  from: number;
  to: number;
  total: AvailabilityFigures;
  schools: Array<AvailabilityFigures & { school: string; district: string }>;
}
export interface BandwidthAnswer {
  from: number;
  to: number;
  schools: Array<{ school: string; district: string; uplinkCapacityBps: number | null; inBps: number | null; outBps: number | null }>;
  /** For callers who see whole districts: the sum of each district's school uplinks, against its 10 Gbit/s uplink. */
  districts: Array<{ district: string; inBps: number | null; outBps: number | null; capacityBps: number; utilisationIn: number | null; utilisationOut: number | null }>;
}
export interface DeviceStatus {
  id: string;
  school: string;
  district: string;
  room: string;
  kind: string;
  model: string;
  vendor: string;
  serial: string;
  state: LiveState;
  since: number | null;
  gateway: string | null;
}
export interface DeviceDetail extends DeviceStatus {
  lastTelemetry: { ts: number; data: Record<string, unknown> } | null;
}
export interface CommandRecord {
  id: string;
  device: string;
  action: string;
  /** switch_input's source; null for every other action. */
  input: string | null;
  status: string;
  detail: string | null;
  actor: string;
  issuedAt: number;
  updatedAt: number;
}
export interface AuditRow {
  id: number;
  at: number;
  actor: string;
  action: string;
  target: string;
  outcome: string;
  detail?: string;
}
export interface GatewayStatus {
  id: string;
  school: string;
  district: string;
  revoked: boolean;
  connection: 'online' | 'offline' | 'never';
  bdSeq: number | null;
  health: {
    at: number;
    outboxRecords: number;
    outboxBytes: number;
    outboxOldestAgeMs: number;
    outboxDropped: number;
    replayActive: boolean;
    replayRemaining: number;
    lastUplinkOkAt: number;
  } | null;
}

/** GET /devices/{id}/availability: the figures over the range and the states as runs. */
export interface DeviceAvailability {
  device: string;
  from: number;
  to: number;
  availability: number | null;
  coverage: number;
  upMinutes: number;
  expectedMinutes: number;
  observedMinutes: number;
  runs: Array<{ from: number; to: number; state: 'up' | 'down' | 'off' | 'unknown' }>;
}
