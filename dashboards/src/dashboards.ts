import { DashboardBuilder, DashboardCursorSync, type Dashboard, type DataTransformerConfig, MappingType, ThresholdsConfigBuilder, ThresholdsMode } from '@grafana/grafana-foundation-sdk/dashboard';
import * as statetimeline from '@grafana/grafana-foundation-sdk/statetimeline';
import * as table from '@grafana/grafana-foundation-sdk/table';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';
import { at, DATASOURCE, districtVariable, InfluxQLTarget, kindVariable, schoolVariable } from './grafana.ts';
import * as Q from './queries.ts';

/**
 * The four dashboards operators use, generated into the provisioning tree by ./build.ts. UIDs
 * are fixed so links and alert annotations stay valid; every panel names the datasource by uid.
 */

const { district, school, kind } = Q.FILTERS;

const thresholds = (steps: Array<[number | null, string]>) =>
  new ThresholdsConfigBuilder().mode(ThresholdsMode.Absolute).steps(steps.map(([value, color]) => ({ value, color })));

/** Availability colours: red under 95 %, amber under 99 %. */
const AVAILABILITY_THRESHOLDS = thresholds([
  [null, 'red'],
  [0.95, 'orange'],
  [0.99, 'green'],
]);
/** Saturation colours: amber from 60 %, red from 80 % (the alert's threshold). */
const SATURATION_THRESHOLDS = thresholds([
  [null, 'green'],
  [0.6, 'orange'],
  [0.8, 'red'],
]);

/** A new field `alias` = left ÷ right, per row (fields matched by name, Grafana 11+ options). */
const divide = (left: string, right: string, alias: string): DataTransformerConfig => ({
  id: 'calculateField',
  options: {
    mode: 'binary',
    binary: { left: { matcher: { id: 'byName', options: left } }, operator: '/', right: { matcher: { id: 'byName', options: right } } },
    alias,
    replaceFields: false,
  },
});
const sortBy = (field: string, desc: boolean): DataTransformerConfig => ({ id: 'sortBy', options: { sort: [{ field, desc }] } });
const limit = (n: number): DataTransformerConfig => ({ id: 'limit', options: { limitField: n } });
const hide = (...names: string[]): DataTransformerConfig => ({
  id: 'organize',
  options: { excludeByName: Object.fromEntries(names.map((n) => [n, true])) },
});

const HOURLY_NOTE = ' From the hourly rollups: complete hours only; the current hour appears once it has ended.';

/**
 * Drill-down links: a district to its dashboard, a school to its own, keeping the time range.
 * Fixed dashboard uids keep these valid.
 */
const TO_DISTRICT = [{ title: 'Open the district', url: '/d/campus-district?var-district=${__value.raw:percentencode}&${__url_time_range}' }];
const TO_SCHOOL = [
  { title: 'Open the school', url: '/d/campus-school?var-district=${__data.fields.district:percentencode}&var-school=${__value.raw:percentencode}&${__url_time_range}' },
];

/** "No figure" for a division with nothing to divide (0 ÷ 0 in the panel's calculation). */
const NO_FIGURE = { type: MappingType.SpecialValue, options: { match: 'nan', result: { text: '—', index: 0 } } };

/**
 * Availability with coverage per district or school, from the hourly rollups: one table query,
 * the two ratios computed by the panel.
 */
function availabilityTable(title: string, key: 'district' | 'school', filters: Array<typeof district>, opts: { worstFirst?: number } = {}) {
  const t = new table.PanelBuilder()
    .title(title)
    .description(
      'Availability = up minutes ÷ expected minutes (network nodes 24/7, classroom devices in school hours). ' +
        'Minutes with no observer (gateway unreachable) are unknown and left out of both; coverage = observed ÷ registered device-minutes.' +
        HOURLY_NOTE,
    )
    .datasource(DATASOURCE)
    .interval('1h')
    .withTarget(new InfluxQLTarget('A', Q.availabilityHourlyBy(key, filters), 'table'))
    .withTransformation(divide('up', 'expected', 'availability'))
    .withTransformation(divide('observed', 'registered', 'coverage'))
    .withTransformation(sortBy('availability', false));
  if (opts.worstFirst) t.withTransformation(limit(opts.worstFirst));
  return t
    .withTransformation(hide('Time', 'up', 'expected', 'observed', 'registered'))
    .unit('percentunit')
    .decimals(2)
    .min(0)
    .max(1)
    .thresholds(AVAILABILITY_THRESHOLDS)
    .mappings([NO_FIGURE] as never)
    .overrideByName(key, [
      { id: 'unit', value: 'string' },
      { id: 'links', value: key === 'district' ? TO_DISTRICT : TO_SCHOOL },
    ])
    .overrideByName('district', [{ id: 'unit', value: 'string' }]);
}

