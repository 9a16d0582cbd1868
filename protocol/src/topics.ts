/**
 * Every topic string in the product is built or parsed here. Hub topics carry the hierarchy
 * district / school / gateway so that the ACL is a prefix check (docs/design.md#protocol).
 *
 *   campus/v1/{district}/{school}/{gateway}/telemetry    gateway → hub, QoS 1, batched records
 *   campus/v1/{district}/{school}/{gateway}/state        gateway → hub, retained, Last Will
 *   campus/v1/{district}/{school}/{gateway}/health       gateway → hub, periodic outbox/replay health
 *   campus/v1/{district}/{school}/{gateway}/cmd/{...}    hub → gateway, commands
 *   campus/v1/{district}/{school}/{gateway}/cmdres/{...} gateway → hub, command responses
 *   campus/v1/{district}/{school}/{gateway}/inventory    hub → gateway, retained: its school's registered devices
 *   campus/v1/{district}/{school}/{gateway}/ticket       hub → gateway, QoS 1, not retained: its login ticket
 *   lan/v1/telemetry                                     device → gateway on the campus LAN
 *   lan/v1/err                                           gateway → devices: why a device's message was refused (the one named reads it)
 *   presence/v1/{district}/{school}/{gateway}            hub → observers, retained: the gateway and its devices now
 *   events/v1/{district}/{school}/{gateway}              hub → observers: state changes (one per gateway outage)
 */
export const HUB_ROOT = 'campus/v1';
export const LAN_TELEMETRY_TOPIC = 'lan/v1/telemetry';
/** Gateway → devices on the campus LAN: a refusal, naming the device (device ids never go in topics). */
export const LAN_ERROR_TOPIC = 'lan/v1/err';

export interface GatewayAddress {
  district: string;
  school: string;
  gateway: string;
}

export type GatewayChannel = 'telemetry' | 'state' | 'health' | 'cmd' | 'cmdres' | 'inventory' | 'ticket';
const CHANNELS: ReadonlySet<string> = new Set<GatewayChannel>(['telemetry', 'state', 'health', 'cmd', 'cmdres', 'inventory', 'ticket']);

export function gatewayPrefix(a: GatewayAddress): string {
  return `${HUB_ROOT}/${a.district}/${a.school}/${a.gateway}`;
}
export function telemetryTopic(a: GatewayAddress): string {
  return `${gatewayPrefix(a)}/telemetry`;
}
export function stateTopic(a: GatewayAddress): string {
  return `${gatewayPrefix(a)}/state`;
}
export function healthTopic(a: GatewayAddress): string {
  return `${gatewayPrefix(a)}/health`;
}
export function presenceTopic(a: GatewayAddress): string {
  return `presence/v1/${a.district}/${a.school}/${a.gateway}`;
}
export function eventsTopic(a: GatewayAddress): string {
  return `events/v1/${a.district}/${a.school}/${a.gateway}`;
}

/** Where the hub keeps a gateway's inventory (retained); the gateway subscribes to it. */
export function inventoryTopic(a: GatewayAddress): string {
  return `${gatewayPrefix(a)}/inventory`;
}

/**
 * Where the hub hands a gateway its login ticket (protocol/src/loginTicket.ts), once the gateway
 * subscribes to it after a login with its password (or with a ticket near its expiry). Never
 * retained: a ticket is a credential and stays out of the broker's persistence.
 */
export function ticketTopic(a: GatewayAddress): string {
  return `${gatewayPrefix(a)}/ticket`;
}

/** Every gateway's inventory topic: what the hub finds retained at start (it clears those of gateways gone). */
export const ALL_INVENTORIES_FILTER = `${HUB_ROOT}/+/+/+/inventory`;

/** Every gateway's retained presence document: what a hub node joining a cluster starts from. */
export const ALL_PRESENCE_FILTER = 'presence/v1/+/+/+';

/** The filter a gateway subscribes to for its commands. */
export function commandFilter(a: GatewayAddress): string {
  return `${gatewayPrefix(a)}/cmd/#`;
}

/** Where the hub sends a gateway its command requests. */
export function commandRequestTopic(a: GatewayAddress): string {
  return `${gatewayPrefix(a)}/cmd/request`;
}

/** Where a gateway sends the hub its command results. */
export function commandResultTopic(a: GatewayAddress): string {
  return `${gatewayPrefix(a)}/cmdres/result`;
}

export interface ParsedGatewayTopic extends GatewayAddress {
  channel: GatewayChannel;
  /** Levels after the channel (for cmd and cmdres). */
  rest: string[];
}

/** Parses a concrete (wildcard-free) hub topic; null when it is not one of ours. */
export function parseGatewayTopic(topic: string): ParsedGatewayTopic | null {
  const levels = topic.split('/');
  if (levels.length < 6 || levels[0] !== 'campus' || levels[1] !== 'v1') return null;
  const [, , district, school, gateway, channel, ...rest] = levels as [string, string, string, string, string, string, ...string[]];
  if (!district || !school || !gateway || !CHANNELS.has(channel)) return null;
  if (levels.some((l) => l === '+' || l === '#')) return null;
  if ((channel === 'telemetry' || channel === 'state' || channel === 'health' || channel === 'inventory' || channel === 'ticket') && rest.length > 0) return null;
  return { district, school, gateway, channel: channel as GatewayChannel, rest };
}
