import type { GatewayChannel, ParsedGatewayTopic } from '../../protocol/src/topics.ts';
import { toError } from '../../runtime/src/errors.ts';
import type { Identity } from './policy.ts';

export type GatewayIdentity = Identity & { kind: 'gateway' };

/** The channels a gateway publishes on (it only subscribes to `cmd`). */
/** What a gateway publishes: not its commands, its inventory nor its login ticket (the hub's). */
export type PublishChannel = Exclude<GatewayChannel, 'cmd' | 'inventory' | 'ticket'>;

/**
 * What becomes of a gateway's publish once its handler is done. MQTT 3.1.1 has no negative
 * PUBACK, so every verdict is acknowledged; a refusal is neither forwarded to subscribers
 * nor, for `refuse_unretained`, retained (a stale death must not replace the state in force).
 */
export type Verdict = 'accept' | 'refuse' | 'refuse_unretained';

export interface GatewayMessage {
  identity: GatewayIdentity;
  topic: ParsedGatewayTopic;
  payload: Buffer;
}

export type ChannelHandler = (msg: GatewayMessage) => Verdict | Promise<Verdict>;

/** One handler per channel: the hub's MQTT API in one typed map. */
export type DispatchTable = Readonly<Record<PublishChannel, ChannelHandler>>;

export type DispatchOutcome = { ok: true; verdict: Verdict } | { ok: false; error: Error };

/**
 * Runs the handler of a message's channel. A channel without a handler (unreachable for a
 * gateway: the ACL lets it publish only on its own channels) is refused; a handler that throws
 * or rejects gives an error outcome (the adapter fails the publish), never an exception.
 */
export async function dispatch(table: DispatchTable, msg: GatewayMessage): Promise<DispatchOutcome> {
  const channel = msg.topic.channel;
  const handler = Object.hasOwn(table, channel) ? table[channel as PublishChannel] : undefined;
  if (!handler) return { ok: true, verdict: 'refuse' };
  try {
    return { ok: true, verdict: await handler(msg) };
  } catch (e) {
    return { ok: false, error: toError(e) };
  }
}
