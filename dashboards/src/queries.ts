import { agg, aggCol, as, fieldCmp, fieldOf, from, fromSubquery, op, tagInVar, tagIsNot, tagOf, timeFilter, type Cond, type Select } from '../../storage/src/influxql.ts';
import { AVAILABILITY, bandwidth, districtUtilisation, SCHOOL_UPLINKS } from '../../storage/src/queries.ts';

/**
 * Every InfluxQL statement behind a panel or an alert rule, in one place; the figures the API
 * also gives are defined once in storage/src/queries.ts and read here over Grafana's
 * `$timeFilter` and `$__interval`. The figures follow docs/design.md#availability,
 * docs/design.md#bandwidth and docs/influx-schema.md:
 * - availability = Σ up_expected ÷ Σ expected, over minutes that were expected only (so a range
 *   with nothing expected has no figure, rather than a division by zero);
 * - coverage = observed device-minutes (count of availability points) ÷ registered
 *   device-minutes (Σ devices of inventory);
 * the panels divide (Grafana's calculateField), so 0 ÷ 0 shows as no figure, not as InfluxQL's 0;
 * - bandwidth of a district = Σ over its school uplinks of each uplink's mean rate;
 * - district uplink utilisation = that sum ÷ 10 Gbit/s.
 * `$district`, `$school` and `$kind` are the dashboards' template variables.
 */

const inDistrict = tagInVar('availability', 'district', 'district');
const inSchool = tagInVar('availability', 'school', 'school');
const ofKind = tagInVar('availability', 'kind', 'kind');

/**
 * Per device, with its room and kind: the last state observed in the range, up minutes while
 * expected and expected minutes (availability = up ÷ expected, computed by the panel).
 */
export function deviceFigures(filters: Cond[]): Select {
  return from('availability')
    .select(as(agg('availability', 'last', 'state'), 'state'), AVAILABILITY.up, AVAILABILITY.expected)
    .where(timeFilter, ...filters)
    .by('room', 'device', 'kind')
    .build();
}

// ---- from the hourly rollups (rollup_1h): city and district views over hours to months ----
// One point per school and kind (or uplink) per hour instead of one per device per minute; the
// current hour appears once it has ended (the continuous queries run at the top of each hour).

/**
 * Per `dim`, over complete hours from the hourly rollup: up and expected minutes, observed and
 * registered device-minutes. The panel divides (availability = up ÷ expected, coverage =
 * observed ÷ registered), so a range with nothing expected shows no figure instead of InfluxQL's
 * 0 for 0 ÷ 0. Per school, the district comes along (for the link to the school's dashboard).
 */
export function availabilityHourlyBy(dim: 'district' | 'school', filters: Cond[]): Select {
  return from('availability_1h')
    .select(
      as(agg('availability_1h', 'sum', 'up'), 'up'),
      as(agg('availability_1h', 'sum', 'expected'), 'expected'),
      as(agg('availability_1h', 'sum', 'observed'), 'observed'),
      as(agg('availability_1h', 'sum', 'devices'), 'registered'),
    )
    .where(timeFilter, ...filters)
    .by(...(dim === 'school' ? (['district', 'school'] as const) : (['district'] as const)))
    .build();
}

/** Bandwidth per district from the hourly rollup: the sum of its uplinks' hourly mean rates. */
export function districtBandwidthHourly(filters: Cond[]): Select {
  return bandwidth('school_uplink_1h', timeFilter, '$__interval', 'district', filters);
}

/** That bandwidth ÷ the 10G district uplink. */
export function districtUtilisationHourly(filters: Cond[]): Select {
  return districtUtilisation('school_uplink_1h', timeFilter, '$__interval', filters);
}

/** Devices up per kind, averaged over each hour (device-minutes up ÷ 60), then over the interval. */
export function onlineByKindHourly(filters: Cond[]): Select {
  const perHour = from('availability_1h')
    .select(as(op(agg('availability_1h', 'sum', 'online'), '/', 60), 'online'))
    .where(timeFilter, ...filters)
    .byTime('1h')
    .by('kind')
    .fill('none')
    .build();
  return fromSubquery(perHour).select(as(aggCol('mean', 'online'), 'online')).byTime('$__interval').by('kind').fill('none').build();
}

