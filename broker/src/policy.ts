import { commandFilter, gatewayPrefix, HUB_ROOT, inventoryTopic, parseGatewayTopic, ticketTopic, type GatewayAddress } from '../../protocol/src/topics.ts';
import { HubErrorCode } from './errors.ts';
import { isTicket, type TicketCheck } from './loginTickets.ts';
import type { GatewayRow } from './registry.ts';

/**
 * Security policy as functions over typed inputs (docs/design.md#security). The Aedes hooks in mqttServer.ts are
 * one-line adapters around these.
 */
export type Identity =
  | ({ kind: 'gateway' } & GatewayAddress)
  | { kind: 'anonymous' };

export interface ConnectRequest {
  /** The client id exactly as sent in CONNECT (may be empty). */
  clientId: string;
  cleanSession: boolean;
  username: string | undefined;
  password: Buffer | undefined;
}

export type Decision<T = undefined> =
  | ({ ok: true } & (T extends undefined ? object : { value: T }))
  | { ok: false; code: HubErrorCode; reason: string; returnCode?: 2 | 4 | 5 };

export interface AuthenticateDeps {
  lookupGateway(id: string): GatewayRow | undefined;
  verifyPassword(password: string, hash: string): Promise<boolean>;
  /** Checked instead of a missing gateway's hash, at the same cost (passwords.ts dummyHash). */
  dummyHash: string;
  allowAnonymous: boolean;
  /**
   * Checks a login ticket (loginTickets.ts) presented as the password; absent: tickets are off and
   * a ticket-shaped password is refused like a wrong one, with no hash checked.
   */
  checkTicket?: ((ticket: string, username: string) => TicketCheck) | undefined;
}

/** Ids the fleet gives gateways (`gw-<school>`), refused to anonymous clients even when not registered yet. */
export const GATEWAY_ID_PATTERN = /^gw-/iu;

export async function authenticate(req: ConnectRequest, deps: AuthenticateDeps): Promise<Decision<Identity>> {
  // [MQTT-3.1.3-8]: a zero-byte client id with CleanSession = 0 gets CONNACK 0x02.
  if (req.clientId.length === 0 && !req.cleanSession) {
    return { ok: false, code: HubErrorCode.EMPTY_CLIENT_ID, reason: 'empty client id with a persistent session', returnCode: 2 };
  }
  if (req.username === undefined || req.username.length === 0) {
    if (deps.allowAnonymous) {
      // Under a gateway's id it would take over the gateway's session [MQTT-3.1.4-2] and inherit
      // its subscriptions and queued commands.
      if (GATEWAY_ID_PATTERN.test(req.clientId) || deps.lookupGateway(req.clientId)) {
        return { ok: false, code: HubErrorCode.ANONYMOUS_CLIENT_ID, reason: 'anonymous clients may not use a gateway id', returnCode: 2 };
      }
      return { ok: true, value: { kind: 'anonymous' } };
    }
    return { ok: false, code: HubErrorCode.ANONYMOUS_DENIED, reason: 'anonymous clients are not allowed', returnCode: 5 };
  }
  if (req.clientId !== req.username) {
    return { ok: false, code: HubErrorCode.CLIENT_ID_MISMATCH, reason: 'client id must equal the gateway id', returnCode: 2 };
  }
  // Unknown, revoked and wrong password answer alike, so ids cannot be probed.
  const denied = { ok: false, code: HubErrorCode.AUTH_DENIED, reason: 'bad username or password', returnCode: 4 } as const;
  const password = req.password?.toString('utf8');
  if (password !== undefined && isTicket(password)) {
    // A ticket stands for a password check already done: no hash here, and nothing awaited, so
    // the registry read in the check is the one in force when the login is accepted.
    const t = deps.checkTicket?.(password, req.username) ?? { ok: false, reason: 'malformed' };
    if (!t.ok) return { ok: false, code: HubErrorCode.TICKET_REFUSED, reason: `login ticket refused (${t.reason})`, returnCode: 4 };
    return { ok: true, value: { kind: 'gateway', district: t.gateway.district, school: t.gateway.school, gateway: t.gateway.id } };
  }
  const gw = deps.lookupGateway(req.username);
  // One hash check whatever the case, so the time taken does not tell them apart either.
  const matched = await deps.verifyPassword(req.password?.toString('utf8') ?? '', gw?.passwordHash ?? deps.dummyHash);
  if (!gw || gw.revoked || req.password === undefined || !matched) return denied;
  // Read again after the await, in the turn that accepts: a revocation, rotation or removal
  // during the check found no live session to close, so the login itself must see it.
  const now = deps.lookupGateway(req.username);
  if (!now || now.revoked || now.passwordHash !== gw.passwordHash) return denied;
  return { ok: true, value: { kind: 'gateway', district: now.district, school: now.school, gateway: now.id } };
}

/**
 * A gateway publishes only telemetry, state, health and command responses under its own prefix.
 * Anonymous clients (a development setting) may publish anywhere but under the hub's root, so
 * they can never write telemetry or a gateway's state.
 */
export function authorizePublish(identity: Identity, topic: string): Decision {
  if (identity.kind === 'anonymous') {
    // Nor the hub's own presence and events, which observers rely on.
    const reserved = [HUB_ROOT, 'presence/v1', 'events/v1'];
    return reserved.some((r) => topic === r || topic.startsWith(`${r}/`))
      ? { ok: false, code: HubErrorCode.PUBLISH_DENIED, reason: `anonymous clients may not publish to ${topic}` }
      : { ok: true };
  }
  const t = parseGatewayTopic(topic);
  const own =
    t !== null &&
    t.district === identity.district &&
    t.school === identity.school &&
    t.gateway === identity.gateway &&
    t.channel !== 'cmd' &&
    t.channel !== 'inventory' &&
    t.channel !== 'ticket';
  return own ? { ok: true } : { ok: false, code: HubErrorCode.PUBLISH_DENIED, reason: `may not publish to ${topic}` };
}

/**
 * A gateway subscribes only to its own command topics. An anonymous client subscribes anywhere
 * but to what could match the gateways' topics (telemetry, states, commands) or `$SYS`.
 */
export function authorizeSubscribe(identity: Identity, filter: string): Decision {
  if (identity.kind === 'anonymous') {
    return filter.startsWith('$') || mayMatchUnder(filter, HUB_ROOT)
      ? { ok: false, code: HubErrorCode.SUBSCRIBE_DENIED, reason: `anonymous clients may not subscribe to ${filter}` }
      : { ok: true };
  }
  const cmdRoot = `${gatewayPrefix(identity)}/cmd/`;
  // Its commands, its own inventory (which may carry its SNMP secrets: never another's), its own login tickets.
  const own = filter === commandFilter(identity) || filter.startsWith(cmdRoot) || filter === inventoryTopic(identity) || filter === ticketTopic(identity);
  return own ? { ok: true } : { ok: false, code: HubErrorCode.SUBSCRIBE_DENIED, reason: `may not subscribe to ${filter}` };
}

/** Whether `filter` matches some topic below `root` (`#`, `+/v1/#`, `campus/+/x` for `campus/v1`). */
function mayMatchUnder(filter: string, root: string): boolean {
  const f = filter.split('/');
  const r = root.split('/');
  for (let i = 0; i < r.length; i++) {
    if (f[i] === '#') return true;
    if (f[i] === undefined || (f[i] !== '+' && f[i] !== r[i])) return false;
  }
  // Equal to the root only (`campus/v1`) matches no topic below it.
  return f.length > r.length;
}
