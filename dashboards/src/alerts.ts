import * as alerting from '@grafana/grafana-foundation-sdk/alerting';
import * as expr from '@grafana/grafana-foundation-sdk/expr';
import { DATASOURCE, InfluxQLTarget } from './grafana.ts';
import type { Select } from '../../storage/src/influxql.ts';
import * as Q from './queries.ts';

/**
 * Grafana unified alerting, as code: the rules, where their notifications go, and how they are
 * grouped. Every rule groups its query by the labels notifications are routed and grouped on
 * (district, school, gateway), has a pending period (`for`) so a blip does not page anyone, and
 * a summary a person understands. ./build.ts writes them in Grafana's file-provisioning format.
 */

export const ALERT_FOLDER = 'Campus network';
export const ALERT_GROUP = 'campus-hub';
/** How often the group is evaluated. */
export const ALERT_INTERVAL = '1m';

export const CONTACT_WEBHOOK = 'campus-nodered';
export const CONTACT_EMAIL = 'campus-email';

const EXPR_UID = '__expr__';
const exprRef = { type: '__expr__', uid: EXPR_UID };

/** An InfluxQL query of a rule, over the last `seconds`. */
function influx(refId: string, select: Select, seconds: number): alerting.QueryBuilder {
  return new alerting.QueryBuilder(refId)
    .datasourceUid(DATASOURCE.uid!)
    .relativeTimeRange({ from: seconds, to: 0 })
    .model(new InfluxQLTarget(refId, select));
}

/** Reduces each series of `input` to its last value (empty and null points dropped). */
function last(refId: string, input: string): alerting.QueryBuilder {
  return new alerting.QueryBuilder(refId)
    .datasourceUid(EXPR_UID)
    .model(new expr.TypeReduceBuilder().refId(refId).datasource(exprRef).expression(input).reducer('last').settings({ mode: 'dropNN' }));
}

function math(refId: string, expression: string): alerting.QueryBuilder {
  return new alerting.QueryBuilder(refId).datasourceUid(EXPR_UID).model(new expr.TypeMathBuilder().refId(refId).datasource(exprRef).expression(expression));
}

function threshold(refId: string, input: string, type: 'gt' | 'lt', value: number): alerting.QueryBuilder {
  return new alerting.QueryBuilder(refId)
    .datasourceUid(EXPR_UID)
    .model(new expr.TypeThresholdBuilder().refId(refId).datasource(exprRef).expression(input).conditions([{ evaluator: { type, params: [value] } }]));
}

function rule(uid: string, title: string): alerting.RuleBuilder {
  return new alerting.RuleBuilder(title).uid(uid).ruleGroup(ALERT_GROUP).noDataState('OK').execErrState('Error').isPaused(false);
}

/** A rule over one InfluxQL query (A), reduced to its last value (B), against a threshold (C). */
function thresholdRule(uid: string, title: string, a: Select, windowS: number, type: 'gt' | 'lt', value: number): alerting.RuleBuilder {
  return rule(uid, title)
    .withQuery(influx('A', a, windowS))
    .withQuery(last('B', 'A'))
    .withQuery(threshold('C', 'B', type, value))
    .condition('C');
}

/**
 * A rule over two InfluxQL queries (A, B) on the same window, each reduced to its last value
 * (C, D), and a condition on both: `condition` is a math expression over `$C` and `$D`.
 */
function twoQueryRule(uid: string, title: string, a: Select, b: Select, windowS: number, condition: string): alerting.RuleBuilder {
  return rule(uid, title)
    .withQuery(influx('A', a, windowS))
    .withQuery(influx('B', b, windowS))
    .withQuery(last('C', 'A'))
    .withQuery(last('D', 'B'))
    .withQuery(math('E', condition))
    .condition('E');
}

export const GATEWAY_OFFLINE_MIN = 5;
export const DISTRICT_UPLINK_LIMIT = 0.8;
export const SCHOOL_AVAILABILITY_MIN = 0.95;
/** Fewer expected device-minutes than this in the hour is too little to judge (e.g. 07:30–07:31). */
export const SCHOOL_AVAILABILITY_MIN_EXPECTED = 60;
/** A backlog that keeps growing while its oldest record is older than this is stuck. */
export const OUTBOX_STUCK_AGE_MS = 300_000;

