/**
 * The measurements the dashboards and alert rules read, with their tags and fields, as written
 * down in docs/influx-schema.md. The InfluxQL builder only accepts names listed here, so a typo
 * in a panel is a type error, and a test checks this list against what the hub really writes.
 */
export const SCHEMA = {
  availability: {
    tags: ['district', 'school', 'gateway', 'device', 'kind', 'room'],
    fields: { state: 'string', up: 'integer', expected: 'integer', up_expected: 'integer', hist: 'boolean' },
  },
  inventory: {
    tags: ['district', 'school', 'kind'],
    fields: { devices: 'integer' },
  },
  network_node: {
    tags: ['district', 'school', 'gateway', 'device', 'kind', 'room', 'role'],
    fields: {
      seq: 'integer',
      capacity_bps: 'integer',
      octets_in: 'string',
      octets_out: 'string',
      oper_up: 'boolean',
      rx_bps: 'float',
      tx_bps: 'float',
      utilisation: 'float',
      hist: 'boolean',
    },
  },
  classroom_av: {
    tags: ['district', 'school', 'gateway', 'device', 'kind', 'room'],
    fields: {
      seq: 'integer',
      power: 'string',
      lamp_hours: 'float',
      temperature_c: 'float',
      in_session: 'boolean',
      stream_kbps: 'float',
      stream_loss_pct: 'float',
      hist: 'boolean',
    },
  },
  command: {
    tags: ['district', 'school', 'gateway', 'device', 'action'],
    fields: { id: 'string', status: 'string', detail: 'string', ttl_ms: 'integer', finished_at: 'integer' },
  },
  gateway_up: {
    tags: ['district', 'school', 'gateway'],
    fields: { up: 'integer' },
  },
  gateway_state: {
    tags: ['district', 'school', 'gateway'],
    fields: { online: 'boolean', up: 'integer', bd_seq: 'integer' },
  },
  // Rollups (broker/src/influx/schema.ts), read from their retention policies.
  availability_1h: {
    rp: 'rollup_1h',
    tags: ['district', 'school', 'kind'],
    fields: { up: 'integer', expected: 'integer', observed: 'integer', online: 'integer', devices: 'integer' },
  },
  school_uplink_1h: {
    rp: 'rollup_1h',
    tags: ['district', 'school', 'device'],
    fields: { rx_bps: 'float', tx_bps: 'float', rx_bps_max: 'float', utilisation: 'float' },
  },
  gateway_health: {
    tags: ['district', 'school', 'gateway'],
    fields: {
      outbox_records: 'integer',
      outbox_waiting_live: 'integer',
      outbox_waiting_backlog: 'integer',
      outbox_bytes: 'integer',
      outbox_oldest_age_ms: 'integer',
      outbox_dropped: 'integer',
      replay_active: 'boolean',
      replay_remaining: 'integer',
      replay_sent: 'integer',
      last_uplink_ok_at: 'integer',
      samples_accepted: 'integer',
      samples_rejected: 'integer',
      bd_seq: 'integer',
    },
  },
} as const;

export type Measurement = keyof typeof SCHEMA;
/** The retention policy a measurement lives in (the database's default when not given). */
export function retentionPolicyOf(m: Measurement): string | undefined {
  const entry = SCHEMA[m] as { rp?: string };
  return entry.rp;
}
export type TagOf<M extends Measurement> = (typeof SCHEMA)[M]['tags'][number];
export type FieldOf<M extends Measurement> = keyof (typeof SCHEMA)[M]['fields'] & string;

/** District uplinks are 10 Gbit/s (DESIGN §5). */
export { DISTRICT_UPLINK_BPS } from '../../broker/src/queries.ts';