/** Inbound and outbound bandwidth per `dim`: the sum of its school uplinks' mean rates (bit/s). */
export function bandwidthBy(dim: 'district' | 'school', filters: Cond[]): Select {
  return bandwidth('network_node', timeFilter, '$__interval', dim, filters);
}

/** Per school: mean utilisation of its uplinks (max of in and out ÷ capacity) and the peak inbound rate. */
export function uplinkSaturationBySchool(filters: Cond[]): Select {
  return from('network_node')
    .select(as(agg('network_node', 'mean', 'utilisation'), 'utilisation'), as(agg('network_node', 'max', 'rx_bps'), 'peak_in'))
    .where(timeFilter, SCHOOL_UPLINKS, ...filters)
    .by('district', 'school')
    .build();
}

/** Synchronous-classroom streams per school: mean bitrate (kbit/s) and worst packet loss (%). */
export function streamHealth(filters: Cond[]): Select {
  return from('classroom_av')
    .select(as(agg('classroom_av', 'mean', 'stream_kbps'), 'bitrate'), as(agg('classroom_av', 'max', 'stream_loss_pct'), 'loss'))
    .where(timeFilter, ...filters)
    .byTime('$__interval')
    .by('school')
    .fill('none')
    .build();
}

/** Stream samples with packet loss above 2 % per school (lessons that stuttered). */
export const LOSSY_STREAM_PCT = 2;
export function lossyStreams(filters: Cond[]): Select {
  return from('classroom_av')
    .select(as(agg('classroom_av', 'count', 'stream_loss_pct'), 'lossy'))
    .where(timeFilter, fieldCmp('classroom_av', 'stream_loss_pct', '>', LOSSY_STREAM_PCT), ...filters)
    .by('school')
    .build();
}

/**
 * Per science kiosk: its content sync age and free disk at its last sample in the range (a kiosk
 * showing day-old content, or whose disk is filling, needs its vendor, not an availability alert).
 */
export const STALE_KIOSK_CONTENT_S = 86_400;
export function kioskContent(filters: Cond[]): Select {
  return from('science_kiosk')
    .select(as(agg('science_kiosk', 'last', 'content_sync_age_s'), 'sync_age'), as(agg('science_kiosk', 'last', 'free_disk_mib'), 'free_disk'))
    .where(timeFilter, ...filters)
    .by('school', 'device')
    .build();
}

/** The school's most recent commands, newest first: one row per command, with its outcome. */
export const RECENT_COMMANDS = 50;
export function recentCommands(filters: Cond[]): Select {
  return from('command')
    .select(
      as(tagOf('command', 'device'), 'device'),
      as(tagOf('command', 'action'), 'action'),
      as(fieldOf('command', 'input'), 'input'),
      as(fieldOf('command', 'status'), 'status'),
      as(fieldOf('command', 'detail'), 'detail'),
      as(fieldOf('command', 'id'), 'id'),
    )
    .where(timeFilter, ...filters)
    .newestFirst()
    .limit(RECENT_COMMANDS)
    .build();
}

/** Each device's state per interval (its last observation in it); empty intervals are unknown. */
export function deviceStateTimeline(filters: Cond[]): Select {
  return from('availability').select(as(agg('availability', 'last', 'state'), 'state')).where(timeFilter, ...filters).byTime('$__interval').by('device').fill('null').build();
}

/** Gateway connection state per interval: 1 connected, 0 not (the hub writes it every minute); blank: the hub wrote nothing. */
export function gatewayOnlineTimeline(filters: Cond[]): Select {
  return from('gateway_up').select(as(agg('gateway_up', 'last', 'up'), 'online')).where(timeFilter, ...filters).byTime('$__interval').by('gateway').fill('null').build();
}

/** A gateway_health field per gateway per interval. */
export function gatewayHealthSeries(
  fn: 'max' | 'last',
  fieldName: 'outbox_records' | 'outbox_oldest_age_ms' | 'outbox_bytes' | 'replay_remaining' | 'replay_sent',
  alias: string,
  filters: Cond[],
): Select {
  return from('gateway_health').select(as(agg('gateway_health', fn, fieldName), alias)).where(timeFilter, ...filters).byTime('$__interval').by('gateway').fill('none').build();
}