export function alertRules(): alerting.Rule[] {
  return [
    thresholdRule('campus-gateway-offline', 'Gateway offline', Q.ALERT_GATEWAY_STATE, 600, 'lt', 1)
      .forDuration(`${GATEWAY_OFFLINE_MIN}m`)
      .labels({ severity: 'critical', scope: 'gateway' })
      .annotations({
        summary: 'Gateway {{ $labels.gateway }} of school {{ $labels.school }} ({{ $labels.district }}) has been offline for more than 5 minutes.',
        description:
          'The school\'s devices show as unknown, not down, until the gateway reconnects; it keeps their data and replays it then. ' +
          'Check the school\'s uplink and the gateway in its server room.',
      })
      .build(),
    twoQueryRule('campus-district-uplink-saturated', 'District uplink saturated', Q.ALERT_DISTRICT_UPLINK_IN, Q.ALERT_DISTRICT_UPLINK_OUT, 300, `$C > ${DISTRICT_UPLINK_LIMIT} || $D > ${DISTRICT_UPLINK_LIMIT}`)
      .forDuration('10m')
      .labels({ severity: 'warning', scope: 'district' })
      .annotations({
        summary: 'District {{ $labels.district }}: its school uplinks together have used more than 80 % of the 10 Gbit/s district uplink (5-minute mean) for 10 minutes.',
        description: 'Sum of the mean rates of the district\'s school uplinks over the last 5 minutes, in or out, above 80 % of 10 Gbit/s at every evaluation for 10 minutes. Lessons that stream will stutter.',
      })
      .build(),
    twoQueryRule('campus-school-availability-low', 'School availability below 95 %', Q.ALERT_SCHOOL_AVAILABILITY, Q.ALERT_SCHOOL_EXPECTED, 3600, `$C < ${SCHOOL_AVAILABILITY_MIN} && $D >= ${SCHOOL_AVAILABILITY_MIN_EXPECTED}`)
      .forDuration('10m')
      .labels({ severity: 'warning', scope: 'school' })
      .annotations({
        summary: 'School {{ $labels.school }} ({{ $labels.district }}): classroom devices were up less than 95 % of school hours in the last hour.',
        description:
          'Up minutes ÷ expected minutes of classroom AV, boards and VR kits over the last hour (only minutes in the school\'s timetable count; ' +
          'unknown minutes, while a gateway was unreachable, count on neither side). Open the school dashboard for the devices that were down.',
      })
      .build(),
    twoQueryRule('campus-outbox-backlog-growing', 'Gateway outbox backlog growing', Q.ALERT_OUTBOX_GROWTH, Q.ALERT_OUTBOX_AGE, 900, `$C > 0 && $D > ${OUTBOX_STUCK_AGE_MS}`)
      .forDuration('10m')
      .labels({ severity: 'warning', scope: 'gateway' })
      .annotations({
        summary: 'Gateway {{ $labels.gateway }} ({{ $labels.school }}, {{ $labels.district }}): its outbox keeps growing and holds records older than 5 minutes.',
        description: 'The gateway is connected but its data is not getting through to InfluxDB fast enough; if this goes on, the outbox bound will drop the oldest records.',
      })
      .build(),
    thresholdRule('campus-hub-silent', 'Hub not reporting', Q.ALERT_HUB_REPORTS, 300, 'lt', 1)
      // No point at all is the case this rule is for.
      .noDataState('Alerting')
      .forDuration('2m')
      .labels({ severity: 'critical', scope: 'hub' })
      .annotations({
        summary: 'The hub has written nothing to InfluxDB for 5 minutes: it is down, or InfluxDB refuses its writes.',
        description:
          'The hub writes its inventory every minute. Without it, coverage has no denominator and the gateway rules have no data, so they stay quiet: ' +
          'check the hub\'s /health and InfluxDB. Gateways keep their data meanwhile and replay it when the hub is back.',
      })
      .build(),
    thresholdRule('campus-outbox-dropped', 'Gateway outbox dropped records', Q.ALERT_OUTBOX_DROPPED, 3600, 'gt', 0)
      .forDuration('1m')
      .labels({ severity: 'critical', scope: 'gateway' })
      .annotations({
        summary: 'Gateway {{ $labels.gateway }} ({{ $labels.school }}, {{ $labels.district }}) dropped {{ $values.B }} records from its full outbox in the last hour.',
        description: 'Data was lost: the outbox reached its size or age bound and dropped its oldest records. Raise GW_OUTBOX_MAX_BYTES or fix the uplink.',
      })
      .build(),
    thresholdRule('campus-gateway-credentials-shared', 'Gateway credentials shared', Q.ALERT_SHARED_CREDENTIALS, 900, 'gt', 0)
      // The hub damps only after repeated takeovers, and the refused device keeps retrying, so
      // the points go on while both run: a minute is enough.
      .forDuration('1m')
      .labels({ severity: 'warning', scope: 'gateway' })
      .annotations({
        summary: 'Gateway {{ $labels.gateway }} ({{ $labels.school }}, {{ $labels.district }}): two devices are using its credentials.',
        description:
          'Their connections kept taking each other\'s session over, so the hub now keeps the one connected and refuses the other ' +
          '(HUB_ERR_SESSION_CONFLICT in the hub\'s log, hub_sessions_damped_total). Find the second device (a cloned gateway, or a spare ' +
          'configured with this gateway\'s password) and give it its own gateway, or rotate this one\'s password.',
      })
      .build(),
  ];
}

/** Contact points: the Node-RED flows (webhook) and an e-mail placeholder; secrets come from the environment. */
export function contactPoints(): alerting.ContactPoint[] {
  return [
    new alerting.ContactPointBuilder()
      .uid('campus-nodered-webhook')
      .name(CONTACT_WEBHOOK)
      .type('webhook')
      .settings({
        url: '${NODERED_ALERT_WEBHOOK_URL}',
        httpMethod: 'POST',
        username: '${NODERED_ALERT_WEBHOOK_USER}',
        password: '${NODERED_ALERT_WEBHOOK_PASSWORD}',
      })
      .build(),
    new alerting.ContactPointBuilder()
      .uid('campus-email')
      .name(CONTACT_EMAIL)
      .type('email')
      .settings({ addresses: '${ALERT_EMAIL_TO}', singleEmail: true })
      .build(),
  ];
}

/**
 * Grouped by district and school: one notification per school (one dead gateway is one
 * notification, never one per device), one per district for district-wide rules. Critical alerts
 * also go by e-mail.
 */
export function notificationPolicy(): alerting.NotificationPolicy {
  return new alerting.NotificationPolicyBuilder()
    .receiver(CONTACT_WEBHOOK)
    .groupBy(['district', 'school'])
    .groupWait('30s')
    .groupInterval('5m')
    .repeatInterval('4h')
    .routes([
      new alerting.NotificationPolicyBuilder().receiver(CONTACT_EMAIL).objectMatchers([['severity', '=', 'critical']]).continueVal(true),
      new alerting.NotificationPolicyBuilder().receiver(CONTACT_WEBHOOK).objectMatchers([['scope', '=~', '.+']]),
    ])
    .build();
}