export function cityDashboard(): Dashboard {
  const f = [district, kind];
  return new DashboardBuilder('Campus network — city overview')
    .uid('campus-city')
    .tags(['campus', 'city'])
    .timezone('Asia/Shanghai')
    .time({ from: 'now-24h', to: 'now' })
    .refresh('1m')
    .tooltip(DashboardCursorSync.Crosshair)
    .withVariable(districtVariable({ multi: true }))
    .withVariable(kindVariable())
    .withPanel(availabilityTable('Availability and coverage by district', 'district', f).gridPos(at(0, 0, 12, 8)))
    .withPanel(
      new timeseries.PanelBuilder()
        .title('Bandwidth by district (sum of school uplinks)')
        .description(`Sum of the hourly mean rates of the district's school uplinks.${HOURLY_NOTE}`)
        .datasource(DATASOURCE)
        .interval('1h')
        .withTarget(new InfluxQLTarget('A', Q.districtBandwidthHourly([district])).alias('$tag_district $col'))
        .unit('bps')
        .min(0)
        .gridPos(at(12, 0, 12, 8)),
    )
    .withPanel(
      new timeseries.PanelBuilder()
        .title('District uplink utilisation (of 10 Gbit/s)')
        .description(`District bandwidth ÷ 10 Gbit/s, hourly means (the alert rule watches 5-minute means).${HOURLY_NOTE}`)
        .datasource(DATASOURCE)
        .interval('1h')
        .withTarget(new InfluxQLTarget('A', Q.districtUtilisationHourly([district])).alias('$tag_district $col'))
        .unit('percentunit')
        .min(0)
        .thresholds(SATURATION_THRESHOLDS)
        .gridPos(at(0, 8, 12, 8)),
    )
    .withPanel(
      new timeseries.PanelBuilder()
        .title('Devices up, by kind')
        .description(`Devices observed up, averaged over each hour (device-minutes up ÷ 60).${HOURLY_NOTE}`)
        .datasource(DATASOURCE)
        .interval('1h')
        .withTarget(new InfluxQLTarget('A', Q.onlineByKindHourly(f)).alias('$tag_kind'))
        .unit('short')
        .min(0)
        .gridPos(at(12, 8, 12, 8)),
    )
    .withPanel(availabilityTable('Worst schools (availability)', 'school', f, { worstFirst: 10 }).gridPos(at(0, 16, 24, 9)))
    .build();
}

