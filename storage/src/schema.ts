/**
 * Every measurement the product writes, with its tags, its fields (and their InfluxDB types) and
 * its retention policy: the one definition the hub's writers (`point()`), the InfluxQL builder,
 * the rollups and the dashboards use, and that docs/influx-schema.md is checked against.
 *
 * `tags` and `fields` list everything a measurement can carry (what `SHOW TAG KEYS` and `SHOW
 * FIELD KEYS` give once every kind of point has been written); `optionalTags` and
 * `optionalFields` name those a point may leave out. A measurement without `rp` lives in the
 * database's default retention policy (`autogen`).
 */
export type InfluxType = 'float' | 'integer' | 'string' | 'boolean';

export interface MeasurementDef {
  readonly rp?: string;
  readonly tags: readonly string[];
  readonly optionalTags?: readonly string[];
  readonly fields: Readonly<Record<string, InfluxType>>;
  readonly optionalFields?: readonly string[];
}

/** The rollups' retention policy (storage/src/rollups.ts). */
export const ROLLUP_RP = 'rollup_1h';

const DEVICE_TAGS = ['district', 'school', 'gateway', 'device', 'kind', 'room'] as const;
const GATEWAY_TAGS = ['district', 'school', 'gateway'] as const;

export const SCHEMA = {
  classroom_av: {
    tags: DEVICE_TAGS,
    optionalTags: ['room'],
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
    optionalFields: ['stream_kbps', 'stream_loss_pct', 'hist'],
  },
  interactive_board: {
    tags: DEVICE_TAGS,
    optionalTags: ['room'],
    fields: { seq: 'integer', power: 'string', touch_ok: 'boolean', active_input: 'string', firmware: 'string', hist: 'boolean' },
    optionalFields: ['hist'],
  },
  vr_kit: {
    tags: DEVICE_TAGS,
    optionalTags: ['room'],
    fields: { seq: 'integer', battery_pct: 'float', charging: 'boolean', in_session: 'boolean', hist: 'boolean' },
    optionalFields: ['hist'],
  },
  network_node: {
    tags: [...DEVICE_TAGS, 'role'],
    optionalTags: ['room'],
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
    optionalFields: ['rx_bps', 'tx_bps', 'utilisation', 'hist'],
  },
  science_kiosk: {
    tags: DEVICE_TAGS,
    optionalTags: ['room'],
    fields: { seq: 'integer', power: 'string', screen_on: 'boolean', content_sync_age_s: 'integer', free_disk_mib: 'integer', hist: 'boolean' },
    optionalFields: ['hist'],
  },
  availability: {
    tags: DEVICE_TAGS,
    optionalTags: ['room'],
    fields: { state: 'string', up: 'integer', expected: 'integer', up_expected: 'integer', hist: 'boolean' },
    optionalFields: ['hist'],
  },
  inventory: {
    tags: ['district', 'school', 'kind'],
    fields: { devices: 'integer' },
  },
  gateway_up: {
    tags: GATEWAY_TAGS,
    fields: { up: 'integer' },
  },
  gateway_state: {
    tags: GATEWAY_TAGS,
    fields: { online: 'boolean', up: 'integer', bd_seq: 'integer' },
  },
  // One point per login of a gateway that already had a live session: a takeover (takeovers 1)
  // or a refusal (refused 1); damped 1 while the gateway is held for repeated takeovers.
  gateway_conflict: {
    tags: GATEWAY_TAGS,
    fields: { takeovers: 'integer', refused: 'integer', damped: 'integer' },
  },
  gateway_health: {
    tags: GATEWAY_TAGS,
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
  command: {
    tags: [...GATEWAY_TAGS, 'device', 'action'],
    fields: { id: 'string', status: 'string', detail: 'string', ttl_ms: 'integer', finished_at: 'integer', input: 'string' },
    // A send writes ttl_ms (and detail when refused); a result rewrites status with detail and finished_at.
    // input: switch_input's source, on every point of such a command and on no other's.
    optionalFields: ['detail', 'ttl_ms', 'finished_at', 'input'],
  },
  // Written by the continuous queries (storage/src/rollups.ts), never by a point.
  availability_1h: {
    rp: ROLLUP_RP,
    tags: ['district', 'school', 'kind'],
    fields: { up: 'integer', expected: 'integer', observed: 'integer', online: 'integer', devices: 'integer' },
  },
  school_uplink_1h: {
    rp: ROLLUP_RP,
    tags: ['district', 'school', 'device'],
    fields: { rx_bps: 'float', tx_bps: 'float', rx_bps_max: 'float', utilisation: 'float' },
  },
} as const satisfies Record<string, MeasurementDef>;

export type Measurement = keyof typeof SCHEMA;
export const MEASUREMENTS = Object.keys(SCHEMA) as Measurement[];

/** The retention policy a measurement lives in (the database's default when not given). */
export function retentionPolicyOf(m: Measurement): string | undefined {
  return (SCHEMA[m] as MeasurementDef).rp;
}
export type TagOf<M extends Measurement> = (typeof SCHEMA)[M]['tags'][number];
export type FieldOf<M extends Measurement> = keyof (typeof SCHEMA)[M]['fields'] & string;
export type FieldTypeOf<M extends Measurement, F extends FieldOf<M>> = (typeof SCHEMA)[M]['fields'][F];
