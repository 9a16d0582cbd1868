// Body of the "Grafana alert" function node: one notification from Grafana's webhook contact
// point (payload version 1). A valid one is summarised, kept (the last 100) and logged; anything
// else is answered 400 with the reason and counted, never half-kept.
const stats = flow.get('stats') || { received: 0, rejected: 0 };
const body = msg.payload;
function reject(why) {
  stats.rejected += 1;
  flow.set('stats', stats);
  node.warn(`grafana notification refused: ${why}`);
  msg.statusCode = 400;
  msg.payload = { error: why };
  return msg;
}
if (body === null || typeof body !== 'object' || Array.isArray(body)) return reject('the body must be a JSON object');
// Set by the HTTP middleware in settings.cjs for a body that is not JSON or too large.
if (typeof body.__malformedJson === 'string') return reject(body.__malformedJson);
if (!Array.isArray(body.alerts) || body.alerts.length === 0) return reject('alerts must be a non-empty array');
if (body.alerts.length > 1000) return reject('more than 1000 alerts in one notification');
// Strings kept at most 1000 characters, control characters (newlines included) as spaces, so
// one notification is one log line.
const text = (v) => (typeof v === 'string' ? v.slice(0, 1000).replace(/[\u0000-\u001f\u007f]/g, ' ') : undefined);
const alerts = [];
for (const a of body.alerts) {
  if (a === null || typeof a !== 'object' || a.labels === null || typeof a.labels !== 'object') return reject('every alert needs labels');
  if (a.status !== 'firing' && a.status !== 'resolved') return reject('an alert status must be firing or resolved');
  const l = a.labels;
  const an = a.annotations && typeof a.annotations === 'object' ? a.annotations : {};
  alerts.push({
    status: a.status,
    alertname: text(l.alertname),
    severity: text(l.severity),
    scope: text(l.scope),
    district: text(l.district),
    school: text(l.school),
    gateway: text(l.gateway),
    summary: text(an.summary),
    startsAt: text(a.startsAt),
  });
}
const groupLabels = {};
if (body.groupLabels && typeof body.groupLabels === 'object') {
  for (const [k, v] of Object.entries(body.groupLabels)) if (typeof v === 'string') groupLabels[k.slice(0, 100)] = text(v).slice(0, 200);
}
const notification = { receivedAt: new Date().toISOString(), receiver: text(body.receiver), status: text(body.status), groupLabels, alerts };
const recent = flow.get('recent') || [];
recent.unshift(notification);
flow.set('recent', recent.slice(0, 100));
stats.received += 1;
flow.set('stats', stats);
const group = Object.entries(groupLabels).map(([k, v]) => `${k}=${v}`).join(',');
node.log(`${notification.status} [${group}] ${alerts.map((x) => x.summary || x.alertname).join(' | ')}`);
msg.statusCode = 204;
msg.payload = '';
return msg;