export function districtDashboard(): Dashboard {
  const f = [district, school];
  return new DashboardBuilder('Campus network — district')
    .uid('campus-district')
    .tags(['campus', 'district'])
    .timezone('Asia/Shanghai')
    .time({ from: 'now-24h', to: 'now' })
    .refresh('1m')
    .withVariable(districtVariable({ multi: false }))
    .withVariable(schoolVariable({ multi: true }))
    .withPanel(availabilityTable('Schools by availability', 'school', f).gridPos(at(0, 0, 12, 10)))
    .withPanel(
      new table.PanelBuilder()
        .title('Schools by uplink saturation')
        .description('Mean utilisation of the school uplink (the larger of in and out ÷ link capacity) and its peak inbound rate.')
        .datasource(DATASOURCE)
        .withTarget(new InfluxQLTarget('A', Q.uplinkSaturationBySchool(f), 'table'))
        .withTransformation(sortBy('utilisation', true))
        .withTransformation(hide('Time'))
        .unit('percentunit')
        .thresholds(SATURATION_THRESHOLDS)
        .overrideByName('peak_in', [{ id: 'unit', value: 'bps' }])
        .overrideByName('school', [
          { id: 'unit', value: 'string' },
          { id: 'links', value: TO_SCHOOL },
        ])
        .overrideByName('district', [{ id: 'unit', value: 'string' }])
        .gridPos(at(12, 0, 12, 10)),
    )
    .withPanel(
      new timeseries.PanelBuilder()
        .title('School uplink bandwidth')
        .datasource(DATASOURCE)
        .withTarget(new InfluxQLTarget('A', Q.bandwidthBy('school', f)).alias('$tag_school $col'))
        .unit('bps')
        .min(0)
        .gridPos(at(0, 10, 12, 9)),
    )
    .withPanel(
      new timeseries.PanelBuilder()
        .title('Synchronous-classroom streams: bitrate and worst loss')
        .datasource(DATASOURCE)
        .withTarget(new InfluxQLTarget('A', Q.streamHealth(f)).alias('$tag_school $col'))
        .unit('Kbits')
        .overrideByRegexp('.* loss$', [
          { id: 'unit', value: 'percent' },
          { id: 'custom.axisPlacement', value: 'right' },
        ])
        .gridPos(at(12, 10, 12, 9)),
    )
    .withPanel(
      new table.PanelBuilder()
        .title(`Stream samples with loss above ${Q.LOSSY_STREAM_PCT} %, by school`)
        .datasource(DATASOURCE)
        .withTarget(new InfluxQLTarget('A', Q.lossyStreams(f), 'table'))
        .withTransformation(sortBy('lossy', true))
        .withTransformation(hide('Time'))
        .unit('short')
        .gridPos(at(0, 19, 24, 7)),
    )
    .withPanel(
      new table.PanelBuilder()
        .title('Science kiosks: content sync age and free disk')
        .description(`Each kiosk at its last sample in the range, stalest first: amber from a day without a content sync, red from a week.`)
        .datasource(DATASOURCE)
        .withTarget(new InfluxQLTarget('A', Q.kioskContent(f), 'table'))
        .withTransformation(sortBy('sync_age', true))
        .withTransformation(hide('Time'))
        .unit('s')
        .thresholds(thresholds([[null, 'green'], [Q.STALE_KIOSK_CONTENT_S, 'orange'], [7 * Q.STALE_KIOSK_CONTENT_S, 'red']]))
        .overrideByName('free_disk', [{ id: 'unit', value: 'mbytes' }])
        .overrideByName('school', [{ id: 'unit', value: 'string' }])
        .overrideByName('device', [{ id: 'unit', value: 'string' }])
        .gridPos(at(0, 26, 24, 8)),
    )
    .build();
}

const STATE_MAPPINGS = [
  {
    type: MappingType.ValueToText,
    options: {
      up: { text: 'up', color: 'green', index: 0 },
      down: { text: 'down', color: 'red', index: 1 },
      off: { text: 'off', color: 'text', index: 2 },
    },
  },
  { type: MappingType.SpecialValue, options: { match: 'null', result: { text: 'unknown', color: 'transparent', index: 3 } } },
] as const;

export function schoolDashboard(): Dashboard {
  const f = [district, school, kind];
  return new DashboardBuilder('Campus network — school')
    .uid('campus-school')
    .tags(['campus', 'school'])
    .timezone('Asia/Shanghai')
    .time({ from: 'now-12h', to: 'now' })
    .refresh('1m')
    .withVariable(districtVariable({ multi: false }))
    .withVariable(schoolVariable({ multi: false }))
    .withVariable(kindVariable())
    .withPanel(
      new table.PanelBuilder()
        .title('Rooms and devices')
        .description('Each device\'s last observed state in the range and its availability (up ÷ expected minutes; "—" when none were expected).')
        .datasource(DATASOURCE)
        .withTarget(new InfluxQLTarget('A', Q.deviceFigures(f), 'table'))
        .withTransformation(divide('up', 'expected', 'availability'))
        .withTransformation(sortBy('room', false))
        .withTransformation(hide('Time', 'up', 'expected'))
        .mappings([...STATE_MAPPINGS] as never)
        .overrideByName('availability', [
          { id: 'unit', value: 'percentunit' },
          { id: 'decimals', value: 2 },
          { id: 'thresholds', value: AVAILABILITY_THRESHOLDS.build() },
          { id: 'mappings', value: [NO_FIGURE] },
        ])
        .gridPos(at(0, 0, 10, 16)),
    )
    .withPanel(
      new statetimeline.PanelBuilder()
        .title('Device states')
        .description('unknown (blank): no observation, the gateway was unreachable and has not replayed yet.')
        .datasource(DATASOURCE)
        .withTarget(new InfluxQLTarget('A', Q.deviceStateTimeline(f)).alias('$tag_device'))
        .mappings([...STATE_MAPPINGS] as never)
        .gridPos(at(10, 0, 14, 16)),
    )
    .withPanel(
      new table.PanelBuilder()
        .title('Recent commands')
        .description(`The ${Q.RECENT_COMMANDS} most recent commands to this school's devices, newest first: sent, then done, failed, expired (never executed late), rejected, or no result (lost with a connection: whether the device acted is not known).`)
        .datasource(DATASOURCE)
        .withTarget(new InfluxQLTarget('A', Q.recentCommands([district, school]), 'table'))
        .mappings([
          {
            type: MappingType.ValueToText,
            options: {
              sent: { text: 'sent', color: 'blue', index: 0 },
              done: { text: 'done', color: 'green', index: 1 },
              failed: { text: 'failed', color: 'red', index: 2 },
              expired: { text: 'expired', color: 'orange', index: 3 },
              rejected: { text: 'rejected', color: 'red', index: 4 },
              no_result: { text: 'no result', color: 'purple', index: 5 },
            },
          },
        ] as never)
        .gridPos(at(0, 24, 24, 8)),
    )
    .withPanel(
      new timeseries.PanelBuilder()
        .title('School uplink')
        .datasource(DATASOURCE)
        .withTarget(new InfluxQLTarget('A', Q.bandwidthBy('school', [district, school])).alias('$col'))
        .unit('bps')
        .min(0)
        .gridPos(at(0, 16, 24, 8)),
    )
    .build();
}