/** Increase per interval of a since-start counter of gateway_health (a restart's reset counts as nothing). */
export function gatewayCounterIncrease(fieldName: 'outbox_dropped' | 'samples_rejected', alias: string, filters: Cond[]): Select {
  return from('gateway_health')
    .select(as({ sql: `non_negative_difference(${agg('gateway_health', 'max', fieldName).sql})` }, alias))
    .where(timeFilter, ...filters)
    .byTime('$__interval')
    .by('gateway')
    .fill('none')
    .build();
}

export const FILTERS = {
  district: inDistrict,
  school: inSchool,
  kind: ofKind,
  gatewayDistrict: tagInVar('gateway_health', 'district', 'district'),
  gatewaySchool: tagInVar('gateway_health', 'school', 'school'),
};

// ---- alert rules: every rule's query groups by the labels notifications are routed on ----

/** Each gateway's last connection state (1 connected, 0 not) within the rule's range. */
export const ALERT_GATEWAY_STATE = from('gateway_up').select(as(agg('gateway_up', 'last', 'up'), 'online')).where(timeFilter).by('district', 'school', 'gateway').build();

/** Per gateway: logins the hub damped (held for repeated takeovers: two devices sharing its credentials) within the rule's range. */
export const ALERT_SHARED_CREDENTIALS = from('gateway_conflict').select(as(agg('gateway_conflict', 'sum', 'damped'), 'damped')).where(timeFilter).by('district', 'school', 'gateway').build();

/** The hub's minute reports within the rule's range: none means the hub (or its writes) stopped. */
export const ALERT_HUB_REPORTS = from('inventory').select(as(agg('inventory', 'count', 'devices'), 'reports')).where(timeFilter).build();

/** Per district: inbound and outbound utilisation of the 10G uplink, mean over the rule's range. */
export const ALERT_DISTRICT_UPLINK_IN = districtUtilisation('network_node', timeFilter, undefined, [], ['rx']);
export const ALERT_DISTRICT_UPLINK_OUT = districtUtilisation('network_node', timeFilter, undefined, [], ['tx']);

/**
 * Per school, over the devices that follow the school timetable (not the 24/7 network nodes):
 * availability over expected minutes, and how many device-minutes were expected. Outside school
 * hours nothing is expected, so there is no figure and the rule is quiet. Raw points, so that
 * minutes a gateway replays count as soon as they arrive.
 */
const timetabled = tagIsNot('availability', 'kind', 'network_node');
export const ALERT_SCHOOL_AVAILABILITY = from('availability')
  .select(as(op(AVAILABILITY.up.expr, '/', AVAILABILITY.expected.expr), 'availability'))
  .where(timeFilter, fieldCmp('availability', 'expected', '=', 1), timetabled)
  .by('district', 'school')
  .build();
export const ALERT_SCHOOL_EXPECTED = from('availability')
  .select(AVAILABILITY.expected)
  .where(timeFilter, fieldCmp('availability', 'expected', '=', 1), timetabled)
  .by('district', 'school')
  .build();

/** Per gateway: growth of the outbox over the rule's range (last − first), and the oldest record's age. */
export const ALERT_OUTBOX_GROWTH = from('gateway_health')
  .select(as(op(agg('gateway_health', 'last', 'outbox_records'), '-', agg('gateway_health', 'first', 'outbox_records')), 'growth'))
  .where(timeFilter)
  .by('district', 'school', 'gateway')
  .build();
export const ALERT_OUTBOX_AGE = from('gateway_health')
  .select(as(agg('gateway_health', 'last', 'outbox_oldest_age_ms'), 'oldest_ms'))
  .where(timeFilter)
  .by('district', 'school', 'gateway')
  .build();

/** Per gateway: records the outbox bound dropped within the rule's range (increase of the since-start counter). */
export const ALERT_OUTBOX_DROPPED = fromSubquery(
  from('gateway_health').select(as(agg('gateway_health', 'non_negative_difference', 'outbox_dropped'), 'dropped')).where(timeFilter).by('district', 'school', 'gateway').build(),
)
  .select(as(aggCol('sum', 'dropped'), 'dropped'))
  .by('district', 'school', 'gateway')
  .build();