export function gatewaysDashboard(): Dashboard {
  const f = [Q.FILTERS.gatewayDistrict, Q.FILTERS.gatewaySchool];
  const series = (title: string, target: InfluxQLTarget, unit: string, y: number, x: number) =>
    new timeseries.PanelBuilder().title(title).datasource(DATASOURCE).withTarget(target.alias('$tag_gateway $col')).unit(unit).min(0).gridPos(at(x, y, 12, 8));
  return new DashboardBuilder('Campus network — edge gateways')
    .uid('campus-gateways')
    .tags(['campus', 'gateways'])
    .timezone('Asia/Shanghai')
    .time({ from: 'now-6h', to: 'now' })
    .refresh('30s')
    .withVariable(districtVariable({ multi: true }))
    .withVariable(schoolVariable({ multi: true }))
    .withPanel(
      new statetimeline.PanelBuilder()
        .title('Gateway connection')
        .datasource(DATASOURCE)
        .withTarget(new InfluxQLTarget('A', Q.gatewayOnlineTimeline(f)).alias('$tag_gateway'))
        .mappings([
          { type: MappingType.ValueToText, options: { '1': { text: 'online', color: 'green', index: 0 }, '0': { text: 'offline', color: 'red', index: 1 } } },
        ] as never)
        .gridPos(at(0, 0, 24, 8)),
    )
    .withPanel(series('Outbox backlog (records held)', new InfluxQLTarget('A', Q.gatewayHealthSeries('max', 'outbox_records', 'records', f)), 'short', 8, 0))
    .withPanel(series('Age of the oldest record held', new InfluxQLTarget('A', Q.gatewayHealthSeries('max', 'outbox_oldest_age_ms', 'oldest', f)), 'ms', 8, 12))
    .withPanel(
      new timeseries.PanelBuilder()
        .title('Replay progress')
        .datasource(DATASOURCE)
        .withTarget(new InfluxQLTarget('A', Q.gatewayHealthSeries('last', 'replay_remaining', 'remaining', f)).alias('$tag_gateway $col'))
        .withTarget(new InfluxQLTarget('B', Q.gatewayHealthSeries('last', 'replay_sent', 'sent', f)).alias('$tag_gateway $col'))
        .unit('short')
        .min(0)
        .gridPos(at(0, 16, 12, 8)),
    )
    .withPanel(
      new timeseries.PanelBuilder()
        .title('Records dropped by the outbox bound, and samples refused at the edge')
        .datasource(DATASOURCE)
        .withTarget(new InfluxQLTarget('A', Q.gatewayCounterIncrease('outbox_dropped', 'dropped', f)).alias('$tag_gateway $col'))
        .withTarget(new InfluxQLTarget('B', Q.gatewayCounterIncrease('samples_rejected', 'refused', f)).alias('$tag_gateway $col'))
        .unit('short')
        .min(0)
        .thresholds(thresholds([
          [null, 'green'],
          [1, 'red'],
        ]))
        .gridPos(at(12, 16, 12, 8)),
    )
    .build();
}

/** Fixed panel ids, in layout order, so panel links and alert annotations stay valid. */
function numbered(make: () => Dashboard): () => Dashboard {
  return () => {
    const d = make();
    d.panels?.forEach((p, i) => {
      p.id = i + 1;
    });
    return d;
  };
}

export const DASHBOARDS = {
  'campus-city': numbered(cityDashboard),
  'campus-district': numbered(districtDashboard),
  'campus-school': numbered(schoolDashboard),
  'campus-gateways': numbered(gatewaysDashboard),
} as const;
